"""A whole game day driven from the keyboard: triage to export, on a copy of the bundled
recs-weekday-afternoon scenario, checking what each screen shows and what the trail holds."""

from __future__ import annotations

import hashlib
import json

from test_ui_helpers import ACTOR, open_game_day, screen_text, settle
from textual.widgets import Input

from console.audit import read_entries, verify
from console.engine.validate import fix_time
from console.ui.modals import PromptModal


async def test_keyboard_walk_from_triage_to_export(tmp_path, monkeypatch):
    inv, app = open_game_day(tmp_path, monkeypatch)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)  # triage runs on open
            text = screen_text(app)
            assert "▶1 Triage" in text or "▶ 1 Triage" in text
            for check in ("gaps", "staleness", "clock_skew", "duplicates", "recompute"):
                assert check in text
            assert "ctr" in text and "critical" in text

            await pilot.press("c")  # confirm: Locate runs at once
            await settle(pilot)
            text = screen_text(app)
            assert app.step == "locate"
            assert "raw_item_genre" in text and "distribution_shift" in text

            await pilot.press("enter")  # test the top candidate's edge
            await settle(pilot)
            text = screen_text(app)
            assert app.step == "intervene"
            assert "raw_item_genre -> f_item_genre" in text and "SHIFTED" in text
            assert "IAB" in text  # the new categories, drawn live against baseline

            await pilot.press("b")  # the root cause: Counterfactual runs
            edge = ("raw_item_genre", "f_item_genre")
            await settle(pilot)
            text = screen_text(app)
            assert app.step == "counterfactual"
            assert "flipped" in text and "✗3 Intervene" in text

            await pilot.press("enter")  # explain the first flipped decision
            await settle(pilot)
            assert "flips with" in screen_text(app) or "no single change" in screen_text(app)

            await pilot.press("5", "s")  # the post-fix start: the engine's default, the fix
            await settle(pilot)
            assert isinstance(app.screen, PromptModal)
            prefilled = app.screen.query_one(Input).value
            assert prefilled == fix_time(inv.ctx, inv.ctx.edge(*edge)).strftime("%Y-%m-%dT%H:%M")
            await pilot.press(*"2026-11-12T20:00", "enter")  # typing replaces it
            await settle(pilot)
            text = screen_text(app)
            assert app.step == "validate" and "RECOVERED" in text
            assert "11-12 20:00.." in text

            await pilot.press("d")  # reject the proposed playbook change
            await settle(pilot)

            await pilot.press("n")
            await pilot.press(*"paged streamco")
            await pilot.press("enter")
            await settle(pilot)

            await pilot.press("6", "r")  # the report ends the game day: graded
            await settle(pilot)
            text = screen_text(app)
            assert app.step == "report" and "Root cause found" in text

            await pilot.press("e")
            await settle(pilot)
            text = screen_text(app)
            assert "verifies ✓" in text
    finally:
        inv.close()

    incident = tmp_path / "inc"
    report = (incident / "report.md").read_text(encoding="utf-8")
    assert "## Game day grade" in report and "raw_item_genre" in report
    for fmt in ("jsonl", "parquet", "csv", "md"):
        assert (incident / "exports" / f"trail.{fmt}").stat().st_size > 0
    assert verify(incident).ok

    entries = list(read_entries(incident))
    assert {e.actor for e in entries} == {ACTOR}
    actions = [(e.step, e.action) for e in entries]
    expected = [
        ("session", "open"),
        ("triage", "triage"),
        ("triage", "decide"),
        ("locate", "rank_candidates"),
        ("intervene", "distribution_shift"),
        ("intervene", "mark_edge"),
        ("counterfactual", "blast_radius"),
        ("counterfactual", "explain"),
        ("validate", "postfix"),
        ("validate", "reject_proposal"),
        ("validate", "note"),
        ("report", "write"),
        ("gameday", "grade"),
        ("report", "export"),
    ]
    assert actions == expected
    by_action = {e.action: e for e in entries}
    assert by_action["decide"].params["verdict"] == "confirmed"
    assert by_action["mark_edge"].params == {
        "edge": ["raw_item_genre", "f_item_genre"],
        "mark": "broken",
        "note": "",
    }
    assert by_action["note"].params["text"] == "paged streamco"
    assert by_action["postfix"].params["start"] == "2026-11-12T20:00:00Z"
    grade = by_action["grade"].result
    assert grade["found"] and grade["false_leads"] == [] and grade["steps_skipped"] == []
    export = by_action["export"].result
    assert export["verified"] and "exports/trail.parquet" in export["files"]
    assert json.loads((incident / "head.json").read_text())["count"] == len(entries)
    # The grade section was added after the report entry hashed report.md: the grade entry
    # carries the final file's hash, so the trail's last word on the report matches the file.
    hashes = [ev.sha256 for e in entries for ev in e.evidence if ev.path == "report.md"]
    assert hashes[-1] == hashlib.sha256((incident / "report.md").read_bytes()).hexdigest()
