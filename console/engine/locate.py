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
4. change events tied to the node in or just before the incident window (1 point when the node
   shows a breakage signal or a visible impact on the model; a quarter point otherwise, since a
   change with no visible effect explains nothing);
5. the testing edge's status: tentative (+0.3) and unverified (+0.15) before verified.
"""

from __future__ import annotations

import math

import networkx as nx

from console.engine.context import Context
from console.engine.interventions import KINDS, kind_for, tested_node
from console.engine.results import Candidate, LocateResult
from console.engine.screening import baseline_stride, mean_change, screen
from console.engine.stats import Screening
from console.playbook.graph import ancestors_backward
from console.playbook.model import Edge

STATUS_POINTS = {"tentative": 0.3, "unverified": 0.15, "verified": 0.0}
# Which intervention types speak most directly about the node they test: each type's
# locate_rank (console.engine.interventions); an edge without one comes last.
UNPLANNED_RANK = max(kind.locate_rank for kind in KINDS) + 1
RELEVANT_IMPACT = 0.75  # impact points (about 0.03 logits) that make a node's change matter
IMPACT_SCALE = 0.1  # logits: an impact of this size earns half the impact points


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
        node = ctx.node(node_id)
        if node.kind == "metric":
            continue
        edge = testing_edge(ctx, node_id, on_path)
        if edge is None:
            continue
        item = screening.get(node_id)
        reasons: list[str] = []
        signals = _breakage(ctx, node_id, edge, screening, reasons)
        points = signals
        impact = 0.0
        if node.kind == "external":
            reasons.append(
                "outside our systems and unobserved: judged by its children; named only when "
                "every planned intervention passes"
            )
        else:
            impact = _impact_points(ctx, node_id, item, impacts, reasons)
            points += impact
            magnitude = item.magnitude if item else 0.0
            points += 0.5 * min(magnitude, 2.0)
        # A change event explains the anomaly only if the node moved in a way that can reach
        # the metric: a breakage signal, or a visible effect on the model.
        moved = signals > 0 or impact >= RELEVANT_IMPACT
        changes = ctx.changes_near(node_id)
        if changes:
            if moved:
                points += 1.0
                reasons.append(
                    f"{len(changes)} change event(s) on it in or just before the incident: "
                    + "; ".join(f"{c.kind} at {c.ts:%Y-%m-%d %H:%M}Z: {c.summary}" for c in changes)
                )
            else:
                points += 0.25
                reasons.append(
                    f"{len(changes)} change event(s) on it ({changes[0].kind}: {changes[0].summary}) "
                    "but it moved nothing the model or the metric feels"
                )
        status_points = STATUS_POINTS.get(edge.status, 0.0)
        if status_points:
            points += status_points
            reasons.append(
                f"edge {edge.source} -> {edge.target} is {edge.status} (+{status_points:g})"
            )
        if edge.intervention is None:
            reasons.append(f"edge {edge.source} -> {edge.target} has no planned intervention")
        scored.append(
            (
                -points,
                order,
                Candidate(
                    rank=0,
                    node=node_id,
                    edge=(edge.source, edge.target),
                    score=round(points, 4),
                    reasons=reasons,
                    shift=item.magnitude if item else None,
                    changes=changes,
                    edge_status=edge.status,
                    intervention=edge.intervention.type if edge.intervention else None,
                ),
            )
        )
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
    if item is not None and item.null_effect is not None and item.null_effect >= 0.2:
        points += 1.5
        reasons.append(
            f"missing values {item.null_rate_baseline:.1%} -> {item.null_rate_incident:.1%} "
            f"(Cohen's h {item.null_effect:.2f})"
        )
    if item is not None and item.kind == "categorical" and item.new_categories:
        new_share = item.top_share_incident if item.top_category in item.new_categories else None
        if new_share is None or new_share >= 0.01:
            points += 1.5
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
            h = _h(base, inc)
            if inc > base and h >= 0.1:
                points += 1.5
                reasons.append(f"rows without a score {base:.2%} -> {inc:.2%} (Cohen's h {h:.2f})")
    return points


def _h(p1: float, p2: float) -> float:
    return abs(
        2 * math.asin(math.sqrt(min(max(p2, 0.0), 1.0)))
        - 2 * math.asin(math.sqrt(min(max(p1, 0.0), 1.0)))
    )


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
        points = min(3.0, 2.0 * magnitude)
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
        points = 3.0 * unexplained / (unexplained + IMPACT_SCALE)
        reasons.append(
            f"live margin moved {live:+.3f} logits, the features explain {explained:+.3f}: "
            f"{unexplained:.3f} unexplained by the inputs"
        )
        return points
    fed = [f for f in impacts if f == node_id or nx.has_path(_causal(ctx), node_id, f)]
    if not fed:
        if item is not None:
            reasons.append(f"moved by effect size {magnitude:.2f}; feeds no scorer input")
        return min(0.5, magnitude)
    best = max(fed, key=lambda f: impacts[f])
    impact = impacts[best]
    gate = 1.0 if best == node_id else min(1.0, magnitude / 0.2)
    effective = impact * gate
    points = 3.0 * effective / (effective + IMPACT_SCALE)
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


def _causal(ctx: Context) -> nx.DiGraph:
    if "causal_graph" not in ctx.cache:
        graph = nx.DiGraph()
        graph.add_nodes_from(ctx.playbook.nodes)
        graph.add_edges_from((e.source, e.target) for e in ctx.playbook.edges if not e.feedback)
        ctx.cache["causal_graph"] = graph
    return ctx.cache["causal_graph"]


def _figures(item: Screening) -> dict:
    data = item.to_dict()
    data.pop("sql", None)
    return data
