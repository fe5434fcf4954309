"""Run the benchmarks and print one JSON line of figures per benchmark.

    python bench/run.py                      # every benchmark, 10 million decision rows
    python bench/run.py --rows 1000000 --only trail

Each bench/bench_*.py module defines BENCHMARKS: a list of (name, function) where the function
takes a Context and returns the number of rows (or entries) it processed, or None when there
was nothing to measure (a cached store already there): then no line is printed. Every benchmark runs
in a child process of its own so that its peak memory (max RSS) is its own.

The large store is generated once into bench/.store/<rows> and reused by later runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent


@dataclass(frozen=True)
class Context:
    rows: int  # decision rows in the large store
    store_root: Path  # bench/.store: benchmarks cache what they generate under it
    work: Path  # a scratch folder of the benchmark's own

    def large_store(self, scenario: str = "fraud-friday-noon") -> Path:
        """The large game-day store, generated on first use and reused afterwards."""
        from console.gameday.generate import generate_scenario

        out = self.store_root / f"{scenario}-{self.rows}"
        if not (out / "scenario.toml").exists():
            started = time.perf_counter()
            generate_scenario(scenario, out, rows=self.rows, seed=7)
            seconds = time.perf_counter() - started
            size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
            emit(
                {
                    "name": "generate_store",
                    "scenario": scenario,
                    "rows": self.rows,
                    "seconds": round(seconds, 3),
                    "rows_per_second": round(self.rows / seconds),
                    "bytes": size,
                }
            )
        return out


def emit(figures: dict) -> None:
    print(json.dumps(figures), flush=True)


def discover() -> list[tuple[str, str]]:
    found = []
    for path in sorted(BENCH_DIR.glob("bench_*.py")):
        module = load(path)
        found += [(path.name, name) for name, _ in module.BENCHMARKS]
    return found


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_one(filename: str, name: str, ctx: Context, queue) -> None:
    sys.path.insert(0, str(ROOT))
    module = load(BENCH_DIR / filename)
    func = dict(module.BENCHMARKS)[name]
    started = time.perf_counter()
    rows = func(ctx)
    seconds = time.perf_counter() - started
    if rows is None:
        queue.put(None)
        return
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(
        {
            "name": name,
            "rows": rows,
            "seconds": round(seconds, 4),
            "rows_per_second": round(rows / seconds) if seconds else None,
            "peak_mib": round(peak_mib, 1),
        }
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=10_000_000, help="decision rows in the large store"
    )
    parser.add_argument("--only", default="", help="run benchmarks whose name contains this")
    parser.add_argument(
        "--store", type=Path, default=BENCH_DIR / ".store", help="where stores are kept"
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    mp = multiprocessing.get_context("spawn")
    for filename, name in discover():
        if args.only and args.only not in name:
            continue
        work = args.store / "work" / name
        work.mkdir(parents=True, exist_ok=True)
        ctx = Context(rows=args.rows, store_root=args.store, work=work)
        queue = mp.Queue()
        child = mp.Process(target=run_one, args=(filename, name, ctx, queue))
        child.start()
        child.join()
        if child.exitcode != 0:
            emit({"name": name, "error": f"exit status {child.exitcode}"})
            continue
        figures = queue.get()
        if figures is not None:
            emit(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
