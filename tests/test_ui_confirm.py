"""Consequential calls ask first: closing as a false alarm, and marking broken an edge whose
intervention did not say broken. The question's focus starts on cancel."""

from __future__ import annotations

from test_ui_helpers import open_game_day, screen_text, settle
from test_ui_keys import palette_found

from console.audit import read_entries
from console.ui.modals import ConfirmModal


def calls(tmp_path, action: str) -> list[dict]:
    return [e.params for e in read_entries(tmp_path / "inc") if e.action == action]


async def test_closing_as_a_false_alarm_asks_first(tmp_path, monkeypatch):
    inv, app = open_game_day(tmp_path, monkeypatch)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("f")
            assert isinstance(app.screen, ConfirmModal)
            text = screen_text(app)
            assert "Close as a false alarm?" in text and "verdict: confirmed" in text
            await pilot.press("enter")  # the focus is on cancel: a habitual enter is safe
            await settle(pilot)
            assert len(app.screen_stack) == 1 and app.step == "triage"
            await pilot.press("f", "escape")
            await settle(pilot)
            assert app.step == "triage" and calls(tmp_path, "decide") == []

            await pilot.press("f", "y")
            await settle(pilot)
            assert app.step == "report"
            assert [c["verdict"] for c in calls(tmp_path, "decide")] == ["false_alarm"]
    finally:
        inv.close()


async def test_marking_broken_an_edge_whose_intervention_said_ok_asks_first(tmp_path, monkeypatch):
    inv, app = open_game_day(tmp_path, monkeypatch)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("c")  # confirming is not asked: it only goes on to Locate
            await settle(pilot)
            assert app.step == "locate" and len(app.screen_stack) == 1
            await pilot.press("colon", *"on raw_item_dur")
            await palette_found(pilot, "Intervene on raw_item_duration_s")
            await pilot.press("enter")
            await settle(pilot)
            assert app.results["intervene"].verdict == "ok"
            await pilot.press("b")
            assert isinstance(app.screen, ConfirmModal)
            text = screen_text(app)
            assert "Mark raw_item_duration_s -> f_log_duration broken?" in text
            assert "(shadow_recompute) said ok, not broken" in text
            await pilot.press("escape")
            await settle(pilot)
            assert app.step == "intervene" and calls(tmp_path, "mark_edge") == []

            await pilot.press("c")  # clearing it is not asked
            await settle(pilot)
            assert app.step == "locate" and len(app.screen_stack) == 1
            await pilot.press("colon", *"on raw_item_dur")
            await palette_found(pilot, "Intervene on raw_item_duration_s")
            await pilot.press("enter")
            await settle(pilot)
            await pilot.press("b", "y")  # against the evidence, on purpose
            await settle(pilot)
            assert app.step == "counterfactual"
            marks = [c["mark"] for c in calls(tmp_path, "mark_edge")]
            assert marks == ["cleared", "broken"]
    finally:
        inv.close()


async def test_marking_broken_what_the_intervention_found_broken_is_not_asked(
    tmp_path, monkeypatch
):
    inv, app = open_game_day(tmp_path, monkeypatch)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("c")
            await settle(pilot)
            await pilot.press("enter")  # the top candidate: raw_item_genre, SHIFTED
            await settle(pilot)
            assert app.results["intervene"].verdict == "broken"
            await pilot.press("b")
            await settle(pilot)
            assert app.step == "counterfactual" and len(app.screen_stack) == 1
    finally:
        inv.close()
