"""Locate shows where you are: each candidate's state (untested, tested with its verdict, or
the engineer's mark), the next untested candidate after a decision (and on `]`), and `/` to
filter the candidates by node name, on a real game day."""

from __future__ import annotations

from test_ui_helpers import open_game_day, screen_text, settle
from textual.widgets import DataTable, Input

from console.ui.steps.locate import LocatePane


def states(pane: LocatePane) -> list[str]:
    table = pane.query_one("#locate-candidates", DataTable)
    return [table.get_cell(str(c.rank), "state").plain for c in pane.candidates]


def cursor_in_view(table: DataTable) -> bool:
    row = table.cursor_row
    visible = table.scrollable_content_region.height - table.header_height
    return table.scroll_y <= row < table.scroll_y + visible


async def test_rows_show_their_state_and_a_decision_moves_to_the_next_untested(
    tmp_path, monkeypatch
):
    inv, app = open_game_day(tmp_path, monkeypatch)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("c")  # confirm: Locate ranks
            await settle(pilot)
            pane = app.query_one(LocatePane)
            table = pane.query_one("#locate-candidates", DataTable)
            count = len(pane.candidates)
            assert count > 10 and set(states(pane)) == {"untested"}
            assert "untested" in screen_text(app)

            table.move_cursor(row=count - 1)  # the last candidate, far below the first
            await pilot.pause()
            last = pane.candidates[-1]
            await pilot.press("enter")  # test it
            await settle(pilot)
            assert app.step == "intervene" and app.edge == last.edge
            await pilot.press("c")  # cleared: back to Locate, on the best untested candidate
            await settle(pilot)
            assert app.step == "locate"
            assert states(pane)[-1] == "cleared"
            assert table.cursor_row == 0 and cursor_in_view(table)
            assert app.focused is table

            await pilot.press("enter")  # test the top candidate, go back without a call
            await settle(pilot)
            verdict = app.results["intervene"].verdict
            await pilot.press("2")
            await pilot.pause()
            shared = [i for i, c in enumerate(pane.candidates) if c.edge == pane.candidates[0].edge]
            assert {states(pane)[i] for i in shared} == {
                "tested ✗" if verdict == "broken" else f"tested {verdict}"
            }
            assert "tested" in screen_text(app)

            await pilot.press("right_square_bracket")  # ] the next untested candidate
            await pilot.pause()
            row = table.cursor_row
            assert row > 0 and states(pane)[row] == "untested"
            assert all(states(pane)[i] != "untested" for i in range(1, row))
            await pilot.press("left_square_bracket")  # [ back: none untested above, wraps
            await pilot.pause()
            assert states(pane)[table.cursor_row] == "untested" and table.cursor_row != 0
    finally:
        inv.close()


async def test_slash_filters_the_candidates_by_node_name_and_esc_clears(tmp_path, monkeypatch):
    inv, app = open_game_day(tmp_path, monkeypatch)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("c")
            await settle(pilot)
            pane = app.query_one(LocatePane)
            table = pane.query_one("#locate-candidates", DataTable)
            everything = [c.node for c in pane.candidates]

            await pilot.press("slash", *"raw_user")  # typed into the filter, not run as keys
            await pilot.pause()
            assert app.step == "locate" and app.running is None and len(app.screen_stack) == 1
            shown = [c.node for c in pane.candidates]
            assert shown == [n for n in everything if "raw_user" in n] and len(shown) >= 2
            assert table.row_count == len(shown)
            assert pane.query_one("#locate-filter-input", Input).value == "raw_user"

            await pilot.press("enter")  # back to the rows, filtered; enter tests the first
            assert app.focused is table
            await pilot.press("down", "enter")
            await settle(pilot)
            assert app.step == "intervene" and app.edge[0] == shown[1]

            await pilot.press("2", "escape")  # esc clears the filter: every candidate again
            await pilot.pause()
            assert [c.node for c in pane.candidates] == everything
            assert not pane.query_one("#locate-filter-input", Input).display

            await pilot.press("slash", *"no-such-node")
            await pilot.pause()
            assert table.row_count == 0 and "node contains 'no-such-node'" in screen_text(
                app
            ).replace("&#x27;", "'")
            await pilot.press("escape")
            await pilot.pause()
            assert table.row_count == len(everything) and app.focused is table
    finally:
        inv.close()


async def test_a_resumed_incident_shows_each_candidates_state(tmp_path, monkeypatch):
    from console.ui.app import GameDay, IncidentApp

    inv, _ = open_game_day(tmp_path, monkeypatch)
    top, other = ("raw_item_genre", "f_item_genre"), ("raw_item_duration_s", "f_log_duration")
    inv.triage()
    inv.decide_triage("confirmed")
    inv.locate()
    inv.intervene(other)  # tested, no call made on it
    inv.intervene(top)
    inv.mark_edge(top, "external")
    folder = tmp_path / "scenarios" / "recs-weekday-afternoon"
    app = IncidentApp(inv, gameday=GameDay("recs-weekday-afternoon", folder))
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            app.goto("locate")
            await pilot.pause()
            pane = app.query_one(LocatePane)
            by_edge = dict(zip((c.edge for c in pane.candidates), states(pane), strict=True))
            assert by_edge[top] == "external"
            assert by_edge[other] == f"tested {inv.interventions[other].verdict}".replace(
                "tested broken", "tested ✗"
            )
            assert {s for e, s in by_edge.items() if e not in (top, other)} == {"untested"}
    finally:
        inv.close()
