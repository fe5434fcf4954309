"""The playbook's [changes.map] and [[alerts.map]] (console/playbook/intake_config.py): read in
order, and every problem reported by `playbook check` with its key."""

from __future__ import annotations

import pytest

from console.cli import main
from console.paths import scenario_dir
from console.playbook.loader import load_playbook

BASE = (scenario_dir("fraud-friday-noon") / "playbook.toml").read_text()


def test_mappings_are_read_in_playbook_order(tmp_path):
    path = tmp_path / "playbook.toml"
    path.write_text(
        BASE
        + '\n[changes.map]\n"b-*" = "raw_amount"\n"a" = "raw_ip_risk"\n'
        + '\n[[alerts.map]]\nmatch = {alertname = "X*", team = "risk"}\nmetric = "error_rate"\n'
        + '\n[[alerts.map]]\nmatch = {alertname = "Y"}\nmetric = "decline_rate"\n'
    )
    intake = load_playbook(path).intake
    assert intake.change_map == (("b-*", "raw_amount"), ("a", "raw_ip_risk"))
    assert [(r.match, r.metric, r.key) for r in intake.alert_routes] == [
        ((("alertname", "X*"), ("team", "risk")), "error_rate", "alerts.map[0]"),
        ((("alertname", "Y"),), "decline_rate", "alerts.map[1]"),
    ]


@pytest.mark.parametrize(
    ("snippet", "problem"),
    [
        ('[changes.map]\n"svc" = 3\n', 'changes.map."svc": expected a node id, got an integer (3)'),
        ("[changes]\nmapping = {}\n", 'changes.mapping: unknown key; did you mean "map"?'),
        (
            '[[alerts.map]]\nmetric = "decline_rate"\n',
            "alerts.map[0].match: required key is missing",
        ),
        ('[[alerts.map]]\nmatch = {}\nmetric = "decline_rate"\n', "alerts.map[0].match: must name"),
        (
            '[[alerts.map]]\nmatch = {alertname = "X"}\nmetric = "fraud_model"\n',
            'alerts.map[0].metric = "fraud_model": must name a node of kind metric, not model',
        ),
        (
            '[[alerts.map]]\nmatch = {alertname = "X"}\nmetric = "decline_rat"\n',
            'alerts.map[0].metric = "decline_rat": unknown node "decline_rat"; did you mean',
        ),
        (
            '[[alerts.map]]\nmatch = {severity = 1}\nmetric = "decline_rate"\n',
            "alerts.map[0].match.severity: expected a string, got an integer (1)",
        ),
        ("[alerts]\nmap = 3\n", "alerts.map: expected an array of tables ([[alerts.map]])"),
    ],
)
def test_playbook_check_names_each_problem(tmp_path, capsys, snippet, problem):
    path = tmp_path / "playbook.toml"
    path.write_text(BASE + "\n" + snippet)
    assert main(["playbook", "check", str(path)]) == 2
    assert problem in capsys.readouterr().err
