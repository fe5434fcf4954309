"""The detail view (v, or enter where the pane's widget does not take it), copying with OSC 52
and maximising a pane, on a real game day: what a pane cuts to fit, the detail view holds in
full; what it copies is what the notification says."""

from __future__ import annotations

import re

from test_ui_helpers import open_game_day, screen_text, settle
from textual.widgets import DataTable

from console.ui.detail import DetailScreen
from console.ui.steps.locate import LocatePane
from console.ui.steps.triage import TriagePane

EDGE = "raw_item_genre -> f_item_genre"


def flat(text: str) -> str:
    """Screen text with its line breaks, padding and scrollbar cells folded into single
    spaces, so a sentence the view wraps over lines still reads as one."""
    return " ".join(re.sub(r"[▁▂▃▄▅▆▇█▔▕▏│]", " ", text).split())


def copied(app) -> list[str]:
    return [n.message for n in app._notifications if n.message.startswith("copied")]


async def test_a_candidates_reasons_and_change_events_are_shown_in_full(tmp_path, monkeypatch):
    inv, app = open_game_day(tmp_path, monkeypatch)
    app.set_keymap({"detail-copy-edge": "Y"})  # the detail view's keys follow the keymap
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("c")  # confirm: Locate ranks the candidates
            await settle(pilot)
            pane = app.query_one(LocatePane)
            candidate = pane.highlighted
            assert candidate is not None and candidate.node == "raw_item_genre"
            last = candidate.reasons[-1]
            # The pane's detail line cuts it at 80 columns: the end is not on screen.
            assert flat(last)[-40:] not in flat(screen_text(app))

            await pilot.press("v")
            await pilot.pause()
            assert isinstance(app.screen, DetailScreen)
            text = flat(screen_text(app))
            assert flat(last) in text  # the whole last reason, wrapped, never cut
            assert "mechanism" in text and "Why it ranks here" in text
            await pilot.press("pagedown")  # scrollable: the change events come next
            await pilot.pause()
            text = flat(screen_text(app))
            assert "data_source on raw_item_genre by streamco" in text
            assert flat(candidate.changes[0].summary) in text

            assert "Y Copy edge" in screen_text(app)  # the footer shows the user's key
            await pilot.press("y")
            assert not copied(app)
            await pilot.press("Y")
            assert app.clipboard == EDGE
            assert copied(app)[-1] == f"copied the edge ({len(EDGE)} chars)"
            await pilot.press("c")  # the screening query behind the ranking
            assert app.clipboard.startswith("SELECT w, count(*) AS n") and app.clipboard.endswith(
                ";"
            )
            assert copied(app)[-1].startswith(f"copied the SQL ({len(app.clipboard):,} chars)")
            await pilot.press("i")  # no prediction id here: the key does nothing
            assert app.clipboard.endswith(";")

            await pilot.press("end")  # the SQL, highlighted, at the end of the view
            await pilot.pause()
            tail = app.results["locate"].sql[-1].split()[-5:]  # its last words
            assert "".join(tail) in screen_text(app).replace(" ", "")
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, DetailScreen) and app.step == "locate"
    finally:
        inv.close()


async def test_triage_intervention_and_report_details(tmp_path, monkeypatch):
    inv, app = open_game_day(tmp_path, monkeypatch)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            result = app.query_one(TriagePane).result
            await pilot.press("down", "enter")  # enter on a check: the detail view
            await pilot.pause()
            assert isinstance(app.screen, DetailScreen)
            text = flat(screen_text(app))
            staleness = result.checks[1]
            assert "▶ ✓ staleness" in text and flat(staleness.detail) in text  # in full
            assert "age_s" in text  # and its evidence
            await pilot.press("home")  # the engine's reasons, in full, above the checks
            await pilot.pause()
            assert flat(result.reasons[-1]) in flat(screen_text(app))
            await pilot.press("c")
            assert "FROM metrics WHERE metric = $series" in app.clipboard
            await pilot.press("escape", "c")  # confirm, then test the top candidate
            await settle(pilot)
            await pilot.press("enter")
            await settle(pilot)
            assert app.step == "intervene"

            await pilot.press("enter")  # the intervention's reasons: for and against
            await pilot.pause()
            assert isinstance(app.screen, DetailScreen)
            reasons = app.results["intervene"].reasons
            against = next(r for r in reasons if r.startswith("against:"))
            text = flat(screen_text(app))
            assert "mechanism" in text and EDGE in text
            await pilot.press("pagedown")
            await pilot.pause()
            text += flat(screen_text(app))
            assert "for: change_fits" in text and flat(against) in text
            await pilot.press("c")
            assert app.clipboard.count("FROM decisions") == 1  # one scan: statistic and evidence
            await pilot.press("escape")

            assert "1 Triage" in screen_text(app)  # the rail
            await pilot.press("m")  # the pane takes the whole terminal: no header, no rail
            await pilot.pause()
            assert app.screen.maximized is not None and app.screen.maximized.id == "intervene"
            assert "1 Triage" not in screen_text(app)
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen.maximized is None
            assert "1 Triage" in screen_text(app)
    finally:
        inv.close()


