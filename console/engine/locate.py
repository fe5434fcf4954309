"""Locate: walk back from the metric and rank where to intervene first.

Every ancestor of the metric (non-feedback edges) becomes a candidate, paired with the edge
whose planned intervention tests it (see tested_node and testing_edge). Candidates are scored
from the one-pass screening (console.engine.screening) by five kinds of evidence, each written
into the candidate's reasons with its numbers:

1. breakage signals (strong, up to 3 points each): each intervention type's (its module's
   breakage(): e.g. the served value disagrees with its reference recomputed from raw inputs;
   values older than the age limit); a jump in missing values; categories never seen in the
   baseline; rows left without a score;
2. impact on the model (up to 3 points): for linear/logistic scorers, how far the node moved
   the scorer's margin (the change of the mean contribution of the features it feeds, in
   logits), so a feature the model barely weighs cannot outrank one it leans on however far it
   moved; for the model node itself, the part of the live margin's change that the features
   do not explain. Python/http scorers fall back to the node's own effect size;
3. movement: half the node's screening effect size (at most 1 point);
4. change events tied to the node in the lookback (1 point when the node shows a breakage
   signal or a visible impact on the model; a quarter point otherwise, since a change with no
   visible effect explains nothing), times the proximity weight of the nearest event
   (console.engine.change_events: 1 in or one incident length before the window, decaying
   before that);
5. the testing edge's status: tentative (+0.3) and unverified (+0.15) before verified.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from console.engine.change_events import Weighed, describe_age, weighed_changes
from console.engine.context import Context
from console.engine.interventions import KINDS, kind_for, tested_node
from console.engine.results import Candidate, LocateResult
from console.engine.screening import baseline_stride, mean_change, screen
from console.engine.stats import Screening
from console.engine.stats_math import cohen_h
from console.playbook.graph import ancestors_backward, fed_by
from console.playbook.model import Edge


@dataclass(frozen=True)
class Weights:
    """Every number locate scores candidates by (docs/engine.md's weights table is tested
    against it). Points are summed; the intervention types' own breakage points (e.g. +3 for
    a served/reference mismatch) live in their modules."""

    null_points: float = 1.5  # missing values jumped
    null_effect: float = 0.2  # Cohen's h on the missing rate that counts as a jump
    new_category_points: float = 1.5  # categories never seen in the baseline
    new_category_share: float = 0.01  # least incident share of a new top category
    unscored_points: float = 1.5  # rows without a score rose (model nodes)
    unscored_effect: float = 0.1  # Cohen's h on the unscored share that counts as a rise
    impact_max: float = 3.0  # impact points for a node that moved the margin without bound
    impact_scale: float = 0.1  # logits: an impact of this size earns half of impact_max
    impact_gate_effect: float = 0.2  # effect size under which a source's term is scaled down
    unknown_sensitivity: float = 2.0  # python/http scorers: impact = this x effect size
    unfed_max: float = 0.5  # impact points of a node that feeds no scorer input
    movement: float = 0.5  # movement points per unit of effect size
    movement_cap: float = 2.0  # effect size beyond which movement earns nothing more
    relevant_impact: float = 0.75  # impact points that make a node's change matter
    change_moved: float = 1.0  # change events on a node that moved
    change_unmoved: float = 0.25  # change events on a node that moved nothing
    tentative: float = 0.3  # the testing edge is tentative
    unverified: float = 0.15  # the testing edge is unverified


WEIGHTS = Weights()
# Which intervention types speak most directly about the node they test: each type's
# locate_rank (console.engine.interventions); an edge without one comes last.
UNPLANNED_RANK = max(kind.locate_rank for kind in KINDS) + 1


@dataclass(frozen=True)
class Evidence:
    """What screening measured about one candidate, as points and counts."""

    external: bool  # outside our systems: judged by its children
    signals: float  # breakage points (intervention types, missing values, categories...)
    impact: float  # impact points on the model
    magnitude: float  # screening effect size (0 when not screened)
    changes: float  # proximity weight of its nearest change event in the lookback (0: none)
    status: str  # the testing edge's status


def status_points(status: str, w: Weights = WEIGHTS) -> float:
    return {"tentative": w.tentative, "unverified": w.unverified}.get(status, 0.0)


def moved(e: Evidence, w: Weights = WEIGHTS) -> bool:
    """A change event explains the anomaly only if the node moved in a way that can reach
    the metric: a breakage signal, or a visible effect on the model."""
    return e.signals > 0 or e.impact >= w.relevant_impact


def change_points(e: Evidence, w: Weights = WEIGHTS) -> float:
    if not e.changes:
        return 0.0
    return e.changes * (w.change_moved if moved(e, w) else w.change_unmoved)


def candidate_points(e: Evidence, w: Weights = WEIGHTS) -> float:
    """The candidate's score: the sum of its evidence's points (decide)."""
    points = e.signals
    if not e.external:
        points += e.impact
        points += w.movement * min(e.magnitude, w.movement_cap)
    points += change_points(e, w)
    points += status_points(e.status, w)
    return points


def saturating(x: float, w: Weights = WEIGHTS) -> float:
    """Impact points for a margin change of x logits: impact_max x / (x + impact_scale)."""
    return w.impact_max * x / (x + w.impact_scale)


def root_node(ctx: Context, edge: Edge) -> str:
    """The node an edge found broken puts the blame on: the node its intervention measures,
    unless its type says otherwise (model_version behind a serving node)."""
    kind = kind_for(edge)
    return kind.root_node(ctx, edge) if kind else edge.source


def testing_edge(ctx: Context, node: str, on_path: set[str]) -> Edge | None:
    """The edge whose intervention tests node: one that measures node itself, else one of its
    outgoing edges with an intervention, else its outgoing edge towards the metric."""
    edges = [e for e in ctx.playbook.edges if not e.feedback]

    def order(e: Edge) -> tuple[int, int, int]:
        kind = kind_for(e)
        rank = kind.locate_rank if kind else UNPLANNED_RANK
        return (rank, 0 if e.target in on_path else 1, ctx.playbook.edges.index(e))

    own = [
        e
        for e in edges
        if e.intervention and tested_node(e) == node and node in (e.source, e.target)
    ]
    if own:
        return min(own, key=order)
    outgoing = [e for e in edges if e.source == node and e.intervention]
    if outgoing:
        return min(outgoing, key=order)
    towards = [e for e in edges if e.source == node and e.target in on_path]
    return min(towards, key=order) if towards else None


def run_locate(ctx: Context) -> LocateResult:
    ancestors = ancestors_backward(ctx.graph, ctx.metric)
    on_path = set(ancestors) | {ctx.metric}
    screening = screen(ctx)
    impacts = _impacts(ctx, screening)
    scored: list[tuple[float, int, Candidate]] = []
    for order, node_id in enumerate(ancestors):
        if ctx.node(node_id).kind == "metric":
            continue
        edge = testing_edge(ctx, node_id, on_path)
        if edge is None:
            continue
        points, candidate = _candidate(ctx, node_id, edge, screening, impacts)
        scored.append((-points, order, candidate))
    scored.sort(key=lambda t: (t[0], t[1]))
    candidates = [Candidate(**{**c.__dict__, "rank": i + 1}) for i, (_, _, c) in enumerate(scored)]
    figures = {name: _figures(s) for name, s in screening.items()}
    sql = next(iter(screening.values())).sql if screening else []
    return LocateResult(
        metric=ctx.metric,
        ancestors=ancestors,
        candidates=candidates,
        screening=figures,
        sql=sql,
        baseline_sample=baseline_stride(ctx),
    )


def _candidate(
    ctx: Context,
    node_id: str,
    edge: Edge,
    screening: dict[str, Screening],
    impacts: dict[str, float],
) -> tuple[float, Candidate]:
    """Measure the candidate's evidence (with the reasons for its breakage and impact
    points), decide its score, explain its change events and edge."""
    item = screening.get(node_id)
    reasons: list[str] = []
    external = ctx.node(node_id).kind == "external"
    signals = _breakage(ctx, node_id, edge, screening, reasons)
    if external:
        reasons.append(
            "outside our systems and unobserved: judged by its children; named only when "
            "every planned intervention passes"
        )
    impact = 0.0 if external else _impact_points(ctx, node_id, item, impacts, reasons)
    weighed = weighed_changes(ctx, node_id)
    changes = [c.event for c in weighed]
    evidence = Evidence(
        external=external,
        signals=signals,
        impact=impact,
        magnitude=item.magnitude if item else 0.0,
        changes=max((c.weight for c in weighed), default=0.0),
        status=edge.status,
    )
    points = candidate_points(evidence)
    reasons += _change_reasons(ctx, evidence, weighed) + _edge_reasons(edge)
    return points, Candidate(
        rank=0,
        node=node_id,
        edge=(edge.source, edge.target),
        score=round(points, 4),
        reasons=reasons,
        shift=item.magnitude if item else None,
        changes=changes,
        edge_status=edge.status,
        intervention=edge.intervention.type if edge.intervention else None,
    )


def _change_reasons(ctx: Context, e: Evidence, weighed: list[Weighed]) -> list[str]:
    if not weighed:
        return []
    listed = "; ".join(
        f"{w.event.kind} at {w.event.ts:%Y-%m-%d %H:%M}Z ({describe_age(ctx, w.event)}, "
        f"weight {w.weight:.2f}): {w.event.summary}"
        for w in weighed
    )
    points = change_points(e)
    if moved(e):
        return [f"{len(weighed)} change event(s) on it in the lookback (+{points:.2f}): {listed}"]
    return [
        f"{len(weighed)} change event(s) on it in the lookback (+{points:.2f}) but it moved "
        f"nothing the model or the metric feels: {listed}"
    ]


def _edge_reasons(edge: Edge) -> list[str]:
    reasons = []
    points = status_points(edge.status)
    if points:
        reasons.append(f"edge {edge.source} -> {edge.target} is {edge.status} (+{points:g})")
    if edge.intervention is None:
        reasons.append(f"edge {edge.source} -> {edge.target} has no planned intervention")
    return reasons


# -- evidence ------------------------------------------------------------------------------


def _breakage(
    ctx: Context, node_id: str, edge: Edge, screening: dict[str, Screening], reasons: list[str]
) -> float:
    points = 0.0
    node = ctx.node(node_id)
    # What each intervention type's screening says about the node (mismatch, staleness...).
    for kind in KINDS:
        points += kind.breakage(ctx, node_id, edge, screening, reasons)
    item = screening.get(node_id)
    if (
        item is not None
        and item.null_effect is not None
        and item.null_effect >= WEIGHTS.null_effect
    ):
        points += WEIGHTS.null_points
        reasons.append(
            f"missing values {item.null_rate_baseline:.1%} -> {item.null_rate_incident:.1%} "
            f"(Cohen's h {item.null_effect:.2f})"
        )
    if item is not None and item.kind == "categorical" and item.new_categories:
        new_share = item.top_share_incident if item.top_category in item.new_categories else None
        if new_share is None or new_share >= WEIGHTS.new_category_share:
            points += WEIGHTS.new_category_points
            shown = ", ".join(repr(c) for c in item.new_categories[:4])
            share = (
                f"; {item.top_category!r} alone is {new_share:.1%} of incident rows"
                if new_share
                else ""
            )
            reasons.append(f"categories never seen in the baseline: {shown}{share}")
    if node.kind == "model":
        unscored = screening.get("unscored")
        if unscored is not None and unscored.mean_incident is not None:
            base = unscored.mean_baseline or 0.0
            inc = unscored.mean_incident
            h = abs(cohen_h(base, inc))
            if inc > base and h >= WEIGHTS.unscored_effect:
                points += WEIGHTS.unscored_points
                reasons.append(f"rows without a score {base:.2%} -> {inc:.2%} (Cohen's h {h:.2f})")
    return points


def _impacts(ctx: Context, screening: dict[str, Screening]) -> dict[str, float]:
    """feature node id -> |change of its mean margin contribution| (linear/logistic only)."""
    out = {}
    for name, item in screening.items():
        if name.startswith("contrib:"):
            delta = mean_change(item)
            if delta is not None:
                out[name.removeprefix("contrib:")] = abs(delta)
    return out


def _impact_points(
    ctx: Context,
    node_id: str,
    item: Screening | None,
    impacts: dict[str, float],
    reasons: list[str],
) -> float:
    node = ctx.node(node_id)
    magnitude = item.magnitude if item else 0.0
    if not impacts:
        points = min(WEIGHTS.impact_max, WEIGHTS.unknown_sensitivity * magnitude)
        if item is not None:
            reasons.append(
                f"moved by effect size {magnitude:.2f} (the scorer's sensitivity is not known)"
            )
        return points
    if node.kind == "model" and node_id in _score_models(ctx):
        live = mean_change(ctx.cache["screening"].get("live_margin"))
        if live is None:
            return 0.0
        explained = sum(mean_change(ctx.cache["screening"][f"contrib:{f}"]) or 0.0 for f in impacts)
        unexplained = abs(live - explained)
        points = saturating(unexplained)
        reasons.append(
            f"live margin moved {live:+.3f} logits, the features explain {explained:+.3f}: "
            f"{unexplained:.3f} unexplained by the inputs"
        )
        return points
    fed = fed_by(ctx.causal(), node_id, impacts)
    if not fed:
        if item is not None:
            reasons.append(f"moved by effect size {magnitude:.2f}; feeds no scorer input")
        return min(WEIGHTS.unfed_max, magnitude)
    best = max(fed, key=lambda f: impacts[f])
    impact = impacts[best]
    gate = 1.0 if best == node_id else min(1.0, magnitude / WEIGHTS.impact_gate_effect)
    effective = impact * gate
    points = saturating(effective)
    via = "its" if best == node_id else f"the {best} term's"
    text = f"{via} mean margin contribution moved {impact:.3f} logits"
    if best != node_id:
        text += f"; it moved by effect size {magnitude:.2f}"
        if gate < 1.0:
            text += f" (counted x{gate:.2f}: under a small effect)"
    elif item is not None:
        text += f" (effect size {magnitude:.2f})"
    reasons.append(text)
    return points


def _score_models(ctx: Context) -> set[str]:
    return {
        n.id for n in ctx.playbook.nodes.values() if n.kind == "model" and n.expr.strip() == "score"
    }


def _figures(item: Screening) -> dict[str, Any]:
    data = item.to_dict()
    data.pop("sql", None)
    return data
