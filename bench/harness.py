"""The benchmark harness's types, shared by bench/run.py and the bench_*.py modules (both
import this one module, so a Measured made by a benchmark is the runner's Measured)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Measured:
    """A timed function's own timing, for work interleaved with untimed work."""

    rows: int
    seconds: float


@dataclass(frozen=True)
class Reference:
    name: str  # what the reference does, e.g. "duckdb_scan_count_avg_by_hour"
    run: Callable[[Any], object]  # run(state): the reference's work, timed by the runner


@dataclass(frozen=True)
class Bench:
    name: str
    setup: Callable[[Context], Any]
    timed: Callable[[Any], int | Measured]
    reference: Reference | None = None
    # Its timed work and its reference run in the benchmark's own process (no server, JVM or
    # other venv), so their CPU time can be measured and is printed (bench/run.py).
    cpu: bool = False


@dataclass
class Context:
    rows: int  # decision rows in the large store
    store_root: Path  # bench/.store: benchmarks cache what they generate under it
    work: Path  # a scratch folder of the benchmark's own
    entries: int = 1_000_000  # entries of the large trail (bench_trail, bench_export)
    appends: int = 2_000  # appends of the append benchmarks
    log: Path | None = None  # where setup and timer events go (tests)
    timing: bool = field(default=False)  # True inside the timed region

    def event(self, event: str, what: str = "") -> None:
        """Record a setup step or a timer edge, with its time, in the log (when given)."""
        if self.log is None:
            return
        line = {"event": event, "what": what, "at": time.perf_counter(), "timing": self.timing}
        with open(self.log, "a") as f:
            f.write(json.dumps(line) + "\n")

    def setup(self, what: str) -> None:
        self.event("setup", what)

    def large_store(self, scenario: str = "fraud-friday-noon") -> Path:
        """The large game-day store, generated on first use and reused afterwards."""
        from console.gameday.generate import generate_scenario

        self.setup(f"large_store {scenario}")
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
