"""The console keeps answering keys while a long intervention runs in its worker, says what
runs (in words, with its seconds) and that it is busy when asked to run more, and `x`
cancels it (Investigation.cancel -> TelemetryStore.interrupt) without an error modal.

The slow query waits without burning CPU (a CPU-bound DuckDB query would keep Pilot's
idle detection, which compares process time with wall time, from ever seeing the app idle);
it ends the way an interrupted DuckDB query ends in the store: QueryCancelled.
"""

from __future__ import annotations

import re
import threading

from test_ui_helpers import open_game_day, screen_text, settle

from console.audit import read_entries
from console.telemetry.store import QueryCancelled, TelemetryStore


async def test_keys_work_while_an_intervention_runs_and_x_cancels_it(tmp_path, monkeypatch):
    slow_next = threading.Event()
    waiting = threading.Event()
    interrupted = threading.Event()
    query, interrupt = TelemetryStore.query, TelemetryStore.interrupt

    def slow_query(self, sql, params=None, **kwargs):
        if slow_next.is_set():
            slow_next.clear()
            waiting.set()
            if not interrupted.wait(timeout=60):
                raise AssertionError("the query was never interrupted")
            raise QueryCancelled("query cancelled")
        return query(self, sql, params, **kwargs)

    def recording_interrupt(self):
        interrupted.set()
        interrupt(self)

    monkeypatch.setattr(TelemetryStore, "query", slow_query)
    monkeypatch.setattr(TelemetryStore, "interrupt", recording_interrupt)
    inv, app = open_game_day(tmp_path, monkeypatch)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("c")
            await settle(pilot)

            slow_next.set()
            await pilot.press("enter")  # the intervention starts and hangs in its query
            for _ in range(250):
                await pilot.pause(0.02)
                if waiting.is_set():
                    break
            assert waiting.is_set() and app.running == "intervene"
            text = screen_text(app)
            # The task in words (no internal name), its seconds, and how to cancel it.
            busy = "Running the intervention on raw_item_genre -> f_item_genre · "
            assert f"{busy}0 s · x cancels" in text
            for _ in range(30):  # the seconds count up, once a second
                await pilot.pause(0.1)
                if re.search(re.escape(busy) + "[1-9] s · x cancels", screen_text(app)):
                    break
            assert re.search(re.escape(busy) + "[1-9] s · x cancels", screen_text(app))

            await pilot.press("1")  # the screen changes while the query runs
            assert app.step == "triage" and "▶1 Triage" in screen_text(app)
            await pilot.press("r")  # run another step: told it is busy, not ignored
            await pilot.pause()
            notices = [n.message for n in app._notifications]
            assert any(n.startswith(f"Busy: {busy}") and "x cancels it" in n for n in notices)
            assert app.running == "intervene"
            await pilot.press("4")
            assert app.step == "counterfactual"
            await pilot.press("n", *"still waiting", "enter")
            for _ in range(100):  # the note's worker posts the entry it appended
                await pilot.pause(0.02)
                if "still waiting" in screen_text(app):
                    break
            assert "still waiting" in screen_text(app)
            assert app.running == "intervene"  # the note did not disturb the query

            await pilot.press("3", "x")
            await settle(pilot)
            assert interrupted.is_set() and app.running is None
            assert not app.query_one("#busy").display
            assert any("cancelled" in n.message for n in app._notifications)
            assert len(app.screen_stack) == 1  # a cancel is not an error modal
            await pilot.press("r")  # the edge can be run again at once
            await settle(pilot)
            assert "SHIFTED" in screen_text(app)
    finally:
        inv.close()

    actions = [(e.step, e.action) for e in read_entries(tmp_path / "inc")]
    assert actions[-3:] == [
        ("counterfactual", "note"),
        ("intervene", "failed"),  # the engine records the cancelled step, with no result
        ("intervene", "distribution_shift"),
    ]


async def test_the_busy_line_shows_duckdbs_progress_of_the_running_query(tmp_path, monkeypatch):
    """A real DuckDB scan in the intervention's place: the busy line carries DuckDB's own
    estimate (`query N%`), and x cancels the scan."""
    slow_next = threading.Event()
    started = threading.Event()
    query = TelemetryStore.query

    def long_scan(self, sql, params=None, **kwargs):
        if slow_next.is_set():
            slow_next.clear()
            started.set()
            sql, params, kwargs = (
                "SELECT count(*) FROM range(40000000000) t(x) WHERE x % 7 = 3",
                None,
                {},
            )
        return query(self, sql, params, **kwargs)

    monkeypatch.setattr(TelemetryStore, "query", long_scan)
    inv, app = open_game_day(tmp_path, monkeypatch)
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.press("c")
            await settle(pilot)
            slow_next.set()
            await pilot.press("enter")
            # pause(delay) does not wait for the app to be idle: a CPU-bound scan never is.
            busy = ""
            for _ in range(100):
                await pilot.pause(0.1)
                busy = str(app.query_one("#busy-label").render())
                if started.is_set() and re.search(r" s · query \d+% · x cancels", busy):
                    break
            assert re.search(r"Running the intervention on .* s · query \d+% · x", busy), busy
            await pilot.press("x")
            await settle(pilot)
            assert app.running is None and len(app.screen_stack) == 1
    finally:
        inv.close()
