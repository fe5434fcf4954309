"""Accepting a playbook update survives a kill at any point: the trail records the intent
before the authored playbook is replaced, and the next open settles an intent left without an
outcome from what the authored file holds. A real child process SIGKILLs itself at the named
point (the INCIDENT_CONSOLE_CRASH_AT hook of console/engine/investigation.py)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_engine_steps import ALERT, build_toy

from console.audit import read_entries, verify
from console.engine.investigation import Investigation
from console.errors import ConsoleError

CRASH_AT_ENV = "INCIDENT_CONSOLE_CRASH_AT"  # the documented test hook

CHILD = """
import sys
from datetime import datetime
from pathlib import Path
from console.engine.investigation import Investigation
from console.errors import ConsoleError

toy, incident, alert = Path(sys.argv[1]), Path(sys.argv[2]), datetime.fromisoformat(sys.argv[3])
with Investigation.open(toy / "playbook.toml", toy, incident, alert_at=alert) as inv:
    inv.intervene(("raw_x", "f_x"))
    inv.mark_edge(("raw_x", "f_x"), "broken")
    inv.validate()
    inv.decide_proposal(True)
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def accept_in_child(tmp_path: Path, crash_at: str | None) -> tuple[Path, Path, int]:
    toy = build_toy(tmp_path / "telemetry")
    incident = tmp_path / "inc"
    env = {k: v for k, v in os.environ.items() if k != CRASH_AT_ENV}
    if crash_at:
        env[CRASH_AT_ENV] = crash_at
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(toy), str(incident), ALERT.isoformat()],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return toy, incident, done.returncode


def test_an_accept_runs_intent_then_confirmation(tmp_path):
    toy, incident, code = accept_in_child(tmp_path, None)
    assert code == 0
    entries = list(read_entries(incident))
    intent, confirmed = entries[-2], entries[-1]
    assert (intent.step, intent.action) == ("validate", "accept_intent")
    assert intent.params["authored_sha256_after"] == sha256(toy / "playbook.toml")
    assert intent.params["proposed_sha256"] == sha256(incident / "playbook.proposed.toml")
    assert (confirmed.step, confirmed.action) == ("validate", "accept_proposal")
    assert confirmed.params["intent"] == intent.seq


@pytest.mark.parametrize(
    ("crash_at", "settled", "replaced"),
    [("accept_replaced", "accept_proposal", True), ("accept_intent", "accept_interrupted", False)],
)
def test_a_kill_between_intent_and_confirmation_is_settled_on_open(
    tmp_path, crash_at, settled, replaced
):
    toy, incident, code = accept_in_child(tmp_path, crash_at)
    assert code == -signal.SIGKILL
    authored = toy / "playbook.toml"
    intent = list(read_entries(incident))[-1]
    assert (intent.step, intent.action) == ("validate", "accept_intent")
    expected = intent.params["authored_sha256_after" if replaced else "authored_sha256_before"]
    assert sha256(authored) == expected

    with Investigation.open(authored, toy, incident, alert_at=ALERT):
        pass
    entries = list(read_entries(incident))
    outcome = entries[-1]
    assert (entries[-2].step, entries[-2].action) == ("session", "open")
    assert (outcome.step, outcome.action) == ("validate", settled)
    assert outcome.params["intent"] == intent.seq
    if replaced:
        assert "the accept happened" in outcome.result["recovered"]
        backup = Path(outcome.result["backup"])
        assert sha256(backup) == intent.params["authored_sha256_before"]
    else:
        assert outcome.result["outcome"] == (
            "the authored playbook is unchanged: the accept did not happen"
        )
    # Settled once: a further open adds nothing about the accept.
    with Investigation.open(authored, toy, incident, alert_at=ALERT):
        pass
    last = list(read_entries(incident))[-1]
    assert (last.step, last.action) == ("session", "open")
    assert verify(incident).ok


def test_a_refused_accept_closes_its_intent_and_leaves_the_validation_standing(tmp_path):
    toy = build_toy(tmp_path / "telemetry")
    incident = tmp_path / "inc"
    authored = toy / "playbook.toml"
    with Investigation.open(authored, toy, incident, alert_at=ALERT) as inv:
        inv.intervene(("raw_x", "f_x"))
        inv.mark_edge(("raw_x", "f_x"), "broken")
        inv.validate()
        authored.write_text(authored.read_text() + "\n# edited by hand meanwhile\n")
        with pytest.raises(ConsoleError, match="changed since the proposal was made"):
            inv.decide_proposal(True)
        assert inv.failures == {}
    entries = list(read_entries(incident))
    intent, refused = entries[-2], entries[-1]
    assert (intent.action, refused.action) == ("accept_intent", "accept_failed")
    assert refused.params["intent"] == intent.seq
    assert "changed since the proposal was made" in refused.result["error"]
    with Investigation.open(authored, toy, incident, alert_at=ALERT):
        pass
    last = list(read_entries(incident))[-1]
    assert (last.step, last.action) == ("session", "open")
