"""Every bundled game-day scenario, investigated with --auto on a copy without its answer key.

The engine names the root cause from the telemetry and the playbook alone; only this test
reads the answer keys (through console.gameday.answers, from the bundled folders).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from console.audit import verify
from console.cli import main
from console.gameday.answers import ANSWER_FILE, load_answer

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"
SCENARIOS = sorted(p.name for p in SAMPLE_DATA.iterdir() if (p / "scenario.toml").is_file())


def test_every_scenario_is_covered():
    assert len(SCENARIOS) >= 7


@pytest.mark.parametrize("name", SCENARIOS)
def test_auto_names_the_answer_keys_root_cause(name, tmp_path, capsys):
    folder = tmp_path / name
    shutil.copytree(SAMPLE_DATA / name, folder, ignore=shutil.ignore_patterns(ANSWER_FILE))
    assert not (folder / ANSWER_FILE).exists()
    incident = tmp_path / "incident"
    out = tmp_path / "summary.json"
    code = main([
        "investigate", str(folder / "playbook.toml"), "--telemetry", str(folder),
        "--incident-dir", str(incident), "--auto", "--json", str(out), "--actor", "gameday-test",
    ])  # fmt: skip
    printed = capsys.readouterr()
    assert code == 0, printed.err
    summary = json.loads(out.read_text())
    answer = load_answer(SAMPLE_DATA / name)
    root = summary["root_cause"]
    if answer.kind == "false_alarm":
        assert summary["triage"]["verdict"] == "false_alarm"
        assert root is None
        assert not all(summary["triage"]["checks"].values())
    else:
        assert summary["triage"]["verdict"] == "confirmed"
        assert root is not None, summary["interventions"]
        assert root["kind"] == answer.kind
        assert root["node"] == answer.node
        assert tuple(root["edge"]) == answer.edge
    assert verify(incident).ok
    assert Path(summary["report"]).is_file()
    assert summary["trail_count"] == sum(1 for _ in (incident / "trail.jsonl").open())
    assert "report:" in printed.out
