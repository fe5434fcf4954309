"""The one-pass screen: how far every observed node moved, in a single DuckDB scan.

Triage (to classify the anomaly) and locate (to rank the causes) both need to know what moved
between the baseline and incident windows. One query (stats.screen_many) reads
the rows of both windows once and measures, for every node of the playbook that has an expression:

- the node itself (standardised mean shift, missing-rate change, category shares);
- `mismatch:<feature>`: the share of rows whose served value disagrees with the feature's
  reference recomputed from raw inputs (the cheap form of shadow_recompute);
- `stale:<from>:<to>`: the share of rows older than max_lag when served, per freshness edge;
- `contrib:<feature>`: the feature's term of the scorer's margin (linear/logistic scorers), so
  that a shift is weighted by how much the model can feel it;
- `live_margin`: the live score on the margin scale, and `unscored`: rows without a score.

Every incident row is read; the baseline is read in full up to SCREEN_BASELINE_ROWS rows and
beyond that through a deterministic 1-in-k sample (hash of ts), which LocateResult reports. The
result is cached on the Context: a second call costs nothing.
"""

from __future__ import annotations

import math
from datetime import timedelta

from console.engine.context import Context, side_params
from console.engine.expressions import (
    as_double,
    as_text,
    contribution_exprs,
    live_margin_expr,
    mismatch_expr,
    stale_expr,
)
from console.engine.stats import Screening, screen_many
from console.telemetry.store import duckdb_identifier

ROW_KINDS = ("source", "feature", "model", "decision")
# A screening is an effect size, not a test: half a million baseline rows measure a mean or a
# share to the third decimal, and keep the pass over a week of a busy model to about a second.
SCREEN_BASELINE_ROWS = 500_000


def screening_exprs(ctx: Context) -> dict[str, tuple[str, str]]:
    """name -> (row-level SQL, "numeric" | "categorical") for the one screening pass."""
    playbook = ctx.playbook
    exprs: dict[str, tuple[str, str]] = {}
    for node in playbook.nodes.values():
        if node.kind in ROW_KINDS and node.expr:
            exprs[node.id] = (node.expr, node.type)
    for node in playbook.nodes.values():
        if node.kind == "feature" and node.expr and node.reference:
            served, ref = _value_columns(node.id)
            mismatch = mismatch_expr(node, recompute_tolerance(ctx, node.id), served, ref)
            exprs[f"mismatch:{node.id}"] = (mismatch, "numeric")
    for edge in playbook.edges:
        if edge.intervention is not None and edge.intervention.type == "freshness":
            lag = edge.intervention.params.get("max_lag", timedelta(hours=2))
            seconds = lag.total_seconds() if isinstance(lag, timedelta) else float(lag)
            age = str(edge.intervention.params["age_expr"])
            exprs[f"stale:{edge.source}:{edge.target}"] = (stale_expr(age, seconds), "numeric")
    for feature, expr in contribution_exprs(playbook).items():
        exprs[f"contrib:{feature}"] = (expr, "numeric")
    margin = live_margin_expr(playbook.scorer)
    if margin is not None and ctx.has_column("score"):
        exprs["live_margin"] = (margin, "numeric")
    if ctx.has_column("score"):
        exprs["unscored"] = ("CASE WHEN score IS NULL THEN 1.0 ELSE 0.0 END", "numeric")
    return exprs


def _value_columns(node_id: str) -> tuple[str, str]:
    """Columns of the screening subquery holding a derived feature's served and reference
    values (each computed once per row, however often the mismatch test reads them)."""
    return duckdb_identifier(f"served:{node_id}"), duckdb_identifier(f"reference:{node_id}")


def baseline_stride(ctx: Context) -> int:
    """k such that one baseline row in k (at most SCREEN_BASELINE_ROWS) is screened."""
    if "baseline_stride" not in ctx.cache:
        rows = (
            ctx.run(
                "SELECT count(*) AS n FROM decisions WHERE ts >= $b_start AND ts < $b_end",
                {"b_start": ctx.baseline.start, "b_end": ctx.baseline.end},
            )
            .column("n")[0]
            .as_py()
        )
        ctx.cache["baseline_stride"] = max(1, math.ceil(int(rows) / SCREEN_BASELINE_ROWS))
    return ctx.cache["baseline_stride"]


def screening_from(ctx: Context) -> str:
    """FROM text of the screening query: every incident row and a deterministic 1-in-k sample
    of the baseline rows (by a hash of ts), with every derived feature's served and reference
    values as columns."""
    stride = baseline_stride(ctx)
    sample = "" if stride == 1 else f" AND hash(ts) % {stride} = 0"
    where = f"((ts >= $b_start AND ts < $b_end{sample}) OR (ts >= $i_start AND ts < $i_end))"
    extra = []
    for node in ctx.playbook.nodes.values():
        if node.kind == "feature" and node.expr and node.reference:
            served, ref = _value_columns(node.id)
            cast = as_text if node.type == "categorical" else as_double
            extra.append(f"{cast(node.expr)} AS {served}, {cast(node.reference)} AS {ref}")
    columns = ", ".join(["*", *extra])
    return f"(SELECT {columns} FROM decisions WHERE {where}) AS d"


def recompute_tolerance(ctx: Context, feature: str) -> float:
    """The tolerance of the shadow_recompute edge into feature (the default when none)."""
    for edge in ctx.playbook.edges:
        if (
            edge.target == feature
            and edge.intervention
            and edge.intervention.type == "shadow_recompute"
        ):
            return float(edge.intervention.params.get("tolerance", 1e-6))
    return 1e-6


def screen(ctx: Context) -> dict[str, Screening]:
    """The screening of every expression of screening_exprs (one query, cached)."""
    if "screening" not in ctx.cache:
        exprs = screening_exprs(ctx)
        from_sql = screening_from(ctx)
        params = side_params(ctx.baseline, ctx.incident)
        ctx.cache["screening"] = screen_many(
            ctx.run,
            exprs,
            from_sql,
            params,
            "ts >= $b_start AND ts < $b_end",
            "ts >= $i_start AND ts < $i_end",
        )
    return ctx.cache["screening"]


def mean_change(item: Screening | None) -> float | None:
    """incident mean - baseline mean of a numeric screening (None when either is missing)."""
    if item is None or item.mean_baseline is None or item.mean_incident is None:
        return None
    return item.mean_incident - item.mean_baseline
