"""`investigate --tz`: the report's times in the zone asked for; an unknown zone is said
before anything runs; the machine's own zone changes nothing the run writes but its times."""

from __future__ import annotations

import os
import subprocess
import sys

from console.cli import main
from console.paths import scenario_dir

SCENARIO = scenario_dir("fraud-friday-noon")


def test_the_report_shows_its_times_in_the_zone_given(tmp_path):
    incident = tmp_path / "inc"
    argv = ["investigate", str(SCENARIO / "playbook.toml"), "--telemetry", str(SCENARIO)]
    assert main([*argv, "--incident-dir", str(incident), "--auto", "--tz", "Europe/Berlin"]) == 0
    report = (incident / "report.md").read_text()
    # scenario.toml's alert, 16:05Z, in Berlin's winter time.
    assert "| detected | 2026-11-13T17:05:00+01:00 |" in report


def test_an_unknown_zone_exits_2_before_the_incident_exists(tmp_path, capsys):
    incident = tmp_path / "inc"
    argv = ["investigate", str(SCENARIO / "playbook.toml"), "--telemetry", str(SCENARIO)]
    assert main([*argv, "--incident-dir", str(incident), "--auto", "--tz", "Mars/Olympus"]) == 2
    assert "time zone 'Mars/Olympus' is unknown" in capsys.readouterr().err
    assert not incident.exists()


def test_the_machines_zone_changes_no_evidence_file_and_no_figure(tmp_path):
    """The same run on a machine in UTC and on one in Asia/Kolkata (+05:30) writes the same
    bytes into every evidence file and every figure: the store's queries answer in UTC on
    each of its connections. Its cursors used to take the machine's zone, so evidence files
    were typed in it (other bytes, other hashes in the trail) and the metric figure's time
    axis was drawn in it. Subprocesses: DuckDB reads the machine's zone once per process."""
    written = {}
    for zone in ("UTC", "Asia/Kolkata"):
        incident = tmp_path / zone.replace("/", "-")
        done = subprocess.run(
            [sys.executable, "-m", "console", "investigate", str(SCENARIO / "playbook.toml"),
             "--telemetry", str(SCENARIO), "--incident-dir", str(incident), "--auto"],
            capture_output=True, text=True, env={**os.environ, "TZ": zone},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        files = sorted([*incident.glob("evidence/*"), *incident.glob("figures/*")])
        written[zone] = {f.relative_to(incident).as_posix(): f.read_bytes() for f in files}
    assert any(name.startswith("figures/metric") for name in written["UTC"])  # it drew
    assert sorted(written["UTC"]) == sorted(written["Asia/Kolkata"])
    differ = [n for n in written["UTC"] if written["UTC"][n] != written["Asia/Kolkata"][n]]
    assert differ == []
