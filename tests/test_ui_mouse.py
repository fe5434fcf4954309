"""The mouse, and the config file as the running console reads it: the step rail and the
candidate list answer clicks; the theme chosen is saved; times are shown in the config's zone."""

from __future__ import annotations

import tomllib
from pathlib import Path

from rich.cells import cell_len
from test_ui_helpers import fixed_clock, open_game_day, screen_text, settle
from test_ui_keys import palette_found
from textual.widgets import Static

from console.config import load_config
from console.ui.widgets.rail import StepRail


def rail_offset(app, number: int) -> tuple[int, int]:
    """Where step `number`'s label is drawn in the rail (x, y), read from what it renders."""
    rail = app.query_one(StepRail)
    lines = rail.render().plain.split("\n")
    for y, line in enumerate(lines):
        for marker in (f" {number} ", f"{number} "):
            at = line.find(marker)
            if at > 0:
                # Offsets are from the widget's edge; the text starts inside its padding.
                inset = rail.content_region.offset - rail.region.offset
                return cell_len(line[: at + 1]) + inset.x, y + inset.y
    raise AssertionError(f"step {number} is not on the rail: {lines}")


async def test_clicking_a_step_on_the_narrow_rail_shows_it(tmp_path, monkeypatch):
    inv, app = open_game_day(tmp_path, monkeypatch)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert app.step == "triage"
            assert app.query_one(StepRail).size.height == 1  # one line at 80 columns
            assert await pilot.click(StepRail, offset=rail_offset(app, 6))
            await pilot.pause()
            assert app.step == "report"  # old code: the rail ignored clicks, still triage
            assert await pilot.click(StepRail, offset=rail_offset(app, 2))
            await pilot.pause()
            assert app.step == "locate"
    finally:
        inv.close()


async def test_clicking_a_step_on_the_wide_rail_column_shows_it(tmp_path, monkeypatch):
    inv, app = open_game_day(tmp_path, monkeypatch)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            assert app.query_one(StepRail).size.height > 1  # the column from 110 columns
            assert await pilot.click(StepRail, offset=rail_offset(app, 5))
            await pilot.pause()
            assert app.step == "validate"
    finally:
        inv.close()


async def test_a_click_highlights_a_candidate_and_a_second_click_tests_it(tmp_path, monkeypatch):
    """DataTable's own behaviour, which Locate relies on: a click on a row moves the cursor
    there; a click on the highlighted cell selects it, as enter does."""
    from textual.widgets import DataTable

    inv, app = open_game_day(tmp_path, monkeypatch)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("c")  # confirm: Locate runs
            await settle(pilot)
            assert app.step == "locate"
            table = app.query_one("#locate-candidates", DataTable)
            assert table.row_count >= 2
            row = table.cursor_row + 1
            # y: the header is row 0 of the widget.
            await pilot.click(table, offset=(2, row + 1))
            await pilot.pause()
            assert table.cursor_row == row
            assert app.step == "locate"  # one click only highlights
            await pilot.click(table, offset=(2, row + 1))
            await settle(pilot)
            assert app.step == "intervene"
            assert app.edge is not None
            assert f"{app.edge[0]} -> {app.edge[1]}" in screen_text(app)
    finally:
        inv.close()


async def test_a_double_click_on_a_candidate_tests_it(tmp_path, monkeypatch):
    from textual.widgets import DataTable

    inv, app = open_game_day(tmp_path, monkeypatch)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("c")
            await settle(pilot)
            table = app.query_one("#locate-candidates", DataTable)
            row = table.cursor_row + 1
            await pilot.double_click(table, offset=(2, row + 1))
            await settle(pilot)
            assert app.step == "intervene"
            cells = " ".join(str(cell) for cell in table.get_row_at(row))
            assert app.edge is not None and app.edge[0] in cells  # the row double-clicked
    finally:
        inv.close()


def _app_with_config(tmp_path: Path, monkeypatch, text: str):
    from console.ui.app import GameDay, IncidentApp

    inv, _ = open_game_day(tmp_path, monkeypatch)
    path = tmp_path / "config" / "config.toml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    app = IncidentApp(
        inv,
        gameday=GameDay("recs-weekday-afternoon", Path("scenarios") / "recs-weekday-afternoon"),
        clock=fixed_clock,
        config=load_config(path),
    )
    return inv, app, path


async def test_the_theme_chosen_is_saved_keeping_the_other_keys(tmp_path, monkeypatch):
    inv, app, path = _app_with_config(tmp_path, monkeypatch, 'theme = "nord"\nactor = "ann"\n')
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert app.theme == "nord"  # the config's theme is applied
            assert tomllib.loads(path.read_text(encoding="utf-8"))["theme"] == "nord"
            # The palette's "Theme" command, then a theme chosen by name.
            await pilot.press("colon", *"theme")
            await palette_found(pilot, "Theme")
            await pilot.press("enter")
            await pilot.press(*"dracula")
            await palette_found(pilot, "dracula")
            await pilot.press("enter")
            await pilot.pause()
            assert app.theme == "dracula"
            assert tomllib.loads(path.read_text(encoding="utf-8")) == {
                "theme": "dracula",
                "actor": "ann",
            }
    finally:
        inv.close()


async def test_times_are_shown_in_the_config_zone_and_the_trail_stays_utc(tmp_path, monkeypatch):
    from console.audit import read_entries

    inv, app, path = _app_with_config(tmp_path, monkeypatch, 'timezone = "Asia/Kolkata"\n')
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            text = screen_text(app)
            # The trail's clock starts at 15:20:00Z: 20:50:00 in Kolkata (UTC+5:30); old
            # code showed the tail's times and the windows in UTC whatever the config said.
            assert "#1   20:50:0" in text and "#1   15:20:0" not in text
            # The alert at 15:15Z: the incident window (4 h before it) in Kolkata.
            assert "incident 11-12 16:45..20:45" in text
            assert "Asia/Kolkata" in text and "  UTC" not in text
            await pilot.press("c")  # confirm: Locate ranks the candidates
            await settle(pilot)
            # The top candidate's change event at 11:00Z is drawn at 16:30 in Kolkata (below
            # its reasons, in the pane's detail line).
            drawn = str(app.query_one("#locate-detail", Static).content)
            assert "11-12 16:30 data_source" in drawn and "11-12 11:00 data_source" not in drawn
        # Only a theme chosen is written: the starting theme leaves the file as it was.
        assert path.read_text(encoding="utf-8") == 'timezone = "Asia/Kolkata"\n'
        entries = list(read_entries(Path("inc")))
        assert entries[0].ts.startswith("2026-11-12T15:20:0")  # the trail stays UTC
    finally:
        inv.close()
