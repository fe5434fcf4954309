"""What the baseline side of a comparison holds, read in one query per investigation: its rows
(which size the screening's sample, console.engine.screen_sample) and the live model's output
over them (the blast radius's baseline, console.engine.counterfactual).

The rows are IN_BASELINE's: the baseline's at the incident's hours of the day, the baseline
side of every two-sided comparison (console.engine.context).
"""

from __future__ import annotations

from dataclasses import dataclass

from console.engine.context import IN_BASELINE, Context, baseline_params


@dataclass(frozen=True)
class BaselineSummary:
    rows: int
    positive_rate: float | None  # share of every row whose decision is the positive label
    mean_score: float | None  # mean served score of the rows the live model scored


def errored_sql(ctx: Context) -> str:
    """TRUE for a row the live model never scored: status 'error' (when the store has the
    column) or no finite served score."""
    unscored = "(score IS NULL OR NOT isfinite(CAST(score AS DOUBLE)))"
    if not ctx.has_column("status"):
        return unscored
    return f"({unscored} OR coalesce(CAST(status AS VARCHAR) = 'error', false))"


def baseline_summary(ctx: Context) -> BaselineSummary:
    """The baseline side's rows and model output (cached on the context)."""
    if "baseline_summary" not in ctx.cache:
        row = ctx.run(
            "SELECT count(*) AS n, "
            "avg(CASE WHEN CAST(decision AS VARCHAR) = $positive THEN 1.0 ELSE 0.0 END) AS rate, "
            f"avg(CASE WHEN NOT {errored_sql(ctx)} THEN CAST(score AS DOUBLE) END) AS score "
            f"FROM decisions WHERE {IN_BASELINE}",
            {
                **baseline_params(ctx.baseline, ctx.incident),
                "positive": ctx.playbook.scorer.positive,
            },
        ).to_pylist()[0]
        ctx.cache["baseline_summary"] = BaselineSummary(
            rows=int(row["n"]),
            positive_rate=None if row["rate"] is None else float(row["rate"]),
            mean_score=None if row["score"] is None else float(row["score"]),
        )
    summary: BaselineSummary = ctx.cache["baseline_summary"]
    return summary
