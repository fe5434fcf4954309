"""The console keeps answering keys while a long intervention runs in its worker, and `x`
cancels it (DuckDB's interrupt) without leaving a half-recorded step."""

from __future__ import annotations

import threading

from test_ui_helpers import open_game_day, screen_text, settle

from console.audit import read_entries
from console.telemetry.store import TelemetryStore

# A real DuckDB query that runs for minutes unless interrupted.
SLOW_SQL = "SELECT count(*) AS n FROM range(1000000000000) t(i) WHERE i % 7 = 3"


async def test_keys_work_while_an_intervention_runs_and_x_cancels_it(tmp_path, monkeypatch):
    slow_next = threading.Event()
    original = TelemetryStore.query

    def query(self, sql, params=None, **kwargs):
        if slow_next.is_set():
            slow_next.clear()
            original(self, SLOW_SQL)
        return original(self, sql, params, **kwargs)

    monkeypatch.setattr(TelemetryStore, "query", query)
    inv, app = open_game_day(tmp_path, monkeypatch)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("c")
            await settle(pilot)

            slow_next.set()
            await pilot.press("enter")  # the intervention starts and hangs in DuckDB
            for _ in range(200):
                await pilot.pause(0.02)
                if inv.store.running:
                    break
            assert app.running == "intervene" and inv.store.running == 1
            assert "x cancels" in screen_text(app)

            await pilot.press("1")  # the screen changes while the query runs
            assert app.step == "triage" and "▶1 Triage" in screen_text(app)
            await pilot.press("n", *"still waiting on the genre check", "enter")
            for _ in range(100):
                await pilot.pause(0.02)
                if any(e.action == "note" for e in read_entries(tmp_path / "inc")):
                    break
            app.query_one("#tail").poll()
            await pilot.pause()
            assert "still waiting on the genre check" in screen_text(app)
            assert app.running == "intervene"  # the note did not disturb the query

            await pilot.press("3", "x")
            await settle(pilot)
            assert app.running is None and inv.store.running == 0
            assert not app.query_one("#busy").display
            notes = [n.message for n in app._notifications]
            assert any("cancelled" in message for message in notes)
            assert len(app.screen_stack) == 1  # a cancel is not an error modal
    finally:
        inv.close()

    actions = [(e.step, e.action) for e in read_entries(tmp_path / "inc")]
    assert ("triage", "note") in actions
    assert not any(step == "intervene" for step, _ in actions)  # cancelled: nothing recorded
