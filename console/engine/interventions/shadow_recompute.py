"""shadow_recompute (measures the edge's target): recompute the feature from its reference and
count rows whose served value differs (numeric: beyond `tolerance`, relative above 1); broken
when more than `max_mismatch_rate` of the window's rows differ."""

from __future__ import annotations

from typing import Any

from console.engine.context import SIDE_CASE, SIDE_WHERE, Context
from console.engine.corrections import Correction, rescore
from console.engine.expressions import as_double, as_text, finite_or_null, mismatch_expr
from console.engine.interventions.base import (
    EVIDENCE_ROWS,
    MIN_ROWS,
    InterventionKind,
    Outcome,
    category_histogram,
    count,
    numeric_histogram_sql,
    rows_to_numeric_histogram,
    windows,
)
from console.engine.results import Histogram, InterventionResult, Verdict, Window
from console.engine.screen_sample import value_columns
from console.engine.stats import Screening
from console.numbers import share
from console.playbook.model import Edge, Node

# A reference that disagrees with the served value on this share of the baseline's rows does
# not reproduce the feature even when all was well: the playbook is wrong, not the pipeline.
REFERENCE_BROKEN_RATE = 0.5


class ShadowRecompute(InterventionKind):
    name = "shadow_recompute"
    measures = "target"
    locate_rank = 0
    action_owner = "target"

    def run(self, ctx: Context, edge: Edge, target: Window, params: dict[str, Any]) -> Outcome:
        node = ctx.node(edge.target)
        tolerance = float(self.param(edge, "tolerance"))
        max_rate = float(self.param(edge, "max_mismatch_rate"))
        # Served and reference values are computed once per row, then compared.
        cast = as_text if node.type == "categorical" else as_double
        values = f"{cast(node.expr)} AS served, {cast(node.reference)} AS recomputed"
        mismatch = mismatch_expr(node, tolerance, "served", "recomputed")
        sql = (
            f"SELECT w, count(*) AS n, sum({mismatch}) AS mismatched FROM (SELECT {SIDE_CASE} AS w, "
            f"{values} FROM decisions WHERE {SIDE_WHERE}) AS s WHERE w IS NOT NULL GROUP BY w"
        )
        sides = {r["w"]: r for r in ctx.run(sql, params).to_pylist()}
        n_b, n_t = count(sides, "baseline", "n"), count(sides, "incident", "n")
        x_b, x_t = count(sides, "baseline", "mismatched"), count(sides, "incident", "mismatched")
        rate_b = x_b / n_b if n_b else None
        rate_t = x_t / n_t if n_t else 0.0
        name = target.name
        stats = {
            "tolerance": tolerance,
            "max_mismatch_rate": max_rate,
            "mismatch_rate_baseline": rate_b,
            f"mismatch_rate_{name}": rate_t if n_t else None,
            "mismatched_baseline": x_b,
            f"mismatched_{name}": x_t,
            "served": node.expr,
            "reference": node.reference,
        }
        verdict: Verdict
        if n_t < MIN_ROWS:
            verdict, reasons = "inconclusive", [f"{name} window holds {n_t} rows (need {MIN_ROWS})"]
        elif rate_b is not None and n_b >= MIN_ROWS and rate_b > REFERENCE_BROKEN_RATE:
            verdict = "inconclusive"
            reasons = [
                f"a playbook error, not an incident: nodes.{node.id}.reference ({node.reference}) "
                f"differs from the served {node.id} ({node.expr}) on {x_b} of {n_b} baseline rows "
                f"({rate_b:.2%}) as well as {rate_t:.2%} of {name} rows; fix "
                f"nodes.{node.id}.reference or nodes.{node.id}.expr in {ctx.playbook.path}"
            ]
        elif rate_t > max_rate:
            verdict = "broken"
            reasons = [
                f"served {node.id} differs from its reference on {x_t} of {n_t} {name} rows "
                f"({rate_t:.2%} > max_mismatch_rate {max_rate:.2%}); baseline {share(rate_b)}"
            ]
        else:
            verdict = "ok"
            reasons = [
                f"served {node.id} matches its reference: {x_t} of {n_t} {name} rows differ "
                f"({rate_t:.2%} <= {max_rate:.2%}); baseline {share(rate_b)}"
            ]
        histogram, hist_sql = _served_vs_recomputed(ctx, node, target)
        evidence_sql = (
            f"SELECT * FROM (SELECT prediction_id, ts, {values} FROM decisions "
            f"WHERE ts >= $start AND ts < $end) AS s WHERE ({mismatch}) = 1.0 "
            f"ORDER BY ts, prediction_id LIMIT {EVIDENCE_ROWS}"
        )
        result = InterventionResult(
            edge=(edge.source, edge.target),
            node=node.id,
            type=self.name,
            verdict=verdict,
            statistics=stats,
            reasons=reasons,
            sql=[sql, *hist_sql, evidence_sql],
            rows={"baseline": n_b, name: n_t},
            windows=windows(ctx, target),
            evidence=[],
            histogram=histogram,
        )
        return Outcome(result, evidence_sql, {"start": target.start, "end": target.end})

    def screening_exprs(self, ctx: Context) -> dict[str, tuple[str, str]]:
        """mismatch:<feature>: 1.0 where a derived feature's served value disagrees with its
        reference (the cheap form of this intervention), for every feature with a reference."""
        exprs = {}
        for node in ctx.playbook.nodes.values():
            if node.kind == "feature" and node.expr and node.reference:
                served, ref = value_columns(node.id)
                mismatch = mismatch_expr(node, self._tolerance_into(ctx, node.id), served, ref)
                exprs[f"mismatch:{node.id}"] = (mismatch, "numeric")
        return exprs

    def _tolerance_into(self, ctx: Context, feature: str) -> float:
        """The tolerance of this type's edge into feature (the default when none)."""
        for edge in self.edges_planning(ctx):
            if edge.target == feature:
                return float(self.param(edge, "tolerance"))
        return float(self.default("tolerance"))

    def breakage(
        self,
        ctx: Context,
        node_id: str,
        edge: Edge,
        screening: dict[str, Screening],
        reasons: list[str],
    ) -> float:
        mismatch = screening.get(f"mismatch:{node_id}")
        if mismatch is None or mismatch.mean_incident is None:
            return 0.0
        threshold = float(self.default("max_mismatch_rate"))
        planned = self.planned_on(edge)
        if planned is not None and edge.target == node_id:
            threshold = float(self.param(planned, "max_mismatch_rate"))
        base = mismatch.mean_baseline or 0.0
        inc = mismatch.mean_incident
        if base > REFERENCE_BROKEN_RATE:
            reasons.append(
                f"served value disagrees with its reference on {base:.1%} of baseline rows too: "
                f"nodes.{node_id}.reference looks wrong in the playbook (no breakage signal)"
            )
        elif inc > threshold and inc > base + threshold:
            reasons.append(
                f"served value disagrees with its reference on {inc:.1%} of incident rows "
                f"(baseline {base:.1%}, max_mismatch_rate {threshold:.1%})"
            )
            return 3.0
        return 0.0

    def correction(self, ctx: Context, edge: Edge, features: list[str]) -> Correction:
        """The feature replaced by its reference over the raw inputs; a target the scorer does
        not read: the playbook scorer's re-score."""
        node = ctx.node(edge.target)
        if node.id not in features:
            return rescore()
        return Correction(
            f"{node.id} recomputed from its reference `{node.reference}`",
            {node.id: node.reference},
        )

    def action_item(self, a: str, b: str) -> str:
        return (
            f"Run the shadow recompute of {b} continuously and alert when the mismatch rate "
            "exceeds its max\\_mismatch\\_rate"
        )


