"""The range intervention on small generated stores (the store of test_engine_plausibility):
broken when the share of implausible values (outside the declared valid range, or a unit
factor away) rises by more than max_implausible; never an external shift."""

from __future__ import annotations

import numpy as np
import pytest
from test_engine_plausibility import INCIDENT_START, Sides, amounts, context, trips

from console.engine.interventions import kind_of, run_intervention
from console.engine.locate import run_locate

__all__ = ["context"]  # the fixture, shared with test_engine_plausibility

RANGE = 'intervention = { type = "range" }'


def _edge(ctx):
    return ctx.edge("raw_v", "f_v")


def test_a_tenth_of_rows_in_cents_breaks_the_edge_and_names_x100(context):
    inc = amounts(3000, 2)
    inc[::10] *= 100
    ctx = context(Sides(amounts(8000, 1), inc), edge_v=RANGE)
    outcome = run_intervention(ctx, _edge(ctx))
    result = outcome.result
    assert (result.type, result.verdict, result.node) == ("range", "broken", "raw_v")
    assert result.statistics["unit_label"] == "x100"
    assert result.statistics["implausible_share_incident"] == pytest.approx(0.1, abs=0.01)
    assert result.statistics["implausible_share_baseline"] == 0.0
    assert result.statistics["max_implausible"] == 0.01
    assert result.reasons[0].startswith("raw_v implausible: 9.")
    assert "most likely unit factor x100" in result.reasons[0]
    assert result.histogram.edges == ["plausible", "x100 away"]
    assert result.histogram.series["incident"][1] == pytest.approx(0.1, abs=0.01)
    rows = ctx.run(outcome.evidence_sql, outcome.evidence_params).to_pylist()
    assert 250 < len(rows) <= 300
    assert min(r["value"] for r in rows) > 1000  # only the cents rows
    assert not kind_of("range").may_be_external


def test_max_implausible_is_read_from_the_edge(context):
    inc = amounts(3000, 2)
    inc[::10] *= 100
    edge = 'intervention = { type = "range", max_implausible = 0.2 }'
    ctx = context(Sides(amounts(8000, 1), inc), edge_v=edge)
    result = run_intervention(ctx, _edge(ctx)).result
    assert result.verdict == "ok"
    assert "within max_implausible 20.00%" in result.reasons[0]


def test_a_declared_range_breach_breaks_the_edge(context):
    inc = amounts(3000, 2)
    inc[::20] = -inc[::20]
    ctx = context(Sides(amounts(8000, 1), inc), raw_v="valid_min = 0", edge_v=RANGE)
    result = run_intervention(ctx, _edge(ctx)).result
    assert result.verdict == "broken"
    assert result.statistics["out_of_range_incident"] == pytest.approx(0.05, abs=0.001)
    assert result.statistics["valid_range"] == "[0, +inf]"
    assert result.histogram.edges == ["plausible", "below valid_min"]
    assert "no unit factor explains them" in result.reasons[0]


def test_a_world_that_moved_keeps_the_edge_ok(context):
    ctx = context(
        Sides(trips(8000, 1), trips(3000, 2, mean=28.0)), raw_v="valid_min = 0", edge_v=RANGE
    )
    result = run_intervention(ctx, _edge(ctx)).result
    assert result.verdict == "ok", result.reasons
    assert result.statistics["unit_factor"] is None


def test_miles_as_kilometres_break_the_edge(context):
    ctx = context(Sides(trips(8000, 1), trips(3000, 2) * 1.609344), edge_v=RANGE)
    result = run_intervention(ctx, _edge(ctx)).result
    assert result.verdict == "broken"
    assert "most likely unit factor mi -> km (x1.609)" in result.reasons[0]


def test_too_few_rows_are_inconclusive(context):
    ctx = context(Sides(amounts(8000, 1), amounts(20, 2) * 100), edge_v=RANGE)
    result = run_intervention(ctx, _edge(ctx)).result
    assert result.verdict == "inconclusive"
    assert "too few values" in result.reasons[0]


def test_locate_scores_a_declared_range_breach_from_the_screening(context):
    inc = amounts(3000, 2)
    inc[::10] = -1000.0
    ctx = context(Sides(amounts(8000, 1), inc), raw_v="valid_min = 0", edge_v=RANGE)
    located = run_locate(ctx)
    raw_v = next(c for c in located.candidates if c.node == "raw_v")
    assert any(
        r.startswith("outside its declared valid range [0, +inf]: 0.0% -> 10.0%")
        and r.endswith("(+3)")
        for r in raw_v.reasons
    ), raw_v.reasons
    assert raw_v.intervention == "range"


def test_locate_scores_a_unit_factor_once_measured(context):
    inc = amounts(3000, 2)
    inc[::10] *= 100
    ctx = context(Sides(amounts(8000, 1), inc), edge_v=RANGE)
    run_intervention(ctx, _edge(ctx))  # measures raw_v's plausibility for the incident
    located = run_locate(ctx)
    raw_v = next(c for c in located.candidates if c.node == "raw_v")
    assert any(r.startswith("values a unit factor away: x100 explains") for r in raw_v.reasons)


def test_the_correction_draws_implausible_rows_from_the_baseline(context):
    inc = amounts(3000, 2)
    inc[::10] *= 100
    ctx = context(Sides(amounts(8000, 1), inc), edge_v=RANGE)
    correction = kind_of("range").correction(ctx, _edge(ctx), ["f_v"])
    assert correction.describe.startswith("rows where raw_v is implausible (x100 away")
    sql = f"SELECT {correction.exprs['f_v']} AS f, v FROM decisions WHERE ts >= $start"
    rows = ctx.run(sql, {**correction.params, "start": INCIDENT_START}).to_pylist()
    fixed = np.array([r["f"] for r in rows])
    served = np.array([r["v"] for r in rows])
    # The x100 rows (but the 1% whose scaled-back value lies beyond the baseline's bulk).
    assert (served > 1000).sum() == 300
    assert (fixed > 1000).sum() < 10
    untouched = served < 1000
    assert (fixed[untouched] == served[untouched]).all()
    assert kind_of("range").action_item("`a`", "`b`") == (
        "Contract test on the units and valid range of `a` before it reaches `b`"
    )