def investigated_to_report(tmp_path, monkeypatch):
    """The game day taken through every step by the engine, then the console opened on it
    (it shows what the trail holds, as on resume)."""
    from console.ui.app import GameDay, IncidentApp

    inv, _ = open_game_day(tmp_path, monkeypatch)
    edge = ("raw_item_genre", "f_item_genre")
    inv.triage()
    inv.decide_triage("confirmed")
    inv.locate()
    inv.intervene(edge)
    inv.mark_edge(edge, "broken")
    blast = inv.counterfactual(edge)
    inv.explain(blast.flipped_ids[0], edge)
    inv.validate(edge)
    inv.report()
    folder = tmp_path / "scenarios" / "recs-weekday-afternoon"
    return inv, IncidentApp(inv, gameday=GameDay("recs-weekday-afternoon", folder)), blast


async def test_copy_a_prediction_id_the_head_hash_and_the_report_path(tmp_path, monkeypatch):
    inv, app, blast = investigated_to_report(tmp_path, monkeypatch)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await pilot.press("4", "down", "v")  # the second flipped decision
            await pilot.pause()
            assert isinstance(app.screen, DetailScreen)
            text = flat(screen_text(app))
            assert "Blast radius" in text and f"{blast.flipped:,} of {blast.total:,}" in text
            await pilot.press("i")
            assert app.clipboard == blast.flipped_ids[1]
            assert (
                copied(app)[-1] == f"copied the prediction id ({len(blast.flipped_ids[1])} chars)"
            )
            await pilot.press("y")
            assert app.clipboard == EDGE
            await pilot.press("escape", "5", "enter")  # Validate: the proposal and its SQL
            await pilot.pause()
            assert isinstance(app.screen, DetailScreen)
            text = flat(screen_text(app))
            assert "Post-fix window" in text and "recovered yes" in text
            # Validate's baseline is not Triage's: it says which hours it covers.
            assert "(the same hours of the day as the post-fix window)" in text
            await pilot.press("c")
            assert app.clipboard == ";\n\n".join(app.results["validate"].intervention.sql) + ";"
            await pilot.press("escape", "6", "v")
            await pilot.pause()
            report = app.results["report"]
            await pilot.press("h")
            assert app.clipboard == report.trail_head and len(report.trail_head) == 64
            assert copied(app)[-1] == "copied the head hash (64 chars)"
            await pilot.press("p")
            path = tmp_path / "inc" / "report.md"
            assert app.clipboard == str(path.resolve()) and path.exists()
            await pilot.press("c")  # no SQL behind a report: nothing copied
            assert app.clipboard == str(path.resolve())
    finally:
        inv.close()


async def test_hostile_change_events_in_the_detail_view_show_as_typed(tmp_path, monkeypatch):
    from test_ui_hostile import EVIL, assert_clean, hostile_game_day, open_app

    # The scorer is never asked (no counterfactual runs): any url will do.
    folder = hostile_game_day(tmp_path, monkeypatch, "http://127.0.0.1:9/score")
    inv, app = open_app(folder)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("c")
            await settle(pilot)
            pane = app.query_one(LocatePane)
            row = [c.node for c in pane.candidates].index("raw_item_genre")
            pane.query_one("#locate-candidates", DataTable).move_cursor(row=row)
            await pilot.press("v", "pagedown")
            await pilot.pause()
            assert isinstance(app.screen, DetailScreen)
            text = screen_text(app)
            assert_clean(text)
            assert "\\x1b]0;PWNED\\x07" in text and "[b]bold[/b]" in text  # as typed
            assert EVIL not in text
    finally:
        inv.close()


async def test_the_palette_copies_the_head_the_edge_and_the_report_path(tmp_path, monkeypatch):
    from test_ui_keys import palette_found

    inv, app, _blast = investigated_to_report(tmp_path, monkeypatch)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            last = app.tail.entries[-1]
            await pilot.press("colon", *"copy the trail")
            await palette_found(pilot, "Copy the trail's head")
            await pilot.press("enter")
            await pilot.pause()
            # What `trail verify --head` takes, for the newest entry.
            assert app.clipboard == f"count={last.seq} hash={last.hash}"
            assert len(last.hash) == 64
            await pilot.press("colon", *"copy the tested")
            await palette_found(pilot, "Copy the tested edge")
            await pilot.press("enter")
            await pilot.pause()
            assert app.clipboard == EDGE
            await pilot.press("colon", *"copy the report")
            await palette_found(pilot, "Copy the report path")
            await pilot.press("enter")
            await pilot.pause()
            assert app.clipboard == str((tmp_path / "inc" / "report.md").resolve())
            assert copied(app)[-1].startswith("copied the report path (")
    finally:
        inv.close()
