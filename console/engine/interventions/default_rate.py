"""default_rate (measures the source): the share of the source's values that are a default or
sentinel (the node's declared `sentinels`, else 0 for a numeric node and '' for a categorical
one), baseline vs window, with the one-sided two-proportion test of
console.engine.stats.null_rate_change; broken when the share rose by more than `max_increase`
and p < 0.001. Shares are of the values present: missing values are null_rate's.

A default standing in for a value is the pipeline's doing, never the world's
(may_be_external False). Locate screens `default:<node>` for every source and feature and
gives a jump the points of a jump in missing values; where nobody named the default (no
sentinels declared, no default_rate planned on the node) only when the baseline rarely holds
it, as console.engine.plausibility does.
"""

from __future__ import annotations

from typing import Any

from console.engine.context import SIDE_CASE, SIDE_WHERE, Context
from console.engine.corrections import Correction, draw_from_baseline, fed_features
from console.engine.expressions import finite_or_null
from console.engine.interventions.base import (
    VERDICTS,
    InterventionKind,
    Outcome,
    bucket_counts_sql,
    windows,
)
from console.engine.plausibility import SENTINEL_RARE, default_values, sentinel_condition
from console.engine.results import Histogram, InterventionResult, Window
from console.engine.stats import NullRateChange, Screening, null_rate_change
from console.engine.stats_math import cohen_h
from console.playbook.model import Edge, Node

# Locate's points for a jump in default values: the same as locate's WEIGHTS.null_points for
# a jump in missing values (a default is a missing value in disguise); not read from there,
# since locate imports this registry.
DEFAULT_POINTS = 1.5
# Cohen's h of the default share's rise that counts as a jump in locate: the same as locate's
# WEIGHTS.null_effect, for the same reason (a common value a little more common is no jump).
DEFAULT_EFFECT = 0.2
# The nodes whose values a pipeline sends: the ones locate screens for defaults.
SCREENED_KINDS = ("source", "feature")


class DefaultRate(InterventionKind):
    name = "default_rate"
    # A default standing in for a value is as direct as a missing one (null_rate's rank).
    locate_rank = 1

    def run(self, ctx: Context, edge: Edge, target: Window, params: dict[str, Any]) -> Outcome:
        node = ctx.node(edge.source)
        value = _value(node)
        is_default = default_condition(node, "x")
        # null_rate_change counts NULLs: a default becomes NULL, any other value 1, and rows
        # without a value are left out, so its test measures the share of defaults among the
        # values present.
        sample = (
            f"SELECT w, CASE WHEN {is_default} THEN NULL ELSE 1 END AS v FROM (SELECT "
            f"{SIDE_CASE} AS w, {value} AS x FROM decisions WHERE {SIDE_WHERE}) AS s "
            "WHERE x IS NOT NULL"
        )
        max_increase = float(self.param(edge, "max_increase"))
        change = null_rate_change(
            ctx.run, sample, params, kind="categorical", max_increase=max_increase
        )
        verdict = VERDICTS.get(change.verdict, "inconclusive")
        name = target.name
        shown = ", ".join(repr(v) for v in default_values(node))
        rate_b, rate_t = change.rate_baseline or 0.0, change.rate_incident or 0.0
        histogram = Histogram(
            edges=["default", "other"],
            series={"baseline": [rate_b, 1 - rate_b], name: [rate_t, 1 - rate_t]},
        )
        evidence_sql = bucket_counts_sql(
            value,
            f"count(v) AS n, count(*) FILTER (WHERE {default_condition(node, 'v')}) AS defaults",
        )
        result = InterventionResult(
            edge=(edge.source, edge.target),
            node=node.id,
            type=self.name,
            verdict=verdict,
            statistics=_statistics(change, node, name),
            reasons=[f"{node.id}: default values ({shown}): {_reason(change, name)}"],
            sql=[*change.sql, evidence_sql],
            rows={"baseline": change.n_baseline, name: change.n_incident},
            windows=windows(ctx, target),
            evidence=[],
            histogram=histogram,
        )
        return Outcome(result, evidence_sql, {**params, "bucket": ctx.playbook.triage.bucket})

    def screening_exprs(self, ctx: Context) -> dict[str, tuple[str, str]]:
        """default:<node>: 1.0 where a source or feature holds one of its default values, 0.0
        where it holds another, NULL where it holds none."""
        exprs = {}
        for node in ctx.playbook.nodes.values():
            if node.kind in SCREENED_KINDS and node.expr:
                value = _value(node)
                flag = f"CASE WHEN {value} IS NULL THEN NULL WHEN {default_condition(node, value)}"
                exprs[f"default:{node.id}"] = (f"{flag} THEN 1.0 ELSE 0.0 END", "numeric")
        return exprs

    def breakage(
        self,
        ctx: Context,
        node_id: str,
        edge: Edge,
        screening: dict[str, Screening],
        reasons: list[str],
    ) -> float:
        item = screening.get(f"default:{node_id}")
        if item is None or item.mean_incident is None or item.inconclusive:
            return 0.0
        base, inc = item.mean_baseline or 0.0, item.mean_incident
        h = cohen_h(base, inc)
        node = ctx.node(node_id)
        # A 0 nobody called a default (no sentinels declared, no default_rate planned) counts
        # only where the baseline rarely holds it: a binary flag or a count whose share of 0
        # moves with the world is no pipeline fault.
        named = bool(node.sentinels) or self._planned_on(ctx, node_id)
        if h < DEFAULT_EFFECT or (not named and base >= SENTINEL_RARE):
            return 0.0
        shown = ", ".join(repr(v) for v in default_values(node))
        reasons.append(
            f"default values ({shown}) {base:.1%} -> {inc:.1%} of the values "
            f"(Cohen's h {h:.2f}, +{DEFAULT_POINTS:g})"
        )
        return DEFAULT_POINTS

    def _planned_on(self, ctx: Context, node_id: str) -> bool:
        return any(
            e.source == node_id and any(p.type == self.name for p in e.planned)
            for e in ctx.playbook.edges
        )

    def correction(self, ctx: Context, edge: Edge, features: list[str]) -> Correction:
        """Rows where the source holds a default get a baseline draw of every feature it
        feeds."""
        fed = fed_features(ctx, edge.source, features)
        node = ctx.node(edge.source)
        affected = f"coalesce({default_condition(node, _value(node))}, false)"
        return draw_from_baseline(ctx, fed, affected, f"rows where {edge.source} holds a default")

    def action_item(self, a: str, b: str) -> str:
        return f"Alert on the share of default or sentinel values of {a}"


