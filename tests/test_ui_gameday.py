"""Ending a game day with g, the report rewritten after grading, and the export's signature
check: on a copy of the bundled recs-metadata-format scenario, with a signing key set."""

from __future__ import annotations

import hashlib
import threading

from test_ui_helpers import open_game_day, screen_text, settle

from console.audit import Tail, read_entries
from console.ui.modals import ErrorModal


def report_hashes(incident) -> list[str]:
    """The sha256 of every evidence reference to report.md in the trail, oldest first."""
    return [
        ev.sha256 for e in read_entries(incident) for ev in e.evidence if ev.path == "report.md"
    ]


async def test_g_grades_a_rewritten_report_keeps_its_hash_and_export_checks_the_key(
    tmp_path, monkeypatch
):
    main = threading.main_thread()
    running = threading.Event()
    reads_on_ui_thread = []
    poll = Tail.poll

    def watched_poll(self):
        if running.is_set() and threading.current_thread() is main:
            reads_on_ui_thread.append(self.path)
        return poll(self)

    monkeypatch.setattr(Tail, "poll", watched_poll)
    monkeypatch.delenv("INCIDENT_CONSOLE_HMAC_KEY_FILE", raising=False)
    monkeypatch.setenv("INCIDENT_CONSOLE_HMAC_KEY", "the-team-key")
    inv, app = open_game_day(tmp_path, monkeypatch)  # the trail signs its head with the key
    incident = tmp_path / "inc"
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            running.set()
            await settle(pilot)  # triage runs on open
            await pilot.press("g")  # end the game day before any call: graded, not found
            await settle(pilot)
            assert app.step == "report" and app.graded
            assert "Root cause not found" in screen_text(app)
            grades = [e for e in read_entries(incident) if e.action == "grade"]
            assert len(grades) == 1 and grades[0].result["found"] is False
            assert grades[0].evidence == ()  # no report yet: nothing to hash

            await pilot.press("r")  # the report, written after grading, carries the grade
            await settle(pilot)
            assert "## Game day grade" in app.results["report"].markdown  # what the pane shows
            text = (incident / "report.md").read_bytes()
            assert b"## Game day grade" in text
            assert report_hashes(incident)[-1] == hashlib.sha256(text).hexdigest()

            await pilot.press("e")  # the key the trail was signed with: verifies
            await settle(pilot)
            assert "verifies ✓" in screen_text(app)
            exported = (incident / "exports" / "trail.md").read_text(encoding="utf-8")
            assert "verified, signature checked" in exported

            monkeypatch.setenv("INCIDENT_CONSOLE_HMAC_KEY", "another-key")
            await pilot.press("e")  # another key: the signature does not match, nothing exported
            await settle(pilot)
            assert isinstance(app.screen, ErrorModal)
            # (the trail's own MAC check or head.json's signature says it, whichever runs first)
            assert "does not match the key" in app.screen.message
            await pilot.pause(0.6)  # the tail's polling worker has run
    finally:
        inv.close()

    assert reads_on_ui_thread == []  # the trail is read by workers only
    actions = [(e.step, e.action) for e in read_entries(incident)]
    assert actions[-3:] == [("report", "write"), ("gameday", "grade"), ("report", "export")]
    exports = [e for e in read_entries(incident) if e.action == "export"]
    assert len(exports) == 1 and exports[0].result["verified"] is True
