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

from typing import Any, Literal

from console.audit.vocabulary import Step
from console.engine.interventions import kind_of
from console.engine.investigation import Investigation
from console.engine.locate import root_node
from console.engine.results import InterventionResult, LocateResult, TriageResult
from console.engine.screening import screen
from console.engine.triage import SMALL_EFFECT
from console.errors import ConsoleError
from console.playbook.graph import causal_graph, causal_parents, causes
from console.telemetry.windows import format_utc

CandidateCall = Literal["pass", "possible_external", "root"]


def decide_candidate(verdict: str, may_be_external: bool, changed_upstream: bool) -> CandidateCall:
    """What one intervention's verdict makes of its candidate: a broken edge is the root
    cause, unless its type may show the world moving (may_be_external) and nothing changed on
    the node or upstream of it."""
    if verdict != "broken":
        return "pass"
    if may_be_external and not changed_upstream:
        return "possible_external"
    return "root"


def pick_external(options: list[tuple[float, str, str]]) -> tuple[float, str, str] | None:
    """Of (effect size, input, its external parent), the input that moved most, if by at
    least a small effect (SMALL_EFFECT)."""
    moved = [o for o in options if o[0] >= SMALL_EFFECT]
    return max(moved) if moved else None


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
    summary["triage"] = _triage_summary(triage)
    inv.decide_triage(triage.verdict, note="automatic: the triage verdict")
    if triage.verdict == "false_alarm":
        summary["counterfactual"]["reason"] = "false alarm: no decision to correct"
        return _finish(inv, summary)
    located = inv.locate()
    summary["locate"] = _locate_summary(located)
    root = _broken_edge(inv, located, summary) or _external(inv, summary)
    summary["root_cause"] = root
    if root is None:
        inv.note(
            "no planned intervention found a broken edge and no input moved: root cause not determined"
        )
        summary["counterfactual"]["reason"] = "no root cause"
        return _finish(inv, summary)
    edge = (root["edge"][0], root["edge"][1])
    if root["kind"] == "broken_edge":
        _counterfactual(inv, edge, summary)
    else:
        summary["counterfactual"]["reason"] = "external shift: there is no broken value to correct"
    _validation(inv, edge, summary)
    return _finish(inv, summary)


def _triage_summary(triage: TriageResult) -> dict[str, Any]:
    return {
        "verdict": triage.verdict,
        "classification": triage.classification,
        "tier": triage.tier,
        "baseline_value": triage.baseline_value,
        "incident_value": triage.incident_value,
        "relative_change": triage.relative_change,
        "checks": {c.name: c.passed for c in triage.checks},
    }


def _locate_summary(located: LocateResult) -> dict[str, Any]:
    return {
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


def _broken_edge(
    inv: Investigation, located: LocateResult, summary: dict[str, Any]
) -> dict[str, Any] | None:
    """Each candidate's planned intervention, best first, until one finds a root cause."""
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
        may_be_external = kind_of(result.type).may_be_external
        # Only asked when it matters: the change events upstream of a broken edge's node.
        changed = (
            result.verdict == "broken" and may_be_external and _changed_upstream(inv, result.node)
        )
        call = decide_candidate(result.verdict, may_be_external, changed)
        if call == "possible_external":
            inv.note(
                f"{result.node} shifted with no change event on it or upstream: a possible external "
                "shift, not a broken edge; testing the remaining candidates",
                step=Step.INTERVENE,
            )
        if call != "root":
            continue
        node = root_node(inv.ctx, inv.ctx.edge(*candidate.edge))
        inv.mark_edge(candidate.edge, "broken", note="automatic: " + "; ".join(result.reasons))
        return {"node": node, "edge": list(candidate.edge), "kind": "broken_edge"}
    return None


def _counterfactual(inv: Investigation, edge: tuple[str, str], summary: dict[str, Any]) -> None:
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


def _validation(inv: Investigation, edge: tuple[str, str], summary: dict[str, Any]) -> None:
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


def _changed_upstream(inv: Investigation, node: str) -> bool:
    """A change event on node or any of its causes, in or just before the incident window."""
    ctx = inv.ctx
    return any(ctx.changes_near(n) for n in causes(causal_graph(ctx.playbook), node))


def _external(inv: Investigation, summary: dict[str, Any]) -> dict[str, Any] | None:
    ctx = inv.ctx
    screening = screen(ctx)
    ancestors = set(inv.locate_result.ancestors if inv.locate_result else [])
    options = []
    for item in ctx.playbook.nodes.values():
        if item.id not in ancestors or item.kind == "external" or item.id not in screening:
            continue
        parents = [p for p in causal_parents(ctx.graph, item.id) if ctx.node(p).kind == "external"]
        if not parents or _changed_upstream(inv, item.id):
            continue
        options.append((screening[item.id].magnitude, item.id, parents[0]))
    picked = pick_external(options)
    if picked is None:
        return None
    magnitude, node, parent = picked
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
