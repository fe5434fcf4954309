"""Ending a game day with g, the report rewritten after grading, the export's signature
check, the story (S) and the clock that stops at grading: on a copy of the bundled
recs-weekday-afternoon scenario."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from test_ui_helpers import SCENARIO, fixed_clock, open_game_day, screen_text, settle

from console.audit import Tail, read_entries
from console.engine.investigation import Investigation
from console.ui.app import GameDay, IncidentApp
from console.ui.bindings import clashes
from console.ui.detail import DetailScreen
from console.ui.format import fmt_elapsed
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


def reopen(tmp_path: Path, name: str = SCENARIO):
    """(Investigation, IncidentApp) on the scenario copy and incident folder open_game_day
    made (the clock and thread patches it set still hold)."""
    inv = Investigation.open(
        Path("scenarios") / name / "playbook.toml", Path("scenarios") / name, Path("inc")
    )
    app = IncidentApp(inv, gameday=GameDay(name, tmp_path / "scenarios" / name), clock=fixed_clock)
    return inv, app


async def test_s_shows_the_scenarios_title_and_story_as_typed(tmp_path, monkeypatch):
    inv, _ = open_game_day(tmp_path, monkeypatch)
    inv.close()
    # The story is data: markup and an escape in it show as typed.
    toml = tmp_path / "scenarios" / SCENARIO / "scenario.toml"
    lines = toml.read_text(encoding="utf-8").splitlines()
    story = 'story = "Checkout [b]slow[/b] since \\u001b[31m noon; find why."'
    toml.write_text(
        "\n".join(story if line.startswith("story =") else line for line in lines) + "\n",
        encoding="utf-8",
    )
    inv, app = reopen(tmp_path)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("S")  # the old console had no such key: no DetailScreen
            await pilot.pause()
            assert isinstance(app.screen, DetailScreen)
            shown = screen_text(app)
            assert "Home feed: click-through down a quarter" in shown  # the scenario's title
            assert "Checkout [b]slow[/b] since \\x1b[31m noon; find why." in shown
            assert "metric  ctr" in shown  # the metric the alert is about
            await pilot.press("escape")
            assert len(app.screen_stack) == 1
    finally:
        inv.close()


def test_the_story_key_collides_with_a_step_key_given_the_same_key():
    # `story` works anywhere, so giving it Validate's s is a collision naming both ids.
    assert clashes({}) == []
    assert clashes({"story": "s"}) == ['"postfix-start" and "story" are both bound to s (Validate)']


async def test_the_clock_stops_at_grading_and_a_reopened_game_shows_the_final_time(
    tmp_path, monkeypatch
):
    inv, app = open_game_day(tmp_path, monkeypatch)
    incident = tmp_path / "inc"
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            # The app's clock stands five minutes into the game: before grading it shows.
            started = next(iter(read_entries(incident))).time
            running = fmt_elapsed(fixed_clock() - started)
            assert f"game day {running}" in screen_text(app)
            await pilot.press("g")
            await settle(pilot)
            grade = next(e for e in read_entries(incident) if e.action == "grade")
            final = fmt_elapsed(grade.time - started)
            assert final != running
            # The old header kept running with the app's clock: it still showed `running`.
            assert f"game day {final}" in screen_text(app)
    finally:
        inv.close()

    inv, app = reopen(tmp_path)  # a finished game reopened
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            assert f"game day {final}" in screen_text(app)
            await pilot.press("6", "r")  # a report written later grades again: the game ended
            await settle(pilot)  # at its first grading all the same
            assert len([e for e in read_entries(incident) if e.action == "grade"]) == 2
            assert f"game day {final}" in screen_text(app)
    finally:
        inv.close()
