"""Interventions: run an edge's planned test on captured telemetry, read-only.

The registry of intervention types: one module per type (shadow_recompute.py,
distribution_shift.py, null_rate.py, freshness.py, model_version.py, range.py,
default_rate.py), each an InterventionKind (see base.py) registered in KINDS. Its parameters are declared in the playbook layer
(console.playbook.intervention_types), which the loader validates; the engine reads
everything else about a type from here: locate (the node it measures, its rank, its breakage
signal), the screening (its expressions), the counterfactual (its correction), the report
(its action item), the automatic run and the UI (whether "broken" may mean an external shift).

Each compares the baseline window with a second window (the incident, or the post-fix window
at validation) and returns an InterventionResult with a verdict ("inconclusive" when a window
holds too few rows to judge). Every result carries the SQL, row counts per window, a
Histogram for drawing, and the evidence rows, which the caller snapshots through
console.telemetry.evidence. An edge without a planned intervention is judged by the
distribution of its observed end with the default thresholds (distribution_shift's
`unplanned`).
"""

from __future__ import annotations

from dataclasses import replace

from console.engine.context import Context, side_params
from console.engine.interventions import (
    default_rate,
    distribution_shift,
    freshness,
    model_version,
    null_rate,
    range,
    shadow_recompute,
)
from console.engine.interventions.base import (
    InterventionKind,
    Outcome,
    feature_select,
    scorer_of,
)
from console.engine.results import Window
from console.playbook.model import Edge, Intervention

__all__ = [
    "KINDS",
    "InterventionKind",
    "Outcome",
    "feature_select",
    "kind_for",
    "kind_of",
    "run_intervention",
    "scorer_of",
    "tested_node",
]

# Every intervention type, in the order the screening measures them.
KINDS: tuple[InterventionKind, ...] = (
    shadow_recompute.KIND,
    distribution_shift.KIND,
    null_rate.KIND,
    freshness.KIND,
    model_version.KIND,
    range.KIND,
    default_rate.KIND,
)
_BY_NAME: dict[str, InterventionKind] = {kind.name: kind for kind in KINDS}
# What judges an edge without a planned intervention.
UNPLANNED = distribution_shift.KIND


def kind_of(name: str) -> InterventionKind:
    """The registered type called name (a playbook the loader accepted names only these)."""
    return _BY_NAME[name]


def kind_for(edge: Edge) -> InterventionKind | None:
    """The type of the edge's planned intervention (None: the edge has none)."""
    return _BY_NAME[edge.intervention.type] if edge.intervention else None


def tested_node(edge: Edge) -> str:
    """The node an edge's planned intervention measures (no intervention: the source)."""
    kind = kind_for(edge)
    return kind.tested_node(edge) if kind else edge.source


def run_intervention(
    ctx: Context, edge: Edge, target: Window | None = None, planned: Intervention | None = None
) -> Outcome:
    """Run one of edge's planned interventions (default: the first), baseline against target
    (default: the incident)."""
    target = target or ctx.incident
    params = side_params(ctx.baseline, target)
    planned = planned or edge.intervention
    if planned is None:
        return UNPLANNED.unplanned(ctx, edge, target, params)
    # A kind reads its parameters from edge.intervention: hand it the edge as if this were
    # its one planned intervention.
    return _BY_NAME[planned.type].run(ctx, replace(edge, intervention=planned), target, params)
