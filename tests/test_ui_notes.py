"""Notes: several lines, saved with enter / ctrl+s / the button, never lost to a stray esc."""

from __future__ import annotations

from test_ui_helpers import open_game_day, screen_text, settle

from console.audit import read_entries
from console.ui.modals import ConfirmModal, NoteArea, NoteModal


def notes(tmp_path) -> list[str]:
    return [e.params["text"] for e in read_entries(tmp_path / "inc") if e.action == "note"]


async def wait_for_note(pilot, tmp_path, count: int) -> None:
    """The note's own worker appends it; wait until the trail holds `count` notes."""
    for _ in range(100):
        await pilot.pause(0.02)
        if len(notes(tmp_path)) == count and not any(w.is_running for w in pilot.app.workers):
            return
    raise AssertionError(f"the trail holds {notes(tmp_path)}")


async def test_a_note_of_several_lines_is_stored_with_its_newlines(tmp_path, monkeypatch):
    inv, app = open_game_day(tmp_path, monkeypatch)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("n", *"paged by streamco", "ctrl+j", *"ctr down in EU only")
            assert isinstance(app.screen, NoteModal)
            assert app.screen.query_one(NoteArea).text == "paged by streamco\nctr down in EU only"
            await pilot.press("ctrl+s")
            await wait_for_note(pilot, tmp_path, 1)
            assert len(app.screen_stack) == 1
            assert notes(tmp_path) == ["paged by streamco\nctr down in EU only"]
            # The trail tail keeps one line per entry (its summary joins the note's lines).
            assert "streamco ctr down in EU only" in screen_text(app)

            await pilot.press("n", *"the save button")
            await pilot.click("#note-save-button")
            await wait_for_note(pilot, tmp_path, 2)
            assert notes(tmp_path)[-1] == "the save button"
    finally:
        inv.close()


async def test_esc_on_a_written_note_asks_before_dropping_it(tmp_path, monkeypatch):
    inv, app = open_game_day(tmp_path, monkeypatch)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("n", *"half a thought", "escape")
            assert isinstance(app.screen, ConfirmModal)  # not dropped: asked
            assert "Discard this note?" in screen_text(app)
            await pilot.press("escape")  # keep editing
            assert isinstance(app.screen, NoteModal)
            assert app.screen.query_one(NoteArea).text == "half a thought"
            await pilot.press(*", finished", "enter")
            await wait_for_note(pilot, tmp_path, 1)
            assert notes(tmp_path) == ["half a thought, finished"]

            await pilot.press("n", *"never mind", "escape", "y")  # discard, on purpose
            await pilot.pause()
            assert len(app.screen_stack) == 1
            await pilot.press("n", "escape")  # an empty note closes at once
            await pilot.pause()
            assert len(app.screen_stack) == 1
            await settle(pilot)
            assert notes(tmp_path) == ["half a thought, finished"]
    finally:
        inv.close()
