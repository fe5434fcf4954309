"""The default_rate intervention on small generated stores (the store of
test_engine_plausibility): broken when the share of default or sentinel values (the node's
sentinels, else 0 / '') rose by more than max_increase with p < 0.001; never external."""

from __future__ import annotations

import numpy as np
import pytest
from test_engine_plausibility import INCIDENT_START, Sides, amounts, context

from console.engine.interventions import kind_of, run_intervention
from console.engine.locate import run_locate

__all__ = ["context"]  # the fixture, shared with test_engine_plausibility

DEFAULTS = 'intervention = { type = "default_rate" }'


def _zeros_rising() -> Sides:
    base, inc = amounts(8000, 1), amounts(3000, 2)
    base[::500] = 0.0  # 0.2%
    inc[::20] = 0.0  # 5%
    return Sides(base, inc)


def test_zeros_rising_break_the_edge(context):
    ctx = context(_zeros_rising(), edge_v=DEFAULTS)
    outcome = run_intervention(ctx, ctx.edge("raw_v", "f_v"))
    result = outcome.result
    assert (result.type, result.verdict, result.node) == ("default_rate", "broken", "raw_v")
    stats = result.statistics
    assert stats["default_values"] == [0.0]
    assert stats["rate_incident"] == pytest.approx(0.05, abs=0.001)
    assert stats["rate_baseline"] == pytest.approx(0.002, abs=0.001)
    assert stats["p_value"] < 1e-6
    assert result.reasons[0].startswith("raw_v: default values (0.0): 0.")
    assert "> max_increase 2.00%, p " in result.reasons[0]
    assert result.histogram.edges == ["default", "other"]
    rows = ctx.run(outcome.evidence_sql, outcome.evidence_params).to_pylist()
    incident = [r for r in rows if r["w"] == "incident"]
    assert sum(r["defaults"] for r in incident) == 150
    assert not kind_of("default_rate").may_be_external


def test_missing_values_are_not_defaults(context):
    sides = _zeros_rising()
    sides.v_incident[1::3] = np.nan  # a third missing: null_rate's business, not a default
    ctx = context(sides, edge_v=DEFAULTS)
    result = run_intervention(ctx, ctx.edge("raw_v", "f_v")).result
    assert result.statistics["values_incident"] == 2000
    assert result.statistics["rate_incident"] == pytest.approx(0.05, abs=0.002)


def test_a_small_rise_in_a_count_that_is_often_zero_is_not_significant(context):
    rng = np.random.default_rng(3)
    base = rng.poisson(1.0, 8000).astype(float)
    inc = rng.poisson(1.0, 3000).astype(float)
    inc[1::30] = 0.0  # about 2 points more zeros
    ctx = context(Sides(base, inc), edge_v=DEFAULTS)
    result = run_intervention(ctx, ctx.edge("raw_v", "f_v")).result
    assert result.verdict == "ok", result.reasons


def test_declared_categorical_sentinels_rising_break_the_edge(context):
    rng = np.random.default_rng(4)
    c_b = rng.choice(["a", "b", "c"], 8000)
    c_i = rng.choice(["a", "b", "c"], 3000).astype(object)
    c_i[::8] = "unknown"
    sides = Sides(amounts(8000, 1), amounts(3000, 2), c_b, c_i.astype(str))
    ctx = context(sides, raw_c='sentinels = ["unknown", "XX"]', edge_c=DEFAULTS)
    result = run_intervention(ctx, ctx.edge("raw_c", "f_c")).result
    assert result.verdict == "broken"
    assert result.statistics["default_values"] == ["unknown", "XX"]
    assert result.statistics["rate_incident"] == pytest.approx(0.125, abs=0.001)


def test_empty_text_is_a_categorical_default_when_none_is_declared(context):
    rng = np.random.default_rng(4)
    c_i = rng.choice(["a", "b"], 3000).astype(object)
    c_i[::10] = ""
    sides = Sides(amounts(8000, 1), amounts(3000, 2), rng.choice(["a", "b"], 8000), c_i.astype(str))
    ctx = context(sides, edge_c=DEFAULTS)
    result = run_intervention(ctx, ctx.edge("raw_c", "f_c")).result
    assert (result.verdict, result.statistics["default_values"]) == ("broken", [""])


def test_max_increase_is_read_from_the_edge(context):
    edge = 'intervention = { type = "default_rate", max_increase = 0.1 }'
    ctx = context(_zeros_rising(), edge_v=edge)
    result = run_intervention(ctx, ctx.edge("raw_v", "f_v")).result
    assert result.verdict == "ok"
    assert "within max_increase 10.00%" in result.reasons[0]


def test_too_few_rows_are_inconclusive(context):
    ctx = context(Sides(amounts(8000, 1), np.zeros(20)), edge_v=DEFAULTS)
    result = run_intervention(ctx, ctx.edge("raw_v", "f_v")).result
    assert result.verdict == "inconclusive"
    assert "too few values" in result.reasons[0]


def test_locate_scores_a_jump_in_defaults_from_the_screening(context):
    ctx = context(_zeros_rising(), edge_v=DEFAULTS)
    located = run_locate(ctx)
    raw_v = next(c for c in located.candidates if c.node == "raw_v")
    assert any(
        r.startswith("default values (0.0) 0.2% -> 5.0% of the values") and r.endswith("+1.5)")
        for r in raw_v.reasons
    ), raw_v.reasons


def test_locate_ignores_a_small_rise_of_a_common_zero(context):
    rng = np.random.default_rng(3)
    base = rng.poisson(1.0, 8000).astype(float)
    inc = rng.poisson(1.0, 3000).astype(float)
    inc[1::30] = 0.0
    ctx = context(Sides(base, inc), edge_v=DEFAULTS)
    located = run_locate(ctx)
    raw_v = next(c for c in located.candidates if c.node == "raw_v")
    assert not any(r.startswith("default values") for r in raw_v.reasons)


def test_the_correction_draws_default_rows_from_the_baseline(context):
    ctx = context(_zeros_rising(), edge_v=DEFAULTS)
    correction = kind_of("default_rate").correction(ctx, ctx.edge("raw_v", "f_v"), ["f_v"])
    assert correction.describe.startswith("rows where raw_v holds a default")
    sql = f"SELECT {correction.exprs['f_v']} AS f, v FROM decisions WHERE ts >= $start"
    rows = ctx.run(sql, {**correction.params, "start": INCIDENT_START}).to_pylist()
    fixed = np.array([r["f"] for r in rows])
    served = np.array([r["v"] for r in rows])
    assert (served == 0).sum() == 150 and (fixed == 0).sum() == 0
    assert (fixed[served != 0] == served[served != 0]).all()


def test_locate_ignores_a_binary_flag_whose_zeros_moved_with_the_world(context):
    rng = np.random.default_rng(5)
    base = (rng.random(8000) < 0.5).astype(float)  # half zeros
    inc = (rng.random(3000) < 0.25).astype(float)  # three quarters zeros: h 0.52
    ctx = context(Sides(base, inc))  # no sentinels, no default_rate planned
    located = run_locate(ctx)
    raw_v = next(c for c in located.candidates if c.node == "raw_v")
    assert not any(r.startswith("default values") for r in raw_v.reasons)
    # Planned on the node, the same jump counts: someone said 0 is a default there.
    ctx = context(Sides(base, inc), edge_v=DEFAULTS)
    raw_v = next(c for c in run_locate(ctx).candidates if c.node == "raw_v")
    assert any(r.startswith("default values (0.0) 47.6% -> 74.7%") for r in raw_v.reasons)
