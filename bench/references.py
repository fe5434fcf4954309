"""The references figures are held against (bench/run.py --compare), each the physical limit
of what its benchmarks do: one DuckDB scan of the same Parquet, a plain fsync loop, sha256sum
of the same file, one pass over its lines; or the peer a figure is compared with: Evidently's
DataDriftPreset on the same data (EvidentlyDrift).

Evidently is not a project dependency: it lives in a venv of its own, for the bench only
(`python3 -m venv .venv-bench && .venv-bench/bin/pip install evidently "pandas<3" pyarrow`;
evidently 0.7 does not import with pandas 3). Without it the drift figure is held against
scipy's functions per column instead (scipy_per_column), and its line says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from harness import Reference

ROOT = Path(__file__).resolve().parent.parent
BENCH_VENV = ROOT / ".venv-bench"


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


def evidently_python() -> Path | None:
    """The bench venv's python when Evidently is installed there, else None."""
    python = BENCH_VENV / "bin" / "python"
    found = list((BENCH_VENV / "lib").glob("python*/site-packages/evidently"))
    return python if python.exists() and found else None


class EvidentlyDrift:
    """Evidently's DataDriftPreset in a process of its own (the bench venv's python), started
    with the data loaded and the two datasets built, so that run() times only the preset's
    run: it asks the process to run the report once and waits for its answer."""

    def __init__(self, python: Path, path: Path, numeric: list[str], categorical: list[str]):
        spec = json.dumps({"path": str(path), "numeric": numeric, "categorical": categorical})
        self.process = subprocess.Popen(
            [str(python), str(Path(__file__).resolve()), "evidently", spec],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._expect("ready")

    def _expect(self, word: str) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith(word):
            raise RuntimeError(f"evidently process: expected {word!r}, got {line!r}")
        return line

    def run(self) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        return self._expect("done")


def _evidently_serve(spec_json: str) -> None:
    """In the bench venv: load the data, build Evidently's datasets, then run the preset once
    per "go" line on stdin, answering "done <seconds> <drift values as JSON>"."""
    import pyarrow.parquet as pq
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    spec = json.loads(spec_json)
    frame = pq.read_table(spec["path"]).to_pandas()
    definition = DataDefinition(
        numerical_columns=spec["numeric"], categorical_columns=spec["categorical"]
    )
    reference, current = (
        Dataset.from_pandas(
            frame[frame.side == side].drop(columns="side"), data_definition=definition
        )
        for side in ("baseline", "incident")
    )
    print("ready", flush=True)
    for _ in sys.stdin:
        started = time.perf_counter()
        snapshot = Report([DataDriftPreset()]).run(current, reference)
        seconds = time.perf_counter() - started
        values = {
            str(m.get("metric_id")): m.get("value")
            for m in snapshot.dict()["metrics"]
            if "ValueDrift" in str(m.get("metric_id"))
        }
        print("done", round(seconds, 4), json.dumps(values), flush=True)


def scipy_drift(numeric: dict, categorical: dict) -> None:
    """scipy's KS, Wasserstein, chi-squared and Jensen-Shannon per column, on numpy arrays
    already split by side: the reference when Evidently is not installed."""
    import numpy as np
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    for base, inc in numeric.values():
        stats.ks_2samp(base, inc)
        stats.wasserstein_distance(base, inc)
    for base, inc in categorical.values():
        labels = np.union1d(base, inc)
        table = [[int(np.sum(values == label)) for label in labels] for values in (base, inc)]
        stats.chi2_contingency(table, correction=False)
        jensenshannon(table[0], table[1], base=2)


if __name__ == "__main__" and sys.argv[1:2] == ["evidently"]:
    _evidently_serve(sys.argv[2])
