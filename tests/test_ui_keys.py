"""Keys, the user keymap, the command palette and the error modal, on a real game day."""

from __future__ import annotations

import subprocess
import sys

import pytest
from test_ui_helpers import open_game_day, screen_text, settle

from console.errors import ConsoleError
from console.ui.modals import ErrorModal, NoteModal


async def test_user_keymap_rebinds_by_binding_id(tmp_path, monkeypatch):
    inv, app = open_game_day(tmp_path, monkeypatch)
    app.set_keymap({"note": "N", "step-locate": "l"})
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("l")
            assert app.step == "locate"
            await pilot.press("n")
            assert not isinstance(app.screen, NoteModal)
            await pilot.press("N")
            assert isinstance(app.screen, NoteModal)
            await pilot.press("escape")
            assert len(app.screen_stack) == 1
            assert " N Note" in screen_text(app)  # the footer shows the user's key
    finally:
        inv.close()


async def palette_found(pilot, title: str) -> None:
    """Wait until the palette's first match is `title` (it searches in the background)."""
    from textual.command import CommandList

    for _ in range(100):
        await pilot.pause(0.02)
        found = pilot.app.screen.query(CommandList)
        if (
            found
            and found.first().option_count
            and title in str(found.first().get_option_at_index(0).prompt)
        ):
            return
    raise AssertionError(f"the palette never offered {title!r}")


async def test_palette_jumps_to_a_step_and_tests_an_edge_by_node_name(tmp_path, monkeypatch):
    inv, app = open_game_day(tmp_path, monkeypatch)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("colon", *"go rep")
            await palette_found(pilot, "Go to Report")
            await pilot.press("enter")
            await pilot.pause()
            assert app.step == "report"
            await pilot.press("colon", *"on raw_item_dur")
            await palette_found(pilot, "Intervene on raw_item_duration_s")
            await pilot.press("enter")
            await settle(pilot)
            assert app.step == "intervene"
            assert app.edge == ("raw_item_duration_s", "f_log_duration")
            assert "shadow_recompute on" in screen_text(app)
    finally:
        inv.close()


async def test_an_external_shift_is_reachable_from_the_palette(tmp_path, monkeypatch):
    """The edge out of an external node has no planned intervention; it is still testable
    by name, and marking it external is the root-cause call the game day expects."""
    from console.audit import read_entries

    inv, app = open_game_day(tmp_path, monkeypatch, name="recs-saturday-evening")
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("c")
            await settle(pilot)
            await pilot.press("colon", *"ext_world")
            await palette_found(pilot, "Intervene on ext_world_events")
            await pilot.press("enter")
            await settle(pilot)
            assert app.step == "intervene"
            assert app.edge == ("ext_world_events", "raw_user_top_genre")
            await pilot.press("e")
            await settle(pilot)
        marks = [e for e in read_entries(inv.incident_dir) if e.action == "mark_edge"]
        assert marks[-1].params["edge"] == ["ext_world_events", "raw_user_top_genre"]
        assert marks[-1].params["mark"] == "external"
    finally:
        inv.close()


async def test_errors_end_in_one_copyable_modal_never_a_traceback_on_screen(tmp_path, monkeypatch):
    inv, app = open_game_day(tmp_path, monkeypatch)

    def bad_playbook():
        raise ConsoleError("playbook.toml: nodes[3].expr: column feat_x does not exist")

    def bug():
        raise RuntimeError("boom")

    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            monkeypatch.setattr(inv, "locate", bad_playbook)
            await pilot.press("c")
            await settle(pilot)
            assert isinstance(app.screen, ErrorModal)
            text = screen_text(app)
            assert "locate failed" in text and "nodes[3].expr: column feat_x" in text
            assert "Traceback" not in text
            await pilot.press("c")
            assert app.clipboard == "playbook.toml: nodes[3].expr: column feat_x does not exist"
            await pilot.press("escape")
            assert len(app.screen_stack) == 1

            monkeypatch.setattr(inv, "locate", bug)
            await pilot.press("2", "r")
            await settle(pilot)
            assert isinstance(app.screen, ErrorModal)
            assert "Unexpected error in locate" in screen_text(app)
            assert "RuntimeError: boom" in app.screen.message  # full details, to copy into an issue
            await pilot.press("enter")
            assert len(app.screen_stack) == 1 and app.running is None
    finally:
        inv.close()


