"""The references figures are held against (bench/run.py --compare), each the physical limit
of what its benchmarks do: one DuckDB scan of the same Parquet, a plain fsync loop, sha256sum
of the same file, one pass over its lines."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from harness import Reference


def _decisions_glob(scenario: Path) -> str:
    # A game-day store's decisions are one file, or a folder of them in a large store.
    folder = scenario / "telemetry" if (scenario / "telemetry").is_dir() else scenario
    path = folder / "decisions.parquet"
    return str(path / "**" / "*.parquet") if path.is_dir() else str(path)


def duckdb_scan(scenario: Path) -> None:
    """One DuckDB scan of the store's decisions computing count and avg(score) by hour."""
    import duckdb

    con = duckdb.connect()
    con.sql(
        "SELECT date_trunc('hour', ts) AS h, count(*), avg(score) FROM read_parquet(?) GROUP BY h",
        params=[_decisions_glob(scenario)],
    ).fetchall()
    con.close()


def fsync_loop(folder: Path, lines: int, size: int) -> None:
    """`lines` lines of `size` bytes appended to a fresh file, one write and fsync each."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "plain.jsonl"
    path.unlink(missing_ok=True)
    line = b"x" * (size - 1) + b"\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        for _ in range(lines):
            os.write(fd, line)
            os.fsync(fd)
    finally:
        os.close(fd)
    path.unlink()


def sha256sum(path: Path) -> None:
    subprocess.run(["sha256sum", str(path)], check=True, capture_output=True)


def read_lines(path: Path) -> int:
    with open(path, "rb", buffering=1 << 20) as f:
        return sum(1 for _ in f)


# The store's reference, for benchmarks whose state has a .scenario
SCAN = Reference("duckdb_scan_count_avg_by_hour", lambda state: duckdb_scan(state.scenario))
