"""freshness (measures the source): the age_expr in seconds against max_lag; broken when more
than 1% of the window's rows (and more than twice the baseline's share) are older than
max_lag. The statistic and its evidence (per side and time bucket: rows, stale rows, the
oldest age) come from one scan."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyarrow.compute as pc

from console.engine.context import SIDE_CASE, SIDE_WHERE, Context, hours, sql_number
from console.engine.corrections import Correction, draw_from_baseline, fed_features
from console.engine.expressions import as_double, stale_expr
from console.engine.interventions.base import (
    MIN_ROWS,
    InterventionKind,
    Outcome,
    bucket_counts_sql,
    evidence_rows,
    shares_of,
    windows,
)
from console.engine.results import Histogram, InterventionResult, Verdict, Window
from console.engine.stats import Screening
from console.numbers import share
from console.playbook.model import Edge

FRESHNESS_SHARE = 0.01  # share of stale rows that is too many (and twice the baseline's)


class Freshness(InterventionKind):
    name = "freshness"
    locate_rank = 2

    def max_lag_seconds(self, edge: Edge) -> float:
        """The edge's max_lag in seconds (the one place it is read)."""
        lag = self.param(edge, "max_lag")
        return lag.total_seconds() if isinstance(lag, timedelta) else float(lag)

    def age_expr(self, edge: Edge) -> str:
        return str(self.param(edge, "age_expr"))

    def run(self, ctx: Context, edge: Edge, target: Window, params: dict[str, Any]) -> Outcome:
        lag_s = self.max_lag_seconds(edge)
        age = as_double(self.age_expr(edge))
        name = target.name
        edges = [0.0, lag_s / 4, lag_s / 2, lag_s, 2 * lag_s, 4 * lag_s]
        bins = " ".join(f"WHEN a < {sql_number(e)} THEN {i}" for i, e in enumerate(edges[1:]))
        # One scan for the statistic (grouped by side) and its evidence (by side and time
        # bucket): grouping sets aggregate the same rows both ways. A row of a window has a
        # time, so only the per-side rows have no bucket.
        sql = (
            f"SELECT w, bucket, count(*) AS n, count(a) AS known, count(*) FILTER (WHERE a > "
            f"{sql_number(lag_s)}) AS stale, quantile_cont(a, [0.5, 0.95, 0.99]) AS q, max(a) AS "
            f"oldest, histogram(CASE {bins} ELSE {len(edges) - 1} END) FILTER (WHERE a IS NOT "
            f"NULL) AS bins FROM (SELECT {SIDE_CASE} AS w, time_bucket($bucket, ts) AS bucket, "
            f"{age} AS a FROM decisions WHERE {SIDE_WHERE}) AS s WHERE w IS NOT NULL "
            "GROUP BY GROUPING SETS ((w), (w, bucket))"
        )
        params = {**params, "bucket": ctx.playbook.triage.bucket}
        found = ctx.run(sql, params)
        per_side = pc.is_null(found.column("bucket"))
        sides = {r["w"]: r for r in found.filter(per_side).to_pylist()}
        evidence = found.filter(pc.invert(per_side)).select(["w", "bucket", "n", "stale", "oldest"])
        evidence = evidence.rename_columns(["w", "bucket", "n", "stale", "oldest_s"])
        base, inc = sides.get("baseline", {}), sides.get("incident", {})
        known_b, known_t = int(base.get("known") or 0), int(inc.get("known") or 0)
        share_b = int(base.get("stale") or 0) / known_b if known_b else None
        share_t = int(inc.get("stale") or 0) / known_t if known_t else 0.0
        q_t = inc.get("q") or [None, None, None]
        stats = {
            "max_lag_s": lag_s,
            "stale_share_baseline": share_b,
            f"stale_share_{name}": share_t if known_t else None,
            f"age_p50_s_{name}": q_t[0],
            f"age_p95_s_{name}": q_t[1],
            f"age_p99_s_{name}": q_t[2],
            f"age_max_s_{name}": inc.get("oldest"),
            "age_p95_s_baseline": (base.get("q") or [None, None])[1],
        }
        max_lag = hours(timedelta(seconds=lag_s))
        verdict: Verdict
        if known_t < MIN_ROWS:
            verdict = "inconclusive"
            reasons = [f"{known_t} {name} rows with a known age (need {MIN_ROWS})"]
        elif share_t > max(FRESHNESS_SHARE, 2 * (share_b or 0.0)):
            verdict = "broken"
            reasons = [
                f"{share_t:.2%} of {name} rows were older than max_lag {max_lag} when served "
                f"(baseline {share(share_b)}); p95 age {q_t[1]:.0f} s"
            ]
        else:
            verdict = "ok"
            reasons = [
                f"{share_t:.2%} of {name} rows older than max_lag {max_lag} "
                f"(baseline {share(share_b)}); p95 age {q_t[1]:.0f} s"
            ]
        labels = [f"{e:g}" for e in edges] + ["older"]
        histogram = Histogram(
            edges=[
                f"{labels[i]}-{labels[i + 1]} s" if i < len(edges) - 1 else f">{labels[i]} s"
                for i in range(len(edges))
            ],
            series={
                "baseline": shares_of(base.get("bins"), len(edges)),
                name: shares_of(inc.get("bins"), len(edges)),
            },
        )
        result = InterventionResult(
            edge=(edge.source, edge.target),
            node=edge.source,
            type=self.name,
            verdict=verdict,
            statistics=stats,
            reasons=reasons,
            sql=[sql],
            rows={"baseline": int(base.get("n") or 0), name: int(inc.get("n") or 0)},
            windows=windows(ctx, target),
            evidence=[],
            histogram=histogram,
        )
        # The evidence names the query that gives exactly its rows on its own (a re-check).
        evidence_sql = bucket_counts_sql(
            age,
            f"count(*) AS n, count(*) FILTER (WHERE v > {sql_number(lag_s)}) AS stale, "
            "max(v) AS oldest_s",
        )
        return Outcome(result, evidence_sql, params, evidence_rows(evidence))

    def screening_exprs(self, ctx: Context) -> dict[str, tuple[str, str]]:
        """stale:<from>:<to>: 1.0 where the value was older than max_lag when served."""
        return {
            f"stale:{edge.source}:{edge.target}": (
                stale_expr(self.age_expr(edge), self.max_lag_seconds(edge)),
                "numeric",
            )
            for edge in self.edges_planning(ctx)
        }

    def breakage(
        self,
        ctx: Context,
        node_id: str,
        edge: Edge,
        screening: dict[str, Screening],
        reasons: list[str],
    ) -> float:
        points = 0.0
        for e in self.edges_planning(ctx):
            if e.source != node_id:
                continue
            stale = screening.get(f"stale:{e.source}:{e.target}")
            if stale is None or stale.mean_incident is None:
                continue
            base = stale.mean_baseline or 0.0
            inc = stale.mean_incident
            if inc > max(FRESHNESS_SHARE, 2 * base):
                points += 3.0
                reasons.append(
                    f"{inc:.1%} of incident rows older than max_lag when served "
                    f"(baseline {base:.1%})"
                )
        return points

    def correction(self, ctx: Context, edge: Edge, features: list[str]) -> Correction:
        """Rows older than max_lag get a baseline draw of every feature the source feeds."""
        fed = fed_features(ctx, edge.source, features)
        affected = f"CAST(({self.age_expr(edge)}) AS DOUBLE) > {self.max_lag_seconds(edge)!r}"
        what = f"rows where {edge.source} was older than max_lag"
        return draw_from_baseline(ctx, fed, affected, what)

    def action_item(self, a: str, b: str) -> str:
        return f"Alert on the age of {a} when served"


KIND = Freshness()
