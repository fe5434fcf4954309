"""The one-pass screen: how far every observed node moved, in a single DuckDB scan.

Triage (to classify the anomaly) and locate (to rank the causes) both need to know what moved
between the baseline and incident windows. One query (stats.screen_many) reads
the rows of both windows once and measures, for every node of the playbook that has an expression:

- the node itself (standardised mean shift, missing-rate change, category shares);
- what each intervention type screens (its module's screening_exprs, see
  console.engine.interventions), e.g. `mismatch:<feature>`, the share of rows whose served
  value disagrees with the feature's reference recomputed from raw inputs, and
  `stale:<from>:<to>`, the share of rows older than max_lag when served, per edge;
- `contrib:<feature>`: the feature's term of the scorer's margin (linear/logistic scorers), so
  that a shift is weighted by how much the model can feel it;
- `live_margin`: the live score on the margin scale, and `unscored`: rows without a score.

The baseline is its rows at the incident's hours of the day (context.IN_BASELINE): an input
with a daily cycle is compared with itself at the same hours, so an evening incident does not
make it look moved. Every incident row is read; the baseline's are read in full up to
SCREEN_BASELINE_ROWS rows and beyond that through a deterministic 1-in-k sample (whole hours,
or single rows of a short baseline, chosen by the defined hash: console.engine.screen_sample),
which LocateResult reports. The result is cached on the Context: a second call costs nothing.
"""

from __future__ import annotations

from typing import Any

from console.engine.context import IN_BASELINE, IN_INCIDENT, Context, side_params
from console.engine.expressions import as_double, as_text, contribution_exprs, live_margin_expr
from console.engine.interventions import KINDS
from console.engine.screen_sample import SCREEN_BASELINE_ROWS as SCREEN_BASELINE_ROWS
from console.engine.screen_sample import baseline_sample, value_columns
from console.engine.screen_sample import baseline_stride as baseline_stride
from console.engine.stats import Screening, screen_many

ROW_KINDS = ("source", "feature", "model", "decision")


def screening_exprs(ctx: Context) -> dict[str, tuple[str, str]]:
    """name -> (row-level SQL, "numeric" | "categorical") for the one screening pass."""
    playbook = ctx.playbook
    exprs: dict[str, tuple[str, str]] = {}
    for node in playbook.nodes.values():
        if node.kind in ROW_KINDS and node.expr:
            exprs[node.id] = (node.expr, node.type)
    # What the intervention types screen: mismatch:<feature>, stale:<from>:<to>, ...
    for kind in KINDS:
        exprs.update(kind.screening_exprs(ctx))
    for feature, expr in contribution_exprs(playbook).items():
        exprs[f"contrib:{feature}"] = (expr, "numeric")
    margin = live_margin_expr(playbook.scorer)
    if margin is not None and ctx.has_column("score"):
        exprs["live_margin"] = (margin, "numeric")
    if ctx.has_column("score"):
        exprs["unscored"] = ("CASE WHEN score IS NULL THEN 1.0 ELSE 0.0 END", "numeric")
    return exprs


def screening_from(ctx: Context) -> tuple[str, dict[str, Any]]:
    """FROM text of the screening query and the parameters its sample reads: every incident
    row and a deterministic 1-in-k sample of the baseline rows at the same hours of the day
    (screen_sample.baseline_sample: whole time slices, or single rows, by the defined hash), with
    every derived feature's served and reference values as columns."""
    sample, params = baseline_sample(ctx)
    baseline = f"({IN_BASELINE}{sample})"
    extra = []
    for node in ctx.playbook.nodes.values():
        if node.kind == "feature" and node.expr and node.reference:
            served, ref = value_columns(node.id)
            cast = as_text if node.type == "categorical" else as_double
            extra.append(f"{cast(node.expr)} AS {served}, {cast(node.reference)} AS {ref}")
    columns = ", ".join(["*", *extra])
    # Two scans, one per side, rather than one scan of (baseline OR incident): each side's
    # time ranges then reach the Parquet reader, which skips the row groups outside them (an
    # OR of the two reads every row group between them: at 100M rows 6.7 s against 2.5 s).
    # The second keeps the incident rows the first did not read, so together they are the
    # rows of the OR, each once.
    return (
        f"(SELECT {columns} FROM decisions WHERE {baseline} UNION ALL "
        f"SELECT {columns} FROM decisions WHERE {IN_INCIDENT} AND NOT coalesce({baseline}, false)"
        ") AS d",
        params,
    )


def screen(ctx: Context) -> dict[str, Screening]:
    """The screening of every expression of screening_exprs (one query, cached)."""
    if "screening" not in ctx.cache:
        exprs = screening_exprs(ctx)
        from_sql, sample_params = screening_from(ctx)
        params = {**side_params(ctx.baseline, ctx.incident), **sample_params}
        ctx.cache["screening"] = screen_many(
            ctx.run,
            exprs,
            from_sql,
            params,
            IN_BASELINE,
            IN_INCIDENT,
        )
    screened: dict[str, Screening] = ctx.cache["screening"]
    return screened


def mean_change(item: Screening | None) -> float | None:
    """incident mean - baseline mean of a numeric screening (None when either is missing)."""
    if item is None or item.mean_baseline is None or item.mean_incident is None:
        return None
    return item.mean_incident - item.mean_baseline
