"""null_rate (measures the source): console.engine.stats null_rate_change's test with
max_increase; broken when flagged. The test's counts are summed from the evidence's per-bucket
counts: one scan of both windows gives the statistic and its evidence."""

from __future__ import annotations

from typing import Any

from console.engine.context import Context
from console.engine.corrections import Correction, draw_from_baseline, fed_features
from console.engine.expressions import finite_or_null
from console.engine.interventions.base import (
    VERDICTS,
    InterventionKind,
    Outcome,
    bucket_counts_sql,
    evidence_rows,
    side_sums,
    stats_dict,
    windows,
)
from console.engine.results import Histogram, InterventionResult, Window
from console.engine.stats import missing_sql, null_rate_from_counts
from console.playbook.model import Edge


class NullRate(InterventionKind):
    name = "null_rate"
    locate_rank = 1

    def run(self, ctx: Context, edge: Edge, target: Window, params: dict[str, Any]) -> Outcome:
        node = ctx.node(edge.source)
        name = target.name
        # One scan: the evidence's rows and missing values per side and time bucket, summed
        # per side for the test (the same counts null_rate_change's own query would give).
        evidence_sql = bucket_counts_sql(
            f"({node.expr})",
            f"count(*) AS n, count(*) FILTER (WHERE {missing_sql(node.type)}) AS missing",
        )
        evidence_params = {**params, "bucket": ctx.playbook.triage.bucket}
        counts = ctx.run(evidence_sql, evidence_params)
        sums = side_sums(counts, ["n", "missing"])
        base, inc = sums.get("baseline", {}), sums.get("incident", {})
        change = null_rate_from_counts(
            [evidence_sql],
            (base.get("n", 0), inc.get("n", 0)),
            (base.get("missing", 0), inc.get("missing", 0)),
            max_increase=float(self.param(edge, "max_increase")),
        )
        verdict = VERDICTS.get(change.verdict, "inconclusive")
        rate_b, rate_t = change.rate_baseline or 0.0, change.rate_incident or 0.0
        histogram = Histogram(
            edges=["missing", "present"],
            series={"baseline": [rate_b, 1 - rate_b], name: [rate_t, 1 - rate_t]},
        )
        result = InterventionResult(
            edge=(edge.source, edge.target),
            node=node.id,
            type=self.name,
            verdict=verdict,
            statistics=stats_dict(change, name),
            reasons=[f"{node.id}: " + "; ".join(change.reasons)],
            sql=change.sql,
            rows={"baseline": change.n_baseline, name: change.n_incident},
            windows=windows(ctx, target),
            evidence=[],
            histogram=histogram,
        )
        return Outcome(result, evidence_sql, evidence_params, evidence_rows(counts))

    def correction(self, ctx: Context, edge: Edge, features: list[str]) -> Correction:
        """Rows where the source is missing get a baseline draw of every feature it feeds."""
        fed = fed_features(ctx, edge.source, features)
        src = ctx.node(edge.source)
        affected = (
            f"({src.expr}) IS NULL"
            if src.type == "categorical"
            else f"({finite_or_null(src.expr)}) IS NULL"
        )
        return draw_from_baseline(ctx, fed, affected, f"rows where {edge.source} is missing")

    def action_item(self, a: str, b: str) -> str:
        return f"Alert on the missing-value rate of {a}"


KIND = NullRate()
