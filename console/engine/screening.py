"""The one-pass screen: how far every observed node moved, in a single DuckDB scan.

Triage (to classify the anomaly) and locate (to rank the causes) both need to know what moved
between the baseline and incident windows. One screen_many call reads the rows of both windows
once and measures, for every node of the playbook that has an expression:

- the node itself (standardised mean shift, missing-rate change, category shares);
- `mismatch:<feature>`: the share of rows whose served value disagrees with the feature's
  reference recomputed from raw inputs (the cheap form of shadow_recompute);
- `stale:<from>:<to>`: the share of rows older than max_lag when served, per freshness edge;
- `contrib:<feature>`: the feature's term of the scorer's margin (linear/logistic scorers), so
  that a shift is weighted by how much the model can feel it;
- `live_margin`: the live score on the margin scale, and `unscored`: rows without a score.

The result is cached on the Context: a second call costs nothing.
"""

from __future__ import annotations

from datetime import timedelta

from console.engine.context import SIDE_WHERE, Context, side_params
from console.engine.expressions import (
    contribution_exprs,
    live_margin_expr,
    mismatch_expr,
    stale_expr,
)
from console.engine.stats import Screening, screen_many

ROW_KINDS = ("source", "feature", "model", "decision")


def screening_exprs(ctx: Context) -> dict[str, tuple[str, str]]:
    """name -> (row-level SQL, "numeric" | "categorical") for the one screening pass."""
    playbook = ctx.playbook
    exprs: dict[str, tuple[str, str]] = {}
    for node in playbook.nodes.values():
        if node.kind in ROW_KINDS and node.expr:
            exprs[node.id] = (node.expr, node.type)
    for node in playbook.nodes.values():
        if node.kind == "feature" and node.expr and node.reference:
            exprs[f"mismatch:{node.id}"] = (mismatch_expr(node, recompute_tolerance(ctx, node.id)), "numeric")
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


def recompute_tolerance(ctx: Context, feature: str) -> float:
    """The tolerance of the shadow_recompute edge into feature (the default when none)."""
    for edge in ctx.playbook.edges:
        if edge.target == feature and edge.intervention and edge.intervention.type == "shadow_recompute":
            return float(edge.intervention.params.get("tolerance", 1e-6))
    return 1e-6


def screen(ctx: Context) -> dict[str, Screening]:
    """The screening of every expression of screening_exprs (one query, cached)."""
    if "screening" not in ctx.cache:
        exprs = screening_exprs(ctx)
        from_sql = f"(SELECT * FROM decisions WHERE {SIDE_WHERE}) AS d"
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