def _served_vs_recomputed(ctx: Context, node: Node, target: Window) -> tuple[Histogram, list[str]]:
    window = {"start": target.start, "end": target.end}
    if node.type == "categorical":
        sql = (
            f"SELECT side, value, count(*) AS n FROM (SELECT 'served' AS side, {as_text(node.expr)} "
            f"AS value FROM decisions WHERE ts >= $start AND ts < $end UNION ALL SELECT 'recomputed', "
            f"{as_text(node.reference)} FROM decisions WHERE ts >= $start AND ts < $end) AS s "
            "GROUP BY side, value"
        )
        rows = ctx.run(sql, window).to_pylist()
        return category_histogram(rows, ("served", "recomputed")), [sql]
    served, ref = finite_or_null(node.expr), finite_or_null(node.reference)
    sql = (
        "SELECT side, x FROM (SELECT 'served' AS side, "
        f"{served} AS x FROM decisions WHERE ts >= $start AND ts < $end UNION ALL SELECT "
        f"'recomputed', {ref} FROM decisions WHERE ts >= $start AND ts < $end) AS s"
    )
    binned = numeric_histogram_sql(sql)
    rows = ctx.run(binned, window).to_pylist()
    return rows_to_numeric_histogram(rows, ("served", "recomputed")), [binned]


KIND = ShadowRecompute()