async def test_ctrl_p_opens_the_command_palette_as_colon_does(tmp_path, monkeypatch):
    from textual.command import CommandPalette

    inv, app = open_game_day(tmp_path, monkeypatch)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("ctrl+p")
            await pilot.pause()
            assert CommandPalette.is_open(app)  # Textual had dropped its own ctrl+p
            await pilot.press(*"go rep")
            await palette_found(pilot, "Go to Report")
            await pilot.press("enter")
            await pilot.pause()
            assert app.step == "report"
            await pilot.press("colon")
            await pilot.pause()
            assert CommandPalette.is_open(app)
    finally:
        inv.close()


def test_a_key_given_to_two_bindings_that_apply_together_names_both_ids(tmp_path):
    from console.ui.bindings import BINDING_IDS
    from console.ui.keymap import load_keymap

    path = tmp_path / "keymap.toml"
    path.write_text('[keymap]\n"note" = "c"\n', encoding="utf-8")
    with pytest.raises(ConsoleError) as err:
        load_keymap(path, BINDING_IDS)
    message = str(err.value)
    assert str(path) in message
    # n works anywhere, so c is taken from Triage's confirm and Intervene's clear alike.
    assert '"triage-confirm" and "note" are both bound to c' in message
    assert '"mark-cleared" and "note" are both bound to c' in message

    path.write_text('[keymap]\n"keys" = "?"\n"note" = "question_mark"\n', encoding="utf-8")
    with pytest.raises(ConsoleError, match='"note" and "keys" are both bound to question_mark'):
        load_keymap(path, BINDING_IDS)
    path.write_text('[keymap]\n"note" = "v"\n', encoding="utf-8")  # a step pane's own key
    with pytest.raises(ConsoleError, match='"note" and "pane-detail" are both bound to v'):
        load_keymap(path, BINDING_IDS)
    path.write_text('[keymap]\n"note" = "enter"\n', encoding="utf-8")
    with pytest.raises(ConsoleError, match='"note" is bound to enter, which the focused table'):
        load_keymap(path, BINDING_IDS)
    # Keys of different steps never apply together: sharing one is fine, as the defaults do.
    path.write_text('[keymap]\n"export" = "b"\n"note" = "N"\n', encoding="utf-8")
    assert load_keymap(path, BINDING_IDS) == {"export": "b", "note": "N"}


def test_the_cli_refuses_a_colliding_keymap_before_anything_starts(tmp_path):
    keymap = tmp_path / "keymap.toml"
    keymap.write_text('[keymap]\n"quit" = "r"\n', encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "console",
            "gameday",
            "start",
            "recs-weekday-afternoon",
            "--keymap",
            str(keymap),
            "--incident-dir",
            str(tmp_path / "inc"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        timeout=60,  # a keymap that is not refused would start the app and wait for keys
    )
    assert done.returncode == 2
    assert str(keymap) in done.stderr and '"run" and "quit" are both bound to r' in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "inc").exists()


async def test_notices_name_the_keys_of_the_active_keymap(tmp_path, monkeypatch):
    inv, app = open_game_day(tmp_path, monkeypatch)
    with pytest.raises(ConsoleError, match='"run" and "note" are both bound to r'):
        app.set_keymap({"note": "r"})
    app.set_keymap({"mark-broken": "B", "mark-external": "E", "run": "f5"})
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("4", "f5")  # nothing marked broken yet
            await pilot.pause()
            notices = [n.message for n in app._notifications]
            assert "Mark the root-cause edge (B or E) in Intervene first" in notices
            await pilot.press("3", "f5")  # no edge picked yet
            await pilot.pause()
            notices = [n.message for n in app._notifications]
            assert "Pick an edge first: Locate (2) or the palette (:)" in notices
    finally:
        inv.close()
