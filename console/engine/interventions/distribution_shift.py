"""distribution_shift (measures the source): console.engine.stats numeric_shift /
categorical_shift with the edge's psi_threshold, alpha and bins; broken when shifted.

Also the fallback for an edge without a planned intervention (unplanned): the distribution of
its observed end, with the default parameters.

The evidence is what the statistic counted, from its own query: per side the values in each
baseline-quantile bin (numeric) or in each category (categorical); no second scan."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from console.engine.context import Context
from console.engine.interventions.base import (
    VERDICTS,
    InterventionKind,
    Outcome,
    evidence_rows,
    sample_sql,
    stats_dict,
    windows,
)
from console.engine.results import Histogram, InterventionResult, Window
from console.engine.stats import (
    CategoricalShift,
    NumericShift,
    categorical_shift,
    numeric_shift,
)
from console.errors import ConsoleError
from console.playbook.model import Edge


class DistributionShift(InterventionKind):
    name = "distribution_shift"
    locate_rank = 3
    # A distribution that moved says the node shifted, not yet why: the engineer calls it
    # broken (the mechanism failed) or external (the world moved).
    broken_label = "SHIFTED"
    may_be_external = True

    def run(self, ctx: Context, edge: Edge, target: Window, params: dict[str, Any]) -> Outcome:
        return self.compare(ctx, edge, target, params, edge.source, planned=True)

    def unplanned(
        self, ctx: Context, edge: Edge, target: Window, params: dict[str, Any]
    ) -> Outcome:
        """An edge without a planned intervention (an external cause, the decision -> metric
        step): the distribution of its observed end, with the default thresholds."""
        observed = [
            n
            for n in (edge.source, edge.target)
            if ctx.node(n).expr and ctx.node(n).kind != "metric"
        ]
        if not observed:
            raise ConsoleError(
                f"{ctx.playbook.path}: edge {edge.source} -> {edge.target} has no planned "
                "intervention and neither end is observed; add an intervention or mark the edge "
                "by hand"
            )
        outcome = self.compare(ctx, edge, target, params, observed[0], planned=False)
        outcome.result.reasons.insert(
            0,
            f"edge {edge.source} -> {edge.target} has no planned intervention: compared the "
            f"distribution of {observed[0]} with the default thresholds instead",
        )
        return outcome

    def compare(
        self,
        ctx: Context,
        edge: Edge,
        target: Window,
        params: dict[str, Any],
        node_id: str,
        planned: bool,
    ) -> Outcome:
        node = ctx.node(node_id)
        # An unplanned comparison reads the defaults, whatever the edge says.
        planned_edge = edge if planned else Edge(edge.source, edge.target, edge.mechanism)
        psi = float(self.param(planned_edge, "psi_threshold"))
        alpha = float(self.param(planned_edge, "alpha"))
        sample = sample_sql(node.expr)
        name = target.name
        if node.type == "numeric":
            bins = int(self.param(planned_edge, "bins"))
            shift: Any = numeric_shift(
                ctx.run, sample, params, bins=bins, psi_threshold=psi, alpha=alpha
            )
            histogram = _numeric_shift_histogram(shift, name)
            evidence = _numeric_evidence(shift)
        else:
            shift = categorical_shift(ctx.run, sample, params, psi_threshold=psi, alpha=alpha)
            histogram = Histogram(
                edges=[c.category for c in shift.categories],
                series={
                    "baseline": [c.share_baseline for c in shift.categories],
                    name: [c.share_incident for c in shift.categories],
                },
            )
            evidence = _categorical_evidence(shift)
        verdict = VERDICTS.get(shift.verdict, "inconclusive")
        what = (
            "shifted"
            if shift.shifted
            else ("did not shift" if verdict == "ok" else "cannot be judged")
        )
        reasons = [f"{node.id} {what} between baseline and {name}: " + "; ".join(shift.reasons)]
        result = InterventionResult(
            edge=(edge.source, edge.target),
            node=node.id,
            type=self.name,
            verdict=verdict,
            statistics=stats_dict(shift, name),
            reasons=reasons,
            sql=list(shift.sql),
            rows={"baseline": shift.n_baseline, name: shift.n_incident},
            windows=windows(ctx, target),
            evidence=[],
            histogram=histogram,
        )
        # The evidence is the counts the statistic was computed from, taken from its own last
        # query (no second scan): per side, the PSI bins (numeric) or the categories.
        return Outcome(result, shift.sql[-1], params, evidence_rows(evidence))

    def action_item(self, a: str, b: str) -> str:
        return f"Contract test on the values of {a} (new or redefined categories) before they reach {b}"


def _numeric_evidence(shift: NumericShift) -> pa.Table:
    """Per side, the values in each baseline-quantile bin: [lower, upper), open-ended at
    either end (NULL). Counts are the shares times the side's values (exact integers)."""
    bounds: list[float | None] = [None, *shift.edges, None]
    sides = []
    for side, shares, values in (
        ("baseline", shift.bin_shares_baseline, shift.n_baseline - shift.nulls_baseline),
        ("incident", shift.bin_shares_incident, shift.n_incident - shift.nulls_incident),
    ):
        sides += [
            (side, b, bounds[b], bounds[b + 1], round(share * values))
            for b, share in enumerate(shares)
        ]
    return pa.table(
        {
            "w": pa.array([r[0] for r in sides], pa.string()),
            "bin": pa.array([r[1] for r in sides], pa.int64()),
            "lower": pa.array([r[2] for r in sides], pa.float64()),
            "upper": pa.array([r[3] for r in sides], pa.float64()),
            "n": pa.array([r[4] for r in sides], pa.int64()),
        }
    )


def _categorical_evidence(shift: CategoricalShift) -> pa.Table:
    """Per side, the rows of each category the statistic kept, of the rest folded together
    (value NULL, folded true) and of missing values (value NULL, folded false)."""
    rows = [
        (side, None if c.category == "(other)" else c.category, n, c.category == "(other)")
        for c in shift.categories
        for side, n in (("baseline", c.count_baseline), ("incident", c.count_incident))
        if n
    ]
    rows += [
        (side, None, n, False)
        for side, n in (("baseline", shift.nulls_baseline), ("incident", shift.nulls_incident))
        if n
    ]
    return pa.table(
        {
            "w": pa.array([r[0] for r in rows], pa.string()),
            "value": pa.array([r[1] for r in rows], pa.string()),
            "n": pa.array([r[2] for r in rows], pa.int64()),
            "folded": pa.array([r[3] for r in rows], pa.bool_()),
        }
    )


def _numeric_shift_histogram(shift: NumericShift, name: str) -> Histogram:
    """NumericShift's baseline-quantile bins; the two outer edges are drawn one neighbouring
    bin width beyond the outermost interior edge (the bins themselves are open-ended)."""
    inner = list(shift.edges)
    if not inner:
        return Histogram(edges=[], series={"baseline": [], name: []})
    step = inner[1] - inner[0] if len(inner) > 1 else max(abs(inner[0]), 1.0)
    last = inner[-1] - inner[-2] if len(inner) > 1 else step
    edges = [inner[0] - step, *inner, inner[-1] + last]
    return Histogram(
        edges=edges,
        series={"baseline": list(shift.bin_shares_baseline), name: list(shift.bin_shares_incident)},
    )


KIND = DistributionShift()
