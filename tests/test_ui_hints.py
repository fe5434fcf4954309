"""The step panes' hint lines name the keys of the active keymap, never the defaults: on a
copy of the bundled recs-weekday-afternoon game day, with keys rebound by binding id."""

from __future__ import annotations

import re

from rich.text import Text
from test_ui_helpers import open_game_day, settle
from textual.widgets import Static

from console.ui.steps.table import STEP_TABLE


def hint_of(app, step: str) -> str:
    """The hint line a step's pane shows now, as plain text."""
    content = app.query_one(f"#{step} .pane-hint", Static).content
    return content.plain if isinstance(content, Text) else str(content)


async def test_a_rebound_confirm_key_is_the_one_triage_names(tmp_path, monkeypatch):
    inv, app = open_game_day(tmp_path, monkeypatch)
    app.set_keymap({"triage-confirm": "y", "triage-false-alarm": "F"})
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)  # triage runs on open
            hint = hint_of(app, "triage")
            # The old hint said "c confirm the anomaly   f close as a false alarm" whatever
            # the keymap: these assertions fail on it.
            assert "y confirm the anomaly" in hint
            assert "F close as a false alarm" in hint
            assert "c confirm" not in hint and "f close" not in hint
            await pilot.press("y")  # and the key named is the key that works
            await settle(pilot)
            assert app.step == "locate"
    finally:
        inv.close()


async def test_a_rebound_run_key_is_named_on_every_step(tmp_path, monkeypatch):
    inv, app = open_game_day(tmp_path, monkeypatch)
    app.set_keymap({"run": "f5", "step-locate": "l", "mark-broken": "B"})
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await pilot.press("c")  # confirm: Locate ranks its candidates
            await settle(pilot)
            await pilot.press("enter")  # test the top candidate: Intervene runs it
            await settle(pilot)
            assert app.step == "intervene"
            assert "B broken (root cause)" in hint_of(app, "intervene")
            assert "l back to Locate" in hint_of(app, "intervene")
            hints = {spec.id: hint_of(app, spec.id) for spec in STEP_TABLE}
    finally:
        inv.close()

    # Triage, Locate and Intervene show their results' hints, Counterfactual, Validate and
    # Report their first ones: each names f5 and none the default r.
    for step, hint in hints.items():
        assert "f5 " in hint, f"{step}: {hint!r}"
        assert not re.search(r"(^|\s)r (re-|run|write|rank)", hint), f"{step}: {hint!r}"
