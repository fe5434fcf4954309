"""run_auto: every step with no person at the keyboard, following the ranking.

1. Triage. A false alarm ends here (decided as such in the trail) with the report.
2. Locate, then run the planned intervention of each candidate, best first (an edge shared by
   two candidates runs once). The first intervention that finds its edge broken ends the
   search, with one exception: a distribution_shift on an input with no change event on it or
   upstream of it (in or just before the incident window) shows the world moving, not our
   pipeline breaking, so it is noted as a possible external shift and the search goes on.
3. When no edge is broken, the anomaly is put down to an external shift, by elimination: the
   observed input under an external node that moved most (screening effect size, at least
   small) with no change event on it or upstream. Its edge from the external node is tested
   with a distribution comparison (it has no planned intervention) and marked external.
4. Counterfactual (broken edges only), explanation of the decision that moved most, validation
   on the post-fix window and the report. A step that fails on a person's problem (an
   unreachable scorer) is recorded in the trail and the run goes on.

The returned summary is what `investigate --auto --json FILE` writes (docs/engine.md).
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from console.audit.vocabulary import Step
from console.engine.interventions import kind_of
from console.engine.investigation import Investigation
from console.engine.locate import root_node
from console.engine.results import InterventionResult
from console.engine.screening import screen
from console.engine.triage import SMALL_EFFECT
from console.errors import ConsoleError
from console.telemetry.windows import format_utc


def run_auto(inv: Investigation) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "metric": inv.metric,
        "alert_at": format_utc(inv.alert_at),
        "windows": {name: w.to_dict() for name, w in inv.windows.items()},
        "triage": None,
        "locate": {"candidates": [], "ranking": []},
        "interventions": [],
        "root_cause": None,
        "counterfactual": {"flipped": None, "total": None, "errored": None},
        "explanation": None,
        "validation": None,
        "errors": [],
    }
    triage = inv.triage()
    summary["triage"] = {
        "verdict": triage.verdict,
        "classification": triage.classification,
        "tier": triage.tier,
        "baseline_value": triage.baseline_value,
        "incident_value": triage.incident_value,
        "relative_change": triage.relative_change,
        "checks": {c.name: c.passed for c in triage.checks},
    }
    inv.decide_triage(triage.verdict, note="automatic: the triage verdict")
    if triage.verdict == "false_alarm":
        summary["counterfactual"]["reason"] = "false alarm: no decision to correct"
        return _finish(inv, summary)

    located = inv.locate()
    summary["locate"] = {
        "candidates": [c.node for c in located.candidates],
        "ranking": [
            {
                "rank": c.rank,
                "node": c.node,
                "edge": list(c.edge),
                "score": c.score,
                "intervention": c.intervention,
            }
            for c in located.candidates
        ],
    }
    root: dict[str, Any] | None = None
    tested: set[tuple[str, str]] = set()
    for candidate in located.candidates:
        if candidate.intervention is None or candidate.edge in tested:
            continue
        tested.add(candidate.edge)
        try:
            result = inv.intervene(candidate.edge)
        except ConsoleError as exc:  # recorded in the trail by intervene(); try the next one
            summary["errors"].append(str(exc))
            continue
        summary["interventions"].append(_intervention_summary(result))
        if result.verdict != "broken":
            continue
        if kind_of(result.type).may_be_external and not _changed_upstream(inv, result.node):
            inv.note(
                f"{result.node} shifted with no change event on it or upstream: a possible external "
                "shift, not a broken edge; testing the remaining candidates",
                step=Step.INTERVENE,
            )
            continue
        node = root_node(inv.ctx, inv.ctx.edge(*candidate.edge))
        inv.mark_edge(candidate.edge, "broken", note="automatic: " + "; ".join(result.reasons))
        root = {"node": node, "edge": list(candidate.edge), "kind": "broken_edge"}
        break
    if root is None:
        root = _external(inv, summary)
    summary["root_cause"] = root
    if root is None:
        inv.note(
            "no planned intervention found a broken edge and no input moved: root cause not determined"
        )
        summary["counterfactual"]["reason"] = "no root cause"
        return _finish(inv, summary)

    edge = tuple(root["edge"])
    if root["kind"] == "broken_edge":
        try:
            blast = inv.counterfactual(edge)
            summary["counterfactual"] = {
                "flipped": blast.flipped,
                "total": blast.total,
                "errored": blast.errored,
                "correction": blast.correction,
                "score_delta": blast.score_delta,
                "segments": [s.to_dict() for s in blast.segments],
            }
            if blast.flipped_ids:
                explanation = inv.explain(blast.flipped_ids[0], edge)
                summary["explanation"] = explanation.to_dict()
        except ConsoleError as exc:
            summary["errors"].append(str(exc))
            summary["counterfactual"]["error"] = str(exc)
    else:
        summary["counterfactual"]["reason"] = "external shift: there is no broken value to correct"
    try:
        validation = inv.validate(edge)
        summary["validation"] = {
            "recovered": validation.recovered,
            "window": validation.window.to_dict(),
            "verdict": validation.intervention.verdict,
            "metric": {
                "baseline": validation.metric_baseline,
                "incident": validation.metric_incident,
                "postfix": validation.metric_postfix,
            },
            "proposal": validation.proposal.path if validation.proposal else None,
        }
    except ConsoleError as exc:
        summary["errors"].append(str(exc))
    return _finish(inv, summary)


def _changed_upstream(inv: Investigation, node: str) -> bool:
    """A change event on node or any of its causes, in or just before the incident window."""
    ctx = inv.ctx
    causal = nx.DiGraph((e.source, e.target) for e in ctx.playbook.edges if not e.feedback)
    causal.add_nodes_from(ctx.playbook.nodes)
    return any(ctx.changes_near(n) for n in {node, *nx.ancestors(causal, node)})


def _external(inv: Investigation, summary: dict[str, Any]) -> dict[str, Any] | None:
    ctx = inv.ctx
    screening = screen(ctx)
    ancestors = set(inv.locate_result.ancestors if inv.locate_result else [])
    options = []
    for node in ctx.playbook.nodes.values():
        if node.id not in ancestors or node.kind == "external" or node.id not in screening:
            continue
        parents = [
            e.source for e in ctx.playbook.edges
            if e.target == node.id and not e.feedback and ctx.node(e.source).kind == "external"
        ]  # fmt: skip
        if not parents or _changed_upstream(inv, node.id):
            continue
        magnitude = screening[node.id].magnitude
        if magnitude >= SMALL_EFFECT:
            options.append((magnitude, node.id, parents[0]))
    if not options:
        return None
    magnitude, node, parent = max(options)
    result = inv.intervene((parent, node))
    summary["interventions"].append(_intervention_summary(result))
    inv.mark_edge(
        (parent, node),
        "external",
        note=(
            f"automatic: every planned intervention passed; {node} moved most of the inputs under "
            f"an external node (effect size {magnitude:.2f}) with no change event on it or upstream"
        ),
    )
    return {"node": parent, "edge": [parent, node], "kind": "external_shift"}


def _finish(inv: Investigation, summary: dict[str, Any]) -> dict[str, Any]:
    report = inv.report()
    head = inv.trail.head()
    summary["report"] = str((inv.incident_dir / report.path).resolve())
    summary["trail_head"] = head.hash
    summary["trail_count"] = head.count
    return summary


def _intervention_summary(result: InterventionResult) -> dict[str, Any]:
    """What the auto summary keeps of one intervention."""
    return {
        "node": result.node,
        "edge": list(result.edge),
        "type": result.type,
        "verdict": result.verdict,
        "statistics": result.statistics,
        "reasons": result.reasons,
        "evidence": result.evidence,
    }
