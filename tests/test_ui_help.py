"""`?`: the full-screen key list, the current step's keys first, each with its binding id."""

from __future__ import annotations

from test_ui_helpers import open_game_day, screen_text, settle

from console.ui.bindings import APP_BINDINGS
from console.ui.help import KeysScreen


def row_of(text: str, needle: str) -> int:
    """The screen line holding needle (the list is one table row per key)."""
    lines = text.splitlines()
    return next(i for i, line in enumerate(lines) if needle in line)


async def test_question_mark_lists_this_steps_keys_first_with_their_ids(tmp_path, monkeypatch):
    inv, app = open_game_day(tmp_path, monkeypatch)
    try:
        async with app.run_test(size=(100, 40)) as pilot:
            await settle(pilot)
            await pilot.press("c")  # confirm: Locate ranks, its table has the focus
            await settle(pilot)
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, KeysScreen)
            text = screen_text(app)
            # The step's console keys, then the table's navigation, then the keys that work
            # anywhere; each row says its binding id for keymap authors.
            here = row_of(text, "Locate: keys of this step")
            navigation = row_of(text, "Locate: moving in the focused table")
            anywhere = row_of(text, "Anywhere")
            assert here < navigation < anywhere
            run = text.splitlines()[row_of(text, "Run (or re-run) the current step")]
            assert run.split()[0] == "r" and run.rstrip().endswith("run")
            assert here < row_of(text, "Run (or re-run)") < navigation
            assert navigation < row_of(text, "Cursor down") < anywhere
            rows = {row.binding_id: row for sec in app.screen.sections for row in sec.rows}
            assert rows["palette"].keys == ": ^p"  # both keys that open the palette
            titles = [section.title for section in app.screen.sections]
            assert titles[:3] == [
                "Locate: keys of this step",
                "Locate: moving in the focused table or list",
                "Anywhere",
            ]
            assert "Step 1 Triage" in titles[3:]  # the other steps' keys follow, below
            # The pane's own keys (they have ids, so a keymap rebinds them) are this step's.
            pane_ids = {row.binding_id for row in app.screen.sections[0].rows}
            assert pane_ids - {binding.id for binding in APP_BINDINGS}

            await pilot.press("escape")
            assert not isinstance(app.screen, KeysScreen) and len(app.screen_stack) == 1
            await pilot.press("question_mark")
            assert isinstance(app.screen, KeysScreen)
            await pilot.press("question_mark")  # the key that opened it closes it
            assert len(app.screen_stack) == 1
    finally:
        inv.close()


async def test_the_key_list_scrolls_and_follows_the_keymap(tmp_path, monkeypatch):
    inv, app = open_game_day(tmp_path, monkeypatch)
    app.set_keymap({"run": "f5", "keys": "h"})
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("h")
            await pilot.pause()
            assert isinstance(app.screen, KeysScreen)
            text = screen_text(app)
            run = text.splitlines()[row_of(text, "Run (or re-run)")]
            assert run.split()[0] == "f5"  # the rebound key, not the default r
            scroll = app.screen.query_one("#keys-scroll")
            assert scroll.max_scroll_y > 0  # more keys than 24 lines: it scrolls
            await pilot.press("pagedown")
            await pilot.pause()
            assert scroll.scroll_y > 0
            await pilot.press("h")
            assert len(app.screen_stack) == 1
    finally:
        inv.close()
