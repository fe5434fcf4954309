"""The layout uses the room it has: the trail tail is as tall as its entries (capped), and
from 150 columns Locate's graph tree stands beside the candidates."""

from __future__ import annotations

from test_ui_helpers import open_game_day, settle


async def test_the_tail_grows_with_its_entries_up_to_its_cap(tmp_path, monkeypatch):
    inv, app = open_game_day(tmp_path, monkeypatch)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            tail = app.tail
            # No empty line: one per entry, plus the border on top.
            assert 1 <= len(tail.entries) < 7
            assert tail.region.height == len(tail.entries) + 1
            for number in range(7 - len(tail.entries) + 1):
                await pilot.press("n", *f"note {number}", "enter")
                await settle(pilot)
            assert len(tail.entries) > 7 and tail.region.height == 8  # 7 lines, capped
            await pilot.resize_terminal(80, 24)
            await pilot.pause()
            assert tail.region.height == 4  # narrow: 3 lines
    finally:
        inv.close()


async def test_the_tree_stands_beside_the_candidates_from_150_columns(tmp_path, monkeypatch):
    inv, app = open_game_day(tmp_path, monkeypatch)
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await settle(pilot)
            await pilot.press("c")
            await settle(pilot)
            table = app.query_one("#locate-candidates").region
            tree = app.query_one("#locate-tree").region
            assert tree.x >= table.right and tree.y == table.y
            await pilot.resize_terminal(120, 40)
            await pilot.pause()
            table = app.query_one("#locate-candidates").region
            tree = app.query_one("#locate-tree").region
            assert tree.y >= table.bottom and tree.x == table.x
    finally:
        inv.close()
