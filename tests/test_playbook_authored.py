"""Every authored playbook in playbooks/*.toml loads and validates cleanly."""

from pathlib import Path

import pytest

from console.cli import main
from console.playbook.graph import ancestors_backward, build_graph
from console.playbook.loader import load_playbook

PLAYBOOKS = sorted((Path(__file__).resolve().parents[1] / "playbooks").glob("*.toml"))


def test_the_authored_playbooks_are_found():
    # The parametrized test below checks nothing when the glob matches nothing.
    assert {"credit.toml", "fraud.toml", "recommendations.toml"} <= {p.name for p in PLAYBOOKS}


@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: p.name)
def test_authored_playbook_checks_clean(path, capsys):
    assert main(["playbook", "check", str(path)]) == 0, capsys.readouterr().err
    playbook = load_playbook(path)
    # Walking back from the triage metric reaches at least one cause to investigate.
    assert ancestors_backward(build_graph(playbook), playbook.triage.metric)
