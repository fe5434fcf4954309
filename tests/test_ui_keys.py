"""Keys, the user keymap, the command palette and the error modal, on a real game day."""

from __future__ import annotations

from test_ui_helpers import open_game_day, screen_text, settle

from console.errors import ConsoleError
from console.ui.modals import ErrorModal, PromptModal


async def test_user_keymap_rebinds_by_binding_id(tmp_path, monkeypatch):
    inv, app = open_game_day(tmp_path, monkeypatch)
    app.set_keymap({"note": "N", "step-locate": "l"})
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("l")
            assert app.step == "locate"
            await pilot.press("n")
            assert not isinstance(app.screen, PromptModal)
            await pilot.press("N")
            assert isinstance(app.screen, PromptModal)
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

    inv, app = open_game_day(tmp_path, monkeypatch, name="recs-external-shift")
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