def default_condition(node: Node, value: str) -> str:
    """SQL true where value (SQL of the node's value, see _value) is one of its defaults."""
    return sentinel_condition(node, default_values(node), bool(node.sentinels), value)


def _value(node: Node) -> str:
    """The node's value as compared with its defaults: numeric as a DOUBLE (NaN and
    infinities missing), categorical as it is."""
    return finite_or_null(node.expr) if node.type == "numeric" else f"({node.expr})"


def _statistics(change: NullRateChange, node: Node, name: str) -> dict[str, Any]:
    return {
        "default_values": list(default_values(node)),
        "values_baseline": change.n_baseline,
        f"values_{name}": change.n_incident,
        "defaults_baseline": change.nulls_baseline,
        f"defaults_{name}": change.nulls_incident,
        "rate_baseline": change.rate_baseline,
        f"rate_{name}": change.rate_incident,
        "increase": change.increase,
        "z": change.z,
        "p_value": change.p_value,
        **change.thresholds,
    }


def _reason(change: NullRateChange, name: str) -> str:
    """The test's outcome in words (null_rate_change's own reasons speak of missing values)."""
    t = change.thresholds
    nb, ni = change.n_baseline, change.n_incident
    if change.verdict == "inconclusive":
        return f"too few values: baseline {nb}, {name} {ni} (need {t['min_n']:g})"
    rb, ri, rise = change.rate_baseline or 0.0, change.rate_incident or 0.0, change.increase or 0.0
    rates = f"{rb:.2%} -> {ri:.2%} of the values ({rise:+.2%})"
    p = change.p_value if change.p_value is not None else 1.0
    if change.flagged:
        return f"{rates} > max_increase {t['max_increase']:.2%}, p {p:.3g} < {t['alpha']:g}"
    if rise >= t["max_increase"]:
        return f"{rates} but not significant: p {p:.3g} >= {t['alpha']:g}"
    return f"{rates}, within max_increase {t['max_increase']:.2%}"


KIND = DefaultRate()
