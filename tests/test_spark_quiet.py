"""Spark local mode prints nothing on the console's terminal (console/telemetry/spark_session.py).

A JVM started the way pyspark starts it writes its launcher warning ("Using incubator
modules"), Spark's "Setting default log level" lines and log4j WARN lines to the stderr it
inherits: the terminal `investigate` and the UI draw on. This runs `investigate --auto` on a
bundled scenario in a process of its own (a JVM of its own: the test session's Spark is already
up) on both engines, and the Spark run's stderr must be DuckDB's: our own lines only.

Cost: one JVM start and 13 queries (fraud-sunday-night, a false alarm: the smallest bundled
investigation), 15-25 s on an idle two-core machine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from test_spark_store import scenario_on

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = "fraud-sunday-night"


def test_investigate_on_spark_writes_only_our_own_lines_to_stderr(tmp_path):
    outputs = {}
    for engine in ("duckdb", "spark"):
        folder = scenario_on(engine, SCENARIO, tmp_path / engine)
        done = subprocess.run(
            [sys.executable, "-m", "console", "investigate", str(folder / "playbook.toml"),
             "--telemetry", str(folder), "--incident-dir", str(tmp_path / f"inc-{engine}"),
             "--auto", "--actor", "t"],
            capture_output=True, text=True, timeout=600, cwd=ROOT,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        outputs[engine] = done
    assert outputs["spark"].stderr == outputs["duckdb"].stderr
    assert "root cause: none (false alarm)" in outputs["spark"].stdout
