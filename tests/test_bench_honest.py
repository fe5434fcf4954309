"""Every benchmark times only what its name says: run bench/run.py with tiny sizes and check,
from its event log, that each benchmark's setup (generating or opening a store, opening an
investigation or a trail, building a trail) happened before its timer started, and that each
figure line carries the load average and, with --compare, a ratio to its reference (and, for
the engine's, whose work all runs in the benchmark's process, the CPU time of each).

scoring_http and spark_auto are left out: their setups start three model servers (about
a minute on 2 cores) and a JVM of their own (40-80 s); their timed regions are checked the same
way when bench/run.py --only scoring_http / --only spark runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LEFT_OUT = {"scoring_http", "spark_auto"}
# bench/ is not a package: its names are listed by its own runner, in a child process.
LIST = "import json, run; print(json.dumps([name for _, name in run.discover()]))"


@pytest.mark.slow
def test_no_timed_region_includes_setup(tmp_path):
    log = tmp_path / "events.jsonl"
    listed = subprocess.run(
        [sys.executable, "-c", LIST], capture_output=True, text=True, cwd=ROOT / "bench"
    )
    assert listed.returncode == 0, listed.stderr
    names = [name for name in json.loads(listed.stdout) if name not in LEFT_OUT]
    lines: list[dict] = []
    prefixes = ("engine", "gameday", "playbook", "score_logistic", "numeric_shift",
                "categorical_shift", "screen_", "telemetry", "trail", "report", "ui")  # fmt: skip
    for prefix in prefixes:
        done = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "run.py"), "--rows", "5000", "--entries",
             "300", "--appends", "10", "--store", str(tmp_path / "store"), "--log", str(log),
             "--compare", "--only", prefix],
            capture_output=True, text=True, timeout=600, cwd=ROOT,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        lines += [json.loads(line) for line in done.stdout.splitlines()]
    figures = {f["name"]: f for f in lines if f.get("name") in names}
    assert sorted(figures) == sorted(names), [f for f in lines if "error" in f]
    for f in figures.values():
        assert len(f["load"]) == 3 and "ratio" in f and f["reference"], f
        # The engine's work and its scan run in the benchmark's process: their CPU time shows.
        if f["name"].startswith("engine"):
            assert f["cpu_seconds"] > 0 and f["reference_cpu_seconds"] > 0, f

    events = [json.loads(line) for line in log.read_text().splitlines()]
    starts = [i for i, e in enumerate(events) if e["event"] == "timer_start"]
    assert sorted(events[i]["what"] for i in starts) == sorted(names)
    for i, start in enumerate(starts):
        name = events[start]["what"]
        stop = next(j for j in range(start, len(events)) if events[j]["event"] == "timer_stop")
        # Nothing is set up between the timer's start and stop...
        assert all(e["event"] != "setup" for e in events[start:stop]), name
        # ...and each benchmark logged its setup before its timer (gameday's too).
        before = events[(starts[i - 1] if i else -1) + 1 : start]
        assert any(e["event"] == "setup" for e in before), name
