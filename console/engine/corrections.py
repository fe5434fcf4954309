"""The counterfactual's corrections, as the intervention types build them.

A Correction says how the value an edge found broken is corrected for re-scoring: SQL of the
corrected value of each scorer feature it touches, the parameters that SQL reads and the words
the report quotes. Each intervention type picks one (InterventionKind.correction); the forms
they share are here: a re-score of the features as served, a rank-for-rank mapping onto the
baseline distribution, and a baseline draw for the rows a condition picks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from console.engine.context import IN_BASELINE, Context, baseline_params
from console.engine.dialect import hash64
from console.engine.expressions import as_text, finite_or_null
from console.engine.screen_sample import baseline_sample
from console.errors import ConsoleError
from console.playbook.graph import causal_graph, fed_by

QUANTILES = 200


@dataclass
class Correction:
    describe: str
    exprs: dict[str, str]  # scorer feature -> SQL of its corrected value
    # parameters the exprs read: $q0, $q1, ... the baseline quantiles of each corrected feature
    params: dict[str, list[Any] | None] = field(default_factory=dict)


def rescore() -> Correction:
    """No feature changes: the playbook scorer re-scores the features as served."""
    return Correction("the playbook scorer's re-score of the features as served", {})


def fed_features(ctx: Context, source: str, features: list[str]) -> list[str]:
    """The scorer features source is or feeds (non-feedback edges); an error when none."""
    fed = fed_by(causal_graph(ctx.playbook), source, features)
    if not fed:
        raise ConsoleError(
            f"{source} feeds none of the scorer's inputs ({', '.join(features)}): nothing to correct"
        )
    return fed


def rank_map(ctx: Context, fed: list[str]) -> Correction:
    """Every feature of fed mapped rank for rank onto its baseline distribution (ties broken
    by a hash of the prediction id)."""
    corr = Correction("", {})
    for i, feature in enumerate(fed):
        node = ctx.node(feature)
        value = finite_or_null(node.expr) if node.type == "numeric" else as_text(node.expr)
        rank = f"percent_rank() OVER (ORDER BY {value} NULLS FIRST, {hash64('prediction_id')})"
        corr.exprs[feature] = baseline_quantile(ctx, corr, i, feature, rank)
    corr.describe = f"{', '.join(fed)} mapped rank for rank onto the baseline distribution"
    return corr


def draw_from_baseline(ctx: Context, fed: list[str], affected: str, what: str) -> Correction:
    """On the rows where `affected` (SQL) holds, every feature of fed gets a deterministic draw
    from its baseline distribution (the quantile at a hash of the prediction id)."""
    corr = Correction("", {})
    for i, feature in enumerate(fed):
        draw = hash64(f"prediction_id || '{i}'")
        value = baseline_quantile(ctx, corr, i, feature, f"({draw} % 1000000) / 1000000.0")
        corr.exprs[feature] = (
            f"CASE WHEN {affected} THEN {value} ELSE ({ctx.node(feature).expr}) END"
        )
    corr.describe = f"{what}: {', '.join(fed)} drawn from the baseline distribution"
    return corr


def baseline_quantile(ctx: Context, corr: Correction, i: int, feature: str, position: str) -> str:
    """SQL of the baseline quantile of `feature` at `position` (0..1): the quantiles are
    bound as a parameter, computed once per investigation, so the blast radius and every
    explanation map onto the very same list, and an explanation does not read the baseline."""
    name = f"q{i}"
    corr.params[name] = quantiles(ctx, feature)
    kind = "DOUBLE[]" if ctx.node(feature).type == "numeric" else "VARCHAR[]"
    index = f"least({QUANTILES}, 1 + CAST(floor(({position}) * {QUANTILES}) AS BIGINT))"
    return f"list_extract(CAST(${name} AS {kind}), {index})"


def quantiles(ctx: Context, feature: str) -> list[Any] | None:
    """QUANTILES quantiles of the feature over the baseline at the incident's hours of the day
    (None when it holds no value)."""
    key = f"counterfactual_quantiles:{feature}"
    if key not in ctx.cache:
        node = ctx.node(feature)
        value = finite_or_null(node.expr) if node.type == "numeric" else as_text(node.expr)
        probs = ", ".join(f"{(k + 0.5) / QUANTILES!r}" for k in range(QUANTILES))
        # The same deterministic baseline sample as the screening: 200 quantiles need no more.
        sample, sample_params = baseline_sample(ctx)
        found = ctx.run(
            f"SELECT quantile_disc({value}, [{probs}]) AS qs FROM decisions "
            f"WHERE {IN_BASELINE}{sample} AND {value} IS NOT NULL",
            {**baseline_params(ctx.baseline, ctx.incident), **sample_params},
        )
        ctx.cache[key] = found.column("qs")[0].as_py()
    cached: list[Any] | None = ctx.cache[key]
    return cached
