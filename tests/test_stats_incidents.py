"""`incident-console stats`: the audit measured from the trails of real incident folders.

The folders are written by the engine itself: `investigate --auto` on two bundled scenarios
(a broken edge whose proposed graph update is then accepted, and a false alarm), plus a copy
of one whose trail is then tampered with, which must not be counted.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from console.cli import main
from console.engine.auto import run_auto
from console.engine.investigation import Investigation

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def test_stats_reads_every_incident_folder_per_model_and_month(tmp_path: Path, capsys) -> None:
    root = tmp_path / "incidents"
    fraud = SAMPLE / "fraud-friday-noon"
    playbook = tmp_path / "fraud.toml"  # accepting the update rewrites the playbook: a copy
    shutil.copy(fraud / "playbook.toml", playbook)
    with Investigation.open(playbook, fraud, root / "a-broken") as inv:
        summary = run_auto(inv)
        assert summary["root_cause"]["edge"] == ["raw_card_age_days", "f_card_age"]
        assert inv.decide_proposal(True) is not None
    quiet = SAMPLE / "fraud-sunday-night"
    argv = ["investigate", str(quiet / "playbook.toml"), "--telemetry", str(quiet), "--auto"]
    assert main([*argv, "--incident-dir", str(root / "b-false-alarm")]) == 0
    shutil.copytree(root / "b-false-alarm", root / "c-tampered")
    trail = root / "c-tampered" / "trail.jsonl"
    trail.write_text(trail.read_text().replace('"false_alarm"', '"confirmed"', 1))
    (root / "not-an-incident").mkdir()
    capsys.readouterr()

    assert main(["stats", str(root), "--json", str(tmp_path / "stats.json")]) == 0
    out = capsys.readouterr().out
    stats = json.loads((tmp_path / "stats.json").read_text())

    assert stats["unverified"] == ["c-tampered"]
    every = stats["all"]
    assert every["incidents"] == 2
    assert every["root_causes_found"] == 1
    assert every["false_alarm_share"] == 0.5
    assert every["finished_report_share"] == 1.0
    assert every["graph_updates_accepted"] == 1
    assert every["median_minutes_to_root_cause"] >= 0
    assert list(stats["per_model"]) == ["card-fraud-scorer"]
    assert list(stats["per_month"]) == ["2026-11"]
    broken = next(i for i in stats["incidents"] if i["folder"] == "a-broken")
    assert broken["accepted_updates"] == 1 and broken["false_alarm"] is False
    assert "card-fraud-scorer  2026-11" in out
    assert "not counted (trail does not verify): c-tampered" in out


def test_stats_on_a_folder_without_incidents_is_an_error(tmp_path: Path, capsys) -> None:
    assert main(["stats", str(tmp_path)]) == 2
    assert "no incident folder" in capsys.readouterr().err
