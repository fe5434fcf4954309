"""SVG snapshots of every step's screen on the bundled recs-weekday-afternoon game day, at
80x24 (the rail on one line) and 120x40 (the rail as a column, plots).

The engine runs once per module on a copy of the scenario (frozen trail clock, fixed session,
one DuckDB thread: every hash is the same on each run); each snapshot reopens the console on
that incident, which shows the results the trail holds (the resume path), so the pictures do
not depend on timing. Update with `pytest tests/test_ui_snapshots.py --snapshot-update`
and look at the SVGs (tests/__snapshots__/test_ui_snapshots/) before accepting them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_ui_helpers import (
    ACTOR,
    SCENARIO,
    copy_scenario,
    fixed_clock,
    freeze_trail_clock,
    single_threaded_duckdb,
)

EDGE = ("raw_item_genre", "f_item_genre")
SIZES = {"80x24": (80, 24), "120x40": (120, 40)}
STEPS = ("triage", "locate", "intervene", "counterfactual", "validate", "report")


@contextmanager
def investigation_done(tmp_path: Path) -> Iterator[tuple]:
    """An incident taken through every step by the engine in tmp_path, and its results."""
    from console.engine.investigation import Investigation

    with pytest.MonkeyPatch.context() as patch:
        folder = copy_scenario(tmp_path)
        freeze_trail_clock(patch)
        patch.chdir(tmp_path)  # folder is relative to it
        single_threaded_duckdb(patch)
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


@pytest.fixture(scope="module")
def investigated(tmp_path_factory):
    """The incident every snapshot that only reads its trail shares."""
    with investigation_done(tmp_path_factory.mktemp("snapshots")) as done:
        yield done


@pytest.fixture
def investigated_alone(tmp_path):
    """The same incident, of a test's own: a test that adds to the trail (a failed step is
    recorded) would otherwise show its entry in every snapshot run after it on the worker."""
    with investigation_done(tmp_path) as done:
        yield done


def console_on(investigated, step: str):
    """The app reopened on the investigated incident (it shows every result the trail holds,
    without running anything), on `step`."""
    from console.ui.app import GameDay, IncidentApp

    inv, folder, _results = investigated
    app = IncidentApp(inv, gameday=GameDay(SCENARIO, folder), clock=fixed_clock)

    async def show(pilot) -> None:
        app.goto(step)
        await pilot.pause()
        app.clear_notifications()  # "Resumed at Report"
        await pilot.pause()

    return app, show


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("step", STEPS)
def test_step_screen(snap_compare, investigated, step, size):
    app, show = console_on(investigated, step)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=show)


def test_error_modal(snap_compare, investigated_alone):
    app, show = console_on(investigated_alone, "counterfactual")

    async def explain_unknown(pilot) -> None:
        await show(pilot)
        await pilot.press("i", *"no-such-id", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=explain_unknown)


@pytest.mark.parametrize("size", SIZES)
def test_detail_view(snap_compare, investigated, size):
    """Locate's detail view: the highlighted candidate's every reason and change event, uncut."""
    from console.ui.steps.locate import LocatePane

    app, show = console_on(investigated, "locate")

    async def open_detail(pilot):
        await show(pilot)
        app.query_one(LocatePane).action_detail()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZES[size], run_before=open_detail)


@pytest.mark.parametrize("size", SIZES)
def test_key_list(snap_compare, investigated, size):
    """`?` on Intervene: its keys first, each with its binding id."""
    app, show = console_on(investigated, "intervene")

    async def open_keys(pilot):
        await show(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZES[size], run_before=open_keys)


def test_a_resumed_incident_reads_every_result_back_from_the_trail(investigated):
    from console.audit import read_entries
    from console.engine.revive import last_results

    inv, _folder, results = investigated
    revived = last_results(read_entries(inv.incident_dir))
    for key in ("triage", "locate", "intervene", "counterfactual", "explain", "validate"):
        assert revived[key].to_dict() == results[key].to_dict(), key


async def test_the_report_is_drawn_by_one_widget_that_the_arrows_scroll(investigated):
    """However long the report, the pane holds one widget for it: a widget per Markdown block
    (Textual's Markdown widget made 428 here) is restyled whole on each focus change, which
    cost a quarter of a second per move to or from the report, and as much again per resume."""
    from textual.containers import VerticalScroll

    app, show = console_on(investigated, "report")
    async with app.run_test(size=(80, 24)) as pilot:
        await show(pilot)
        scroll = app.query_one("#report-scroll", VerticalScroll)
        assert [type(w).__name__ for w in scroll.walk_children()] == ["Static"]
        assert app.focused is scroll
        assert scroll.virtual_size.height > 100  # the whole report, not its first screen
        await pilot.press("down", "down", "down")
        await pilot.pause()
        assert scroll.scroll_y == 3
