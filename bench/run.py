"""Run the benchmarks and print one JSON line of figures per benchmark.

    python bench/run.py                      # every benchmark, 10 million decision rows
    python bench/run.py --rows 1000000 --only trail
    python bench/run.py --only engine --compare    # each figure's ratio to its reference

Each bench/bench_*.py module defines BENCHMARKS: a list of Bench(name, setup, timed,
reference). setup(ctx) prepares everything the figure's name does not say (generating or
opening a store, opening an investigation, building a trail) and returns a state; only
timed(state) is timed, and it returns the rows (or entries) its figure counts: the rows the
store holds, not a window's. A timed function whose work is interleaved with untimed work
(ui_tail_poll polls between appends) returns Measured(rows, seconds) with its own timing.
setup returns None when there is nothing to measure (a cached store already there).

Every line carries the machine's load average (1, 5 and 15 minutes) at the end of the timed
region: the machine is shared, so compare figures through ratios measured in one run. A
benchmark whose work, and its reference's, runs in the child itself (Bench.cpu: the engine's)
also prints cpu_seconds, the CPU time (user and system) the child spent in the timed region,
and reference_cpu_seconds: against the wall time it says how many cores the work kept busy, and
against the reference's how much work it did. Others leave it out: their work runs partly in
processes the child does not wait for (model servers, a JVM, Evidently's venv), whose CPU time
it cannot see. With
--compare, reference(state) - the physical limit the figure is held against (one DuckDB scan
of the same Parquet, a plain fsync loop, sha256sum of the same file) - runs in the same child
right after the timed region and the line gains reference, reference_seconds and ratio.

Every benchmark runs in a child process of its own so that its peak memory (max RSS, of the
child or of the largest process it started, such as verify's workers) is its own. The child
logs {"event": "setup"|"timer_start"|"timer_stop", "at": ...} to --log when given: the tests
check that each setup precedes the timer (tests/test_bench_honest.py).

The large store is generated once into bench/.store/<rows> and reused by later runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

from harness import Context, Measured, emit

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def discover() -> list[tuple[str, str]]:
    found = []
    for path in sorted(BENCH_DIR.glob("bench_*.py")):
        module = load(path)
        found += [(path.name, bench.name) for bench in module.BENCHMARKS]
    return found


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _peak_mib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest child
    return round(max(own, children) / 1024, 1)


def _cpu() -> float:
    """CPU seconds (user and system) of this process, to the microsecond (os.times counts
    clock ticks, 10 ms: a tiny store's scan can take less)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_one(filename: str, name: str, ctx: Context, compare: bool, queue) -> None:
    sys.path.insert(0, str(ROOT))
    module = load(BENCH_DIR / filename)
    bench = {b.name: b for b in module.BENCHMARKS}[name]
    state = bench.setup(ctx)
    if state is None:
        queue.put(None)
        return
    ctx.timing = True
    ctx.event("timer_start", name)
    cpu = _cpu()
    started = time.perf_counter()
    answer = bench.timed(state)
    seconds = time.perf_counter() - started
    cpu = _cpu() - cpu
    ctx.event("timer_stop", name)
    ctx.timing = False
    load_now = load_average()
    if isinstance(answer, Measured):
        rows, seconds = answer.rows, answer.seconds
    else:
        rows = answer
    figures: dict[str, Any] = {
        "name": name,
        "rows": rows,
        "seconds": round(seconds, 4),
        "rows_per_second": round(rows / seconds) if seconds else None,
        "peak_mib": _peak_mib(),
        "load": load_now,
    }
    if bench.cpu:
        figures["cpu_seconds"] = round(cpu, 3)
    if compare and bench.reference is not None:
        cpu = _cpu()
        started = time.perf_counter()
        bench.reference.run(state)
        reference = time.perf_counter() - started
        figures |= {
            "reference": bench.reference.name,
            "reference_seconds": round(reference, 4),
            "ratio": round(seconds / reference, 2) if reference else None,
            "reference_load": load_average(),
        }
        if bench.cpu:
            figures["reference_cpu_seconds"] = round(_cpu() - cpu, 3)
    queue.put(figures)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=10_000_000, help="decision rows in the large store"
    )
    parser.add_argument("--entries", type=int, default=1_000_000, help="entries of the trail")
    parser.add_argument("--appends", type=int, default=2_000, help="appends per append figure")
    parser.add_argument("--only", default="", help="run benchmarks whose name contains this")
    parser.add_argument(
        "--compare", action="store_true", help="also time each figure's reference: ratio"
    )
    parser.add_argument(
        "--store", type=Path, default=BENCH_DIR / ".store", help="where stores are kept"
    )
    parser.add_argument("--log", type=Path, default=None, help="setup and timer events (tests)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    mp = multiprocessing.get_context("spawn")
    for filename, name in discover():
        if args.only and args.only not in name:
            continue
        work = args.store / "work" / name
        work.mkdir(parents=True, exist_ok=True)
        ctx = Context(
            rows=args.rows,
            store_root=args.store,
            work=work,
            entries=args.entries,
            appends=args.appends,
            log=args.log,
        )
        queue = mp.Queue()
        child = mp.Process(target=run_one, args=(filename, name, ctx, args.compare, queue))
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
