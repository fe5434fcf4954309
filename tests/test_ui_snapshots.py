"""SVG snapshots of every step's screen on the bundled recs-metadata-format game day, at
80x24 (the rail on one line) and 120x40 (the rail as a column, plots).

The engine runs once per module on a copy of the scenario with a frozen trail clock; each
snapshot opens the console on that incident and shows the stored results, so the pictures
do not depend on timing. Update with `pytest tests/test_ui_snapshots.py --snapshot-update`
and look at the SVGs (tests/__snapshots__/test_ui_snapshots/) before accepting them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_ui_helpers import ACTOR, SCENARIO, copy_scenario, fixed_clock, freeze_trail_clock

EDGE = ("raw_item_genre", "f_item_genre")
SIZES = {"80x24": (80, 24), "120x40": (120, 40)}
STEPS = ("triage", "locate", "intervene", "counterfactual", "validate", "report")


@pytest.fixture(scope="module")
def investigated(tmp_path_factory):
    """An incident taken through every step by the engine, and its results."""
    from console.engine.investigation import Investigation

    tmp_path = tmp_path_factory.mktemp("snapshots")
    with pytest.MonkeyPatch.context() as patch:
        folder = copy_scenario(tmp_path)
        freeze_trail_clock(patch)
        patch.chdir(tmp_path)
        inv = Investigation.open(folder / "playbook.toml", folder, Path("inc"), actor=ACTOR)
        results = {"triage": inv.triage()}
        inv.decide_triage("confirmed")
        results["locate"] = inv.locate()
        results["intervene"] = inv.intervene(EDGE)
        inv.mark_edge(EDGE, "broken")
        results["counterfactual"] = inv.counterfactual(EDGE)
        results["explain"] = inv.explain(results["counterfactual"].flipped_ids[0], EDGE)
        results["validate"] = inv.validate(EDGE)
        inv.decide_proposal(False)
        results["report"] = inv.report()
        yield inv, folder, results
        inv.close()


def console_on(investigated, step: str):
    """The app on the investigated incident, showing `step` with the engine's results."""
    from console.ui.app import GameDay, IncidentApp

    inv, folder, results = investigated
    app = IncidentApp(inv, gameday=GameDay(SCENARIO, folder), clock=fixed_clock)

    async def show(pilot) -> None:
        app._done_triage(results["triage"])
        app._done_locate(results["locate"])
        app.edge = EDGE
        app._done_intervene(results["intervene"], EDGE)
        app._done_counterfactual(results["counterfactual"], EDGE)
        app._pane("counterfactual").show("explain", results["explain"])
        app._done_validate(results["validate"], EDGE)
        app._pane("report").show("report", results["report"])
        app.goto(step)
        app.clear_notifications()
        await pilot.pause()
        app.query_one("#intervene").on_resize()  # histogram sized to the final layout
        await pilot.pause()

    return app, show


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("step", STEPS)
def test_step_screen(snap_compare, investigated, step, size):
    app, show = console_on(investigated, step)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=show)


def test_note_modal(snap_compare, investigated):
    app, show = console_on(investigated, "intervene")

    async def note(pilot) -> None:
        await show(pilot)
        await pilot.press("n", *"paged the content-ingest on-call")

    assert snap_compare(app, terminal_size=(80, 24), run_before=note)


def test_error_modal(snap_compare, investigated):
    app, show = console_on(investigated, "counterfactual")

    async def explain_unknown(pilot) -> None:
        await show(pilot)
        await pilot.press("i", *"no-such-id", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=explain_unknown)
