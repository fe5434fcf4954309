"""`investigate --tz`: the report's times in the zone asked for; an unknown zone is said
before anything runs."""

from __future__ import annotations

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
