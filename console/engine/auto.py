"""run_auto: every step with no person at the keyboard, weighing the data, not the change log.

1. Triage. A false alarm ends here (decided as such in the trail) with the report.
2. Locate, then the search: each candidate's planned interventions, best candidate first, in
   the edge's priority order (Investigation.intervene_planned; an edge shared by two candidates
   runs once). A broken verdict of a type that only says "the node shifted"
   (distribution_shift, may_be_external) is weighed by console.engine.verdict: implausible
   values, one producer, a fitting change event... against siblings that moved too, a shift
   spread over producers, a logged change of the world. If the world side wins, the candidate
   is a possible external shift and the search goes on.
3. A proven break is sized at once: its counterfactual says how much of the model's move it
   takes back (BlastRadius.explained). One that explains at least EXPLAINS_ENOUGH ends the
   search; one that explains little is kept and the search goes on, so a real but harmless bug
   found first does not hide the cause further down the ranking.
4. The cause named: of the proven breaks, the one that explains most (one that could not be
   sized ranks by the ranking). A break that explains under EXPLAINS_LITTLE gives way to an
   external shift when the data supports one. With no break, the external shift by
   elimination (external_options): each external node ancestor of the metric is scored by the
   joint movement of its observed children (the root sum of squares of their effect sizes),
   plus the evidence pointing at it (a world verdict naming it, a logged change on it). Inputs
   that moved with no external node above them are reported as graph gaps, never as "nothing
   moved".
5. Counterfactual (broken edges) of the cause, explanation of the decision that moved most,
   validation on the post-fix window, the conclusion (Investigation.conclude: the cause, how
   much it explains, its confidence and each alternative with why it was rejected) and the
   report. A step that fails on a person's problem (an unreachable scorer) is recorded in the
   trail and the run goes on.

The returned summary is what `investigate --auto --json FILE` writes (docs/engine.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from console.audit.vocabulary import Step
from console.engine.interventions import kind_of
from console.engine.investigation import Investigation
from console.engine.locate import root_node
from console.engine.report_figures import warm_up
from console.engine.results import (
    Alternative,
    BlastRadius,
    Candidate,
    Conclusion,
    InterventionResult,
    LocateResult,
    TriageResult,
)
from console.engine.screening import screen
from console.engine.triage import SMALL_EFFECT
from console.engine.verdict import Judgement, confidence, judge
from console.errors import ConsoleError
from console.playbook.graph import causes
from console.telemetry.windows import format_utc

# A proven break that takes back at least this share of the model's move ends the search.
EXPLAINS_ENOUGH = 0.5
# One that takes back less than this is a real bug but not this incident's cause when an
# external shift accounts for the anomaly instead.
EXPLAINS_LITTLE = 0.1
# Points an external node earns besides its joint movement. A world verdict on one of its
# inputs says which cause that input's move came from, not how much of the anomaly the node
# explains: a tie-breaker only. A logged change of that world is evidence of its own, worth a
# medium effect's difference in joint movement.
POINTED_BY_VERDICT = 0.1
LOGGED_WORLD_CHANGE = 0.5
# A finding counts as an independent signal in the confidence from this many points (the weak
# ones - plausible values, no fitting change - stay in the verdict's reasons).
SIGNAL_POINTS = 1.0
UNTESTED_SHOWN = 5  # candidates left untested listed as alternatives


@dataclass
class Break:
    """A proven break: its candidate, the decisive result, the verdict on it, its size."""

    candidate: Candidate
    result: InterventionResult
    node: str
    judgement: Judgement | None
    blast: BlastRadius | None = None
    error: str | None = None

    @property
    def explained(self) -> float | None:
        return self.blast.explained if self.blast else None


@dataclass
class Search:
    breaks: list[Break] = field(default_factory=list)
    world: list[tuple[Candidate, Judgement]] = field(default_factory=list)
    alternatives: list[Alternative] = field(default_factory=list)
    tested: set[tuple[str, str]] = field(default_factory=set)


@dataclass(frozen=True)
class ExternalOption:
    node: str  # the external node
    child: str  # its observed child that moved most
    joint: float  # root sum of squares of its children's effect sizes
    score: float  # joint plus the evidence pointing at it
    moved: list[tuple[str, float]]
    reasons: list[str]


def run_auto(inv: Investigation, tz: str | None = None) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "metric": inv.metric,
        "alert_at": format_utc(inv.alert_at),
        "windows": {name: w.to_dict() for name, w in inv.windows.items()},
        "triage": None,
        "locate": {"candidates": [], "ranking": []},
        "interventions": [],
        "root_cause": None,
        "alternatives": [],
        "gaps": [],
        "counterfactual": {"flipped": None, "total": None, "errored": None},
        "explanation": None,
        "validation": None,
        "errors": [],
    }
    warm_up()  # every path below ends in the report, which draws figures
    triage = inv.triage()
    summary["triage"] = _triage_summary(triage)
    inv.decide_triage(triage.verdict, note="automatic: the triage verdict")
    if triage.verdict == "false_alarm":
        summary["counterfactual"]["reason"] = "false alarm: no decision to correct"
        return _finish(inv, summary, tz)
    located = inv.locate()
    summary["locate"] = _locate_summary(located)
    search = _search(inv, located, summary)
    chosen = choose_break(search.breaks)
    option = None
    if chosen is None or (chosen.explained is not None and chosen.explained < EXPLAINS_LITTLE):
        option = _best_external(inv, search)
        if option is not None and chosen is not None:
            inv.note(
                f"{chosen.node} is broken but explains only {chosen.explained:.0%} of the "
                f"anomaly; the world moving through {option.node} accounts for it instead",
                step=Step.INTERVENE,
            )
            chosen = None
    gaps = graph_gaps(inv, search)
    summary["gaps"] = gaps
    if chosen is not None:
        conclusion = _name_break(inv, chosen, search, summary)
    elif option is not None:
        conclusion = _name_external(inv, option, search, summary)
    else:
        conclusion = _not_determined(inv, search, gaps, summary)
    conclusion = replace(conclusion, gaps=gaps)
    inv.conclude(conclusion)
    summary["alternatives"] = [a.to_dict() for a in conclusion.alternatives]
    if summary["root_cause"] is not None:
        summary["root_cause"] |= {
            "explained": conclusion.explained,
            "explained_by": conclusion.explained_by,
            "confidence": {
                "level": conclusion.confidence,
                "for": conclusion.signals_for,
                "against": conclusion.signals_against,
            },
        }
    return _finish(inv, summary, tz)


# -- the search -------------------------------------------------------------------------------


def _search(inv: Investigation, located: LocateResult, summary: dict[str, Any]) -> Search:
    search = Search()
    for candidate in located.candidates:
        if candidate.intervention is None or candidate.edge in search.tested:
            continue
        search.tested.add(candidate.edge)
        try:
            results = inv.intervene_planned(candidate.edge)
        except ConsoleError as exc:  # recorded in the trail by intervene(); try the next one
            summary["errors"].append(str(exc))
            why = f"intervention failed: {exc}"
            search.alternatives.append(Alternative(candidate.node, candidate.edge, "failed", why))
            continue
        entries = [_intervention_summary(r) for r in results]
        summary["interventions"] += entries
        decisive = inv.interventions[candidate.edge]
        if decisive.verdict != "broken":
            search.alternatives.append(_passed(candidate, decisive))
            continue
        judgement = None
        if kind_of(decisive.type).may_be_external:
            judgement = judge(inv.ctx, decisive.node)
            entries[results.index(decisive)]["judgement"] = judgement.to_dict() | {
                "reasons": judgement.reasons()
            }
            if judgement.call == "world":
                search.world.append((candidate, judgement))
                search.alternatives.append(
                    Alternative(
                        candidate.node,
                        candidate.edge,
                        "world",
                        f"{decisive.node} shifted, but the evidence says the world changed: "
                        + "; ".join(judgement.reasons()[:3]),
                    )
                )
                inv.note(
                    f"{decisive.node} shifted; the evidence says the world changed, not our "
                    f"pipeline: {judgement.reasons()[0]}; testing the remaining candidates",
                    step=Step.INTERVENE,
                )
                continue
        node = root_node(inv.ctx, inv.ctx.edge(*candidate.edge))
        found = Break(candidate, decisive, node, judgement)
        _size(inv, found, summary)
        search.breaks.append(found)
        if found.explained is None or found.explained >= EXPLAINS_ENOUGH:
            break
        inv.note(
            f"{candidate.edge[0]} -> {candidate.edge[1]} is broken but its correction takes back "
            f"only {found.explained:.0%} of the model's move: testing the remaining candidates",
            step=Step.INTERVENE,
        )
    untested = [
        c for c in located.candidates if c.intervention is not None and c.edge not in search.tested
    ]
    for c in untested[:UNTESTED_SHOWN]:
        search.alternatives.append(
            Alternative(c.node, c.edge, "not_tested", f"ranked {c.rank} (score {c.score:.2f}); "
                        "the search ended before it")
        )  # fmt: skip
    return search


def _passed(candidate: Candidate, result: InterventionResult) -> Alternative:
    head = result.reasons[0] if result.reasons else ""
    outcome = "inconclusive" if result.verdict == "inconclusive" else "passed"
    return Alternative(
        candidate.node, candidate.edge, outcome, f"{result.type} {result.verdict}: {head}"
    )


def _size(inv: Investigation, found: Break, summary: dict[str, Any]) -> None:
    """The break's counterfactual: how much of the anomaly its correction takes back."""
    try:
        found.blast = inv.counterfactual(found.candidate.edge)
    except ConsoleError as exc:
        found.error = str(exc)
        summary["errors"].append(str(exc))


def choose_break(breaks: list[Break]) -> Break | None:
    """Of the proven breaks, the one that explains most; one that could not be sized comes
    before any that explains less than EXPLAINS_ENOUGH (it may explain everything)."""
    if not breaks:
        return None
    enough = [b for b in breaks if b.explained is not None and b.explained >= EXPLAINS_ENOUGH]
    if enough:
        return max(enough, key=lambda b: b.explained or 0.0)
    unsized = [b for b in breaks if b.explained is None]
    if unsized:
        return unsized[0]
    return max(breaks, key=lambda b: b.explained or 0.0)


# -- naming the cause -------------------------------------------------------------------------


def _name_break(
    inv: Investigation, chosen: Break, search: Search, summary: dict[str, Any]
) -> Conclusion:
    edge = chosen.candidate.edge
    reasons = chosen.judgement.reasons() if chosen.judgement else chosen.result.reasons
    inv.mark_edge(edge, "broken", note="automatic: " + "; ".join(reasons))
    summary["root_cause"] = {"node": chosen.node, "edge": list(edge), "kind": "broken_edge"}
    if inv.blast_radius is not chosen.blast and chosen.blast is not None:
        _size(inv, chosen, summary)  # the counterfactual on record is the cause's
    _counterfactual_summary(inv, edge, chosen.blast, chosen.error, summary)
    _validation(inv, edge, summary)
    signals_for = [f"{chosen.result.type}: broken ({_head(chosen.result.reasons)})"]
    signals_against: list[str] = []
    if chosen.judgement is not None:
        signals_for += _lines(chosen.judgement, "broken")
        signals_against += _lines(chosen.judgement, "world")
    explained = chosen.explained
    if explained is not None:
        by = chosen.blast.explained_by if chosen.blast else ""
        line = f"its correction takes back {explained:.0%} of the model's move (by {by})"
        (signals_for if explained >= EXPLAINS_ENOUGH else signals_against).append(line)
    _validation_signal(summary, signals_for, signals_against)
    alternatives = list(search.alternatives)
    for other in search.breaks:
        if other is chosen:
            continue
        size = (
            "could not be sized" if other.explained is None else f"explains {other.explained:.0%}"
        )
        alternatives.append(
            Alternative(
                other.node,
                other.candidate.edge,
                "explains_less",
                f"broken too ({_head(other.result.reasons)}), but {size} against "
                f"{_share(explained)} for {chosen.node}",
            )
        )
    return Conclusion(
        kind="broken_edge",
        node=chosen.node,
        edge=edge,
        explained=explained,
        explained_by=chosen.blast.explained_by if chosen.blast else "",
        confidence=confidence(len(signals_for), len(signals_against)),
        signals_for=signals_for,
        signals_against=signals_against,
        alternatives=_ordered(alternatives),
    )


def _name_external(
    inv: Investigation, option: ExternalOption, search: Search, summary: dict[str, Any]
) -> Conclusion:
    edge = (option.node, option.child)
    result = _intervene_once(inv, edge, summary)
    inv.mark_edge(edge, "external", note="automatic: " + "; ".join(option.reasons))
    summary["root_cause"] = {"node": option.node, "edge": list(edge), "kind": "external_shift"}
    summary["counterfactual"]["reason"] = "external shift: there is no broken value to correct"
    _validation(inv, edge, summary)
    signals_for = list(option.reasons)
    if result is not None and result.verdict == "broken":
        signals_for.append(f"{option.child} shifted ({_head(result.reasons)})")
    pointing = [j for _, j in search.world if j.external == option.node]
    signals_for += _merged(pointing, "world")
    signals_against = _merged(pointing, "broken")
    alternatives = list(search.alternatives)
    for b in search.breaks:
        signals_against.append(f"{b.node} is broken ({_share(b.explained)} explained)")
        alternatives.append(
            Alternative(
                b.node,
                b.candidate.edge,
                "explains_less",
                f"broken ({_head(b.result.reasons)}), but explains only {_share(b.explained)}",
            )
        )
    if not search.breaks:
        signals_for.append("no planned intervention found a pipeline fault that explains it")
    _validation_signal(summary, signals_for, signals_against)
    return Conclusion(
        kind="external_shift",
        node=option.node,
        edge=edge,
        explained=None,
        explained_by="",
        confidence=confidence(len(signals_for), len(signals_against)),
        signals_for=signals_for,
        signals_against=signals_against,
        alternatives=_ordered(alternatives),
    )


def _not_determined(
    inv: Investigation, search: Search, gaps: list[str], summary: dict[str, Any]
) -> Conclusion:
    moved = _largest_move(inv)
    why = "no planned intervention found a broken edge and no external node's inputs moved"
    if gaps:
        why += "; " + "; ".join(gaps)
    elif moved is not None:
        why += f"; the largest move: {moved[0]} by effect size {moved[1]:.2f}"
    inv.note(f"root cause not determined: {why}", step=Step.INTERVENE)
    summary["counterfactual"]["reason"] = "no root cause"
    return Conclusion(
        kind="not_determined",
        node=None,
        edge=None,
        explained=None,
        explained_by="",
        confidence="low",
        signals_for=[],
        signals_against=[why],
        alternatives=_ordered(search.alternatives),
    )


# -- external shifts by elimination -----------------------------------------------------------


def external_options(inv: Investigation, search: Search) -> list[ExternalOption]:
    """Every external ancestor of the metric scored by the joint movement of its observed
    children and the evidence pointing at it, best first; children proven broken are left
    out (their movement is explained)."""
    ctx = inv.ctx
    screening = screen(ctx)
    ancestors = set(inv.locate_result.ancestors if inv.locate_result else [])
    broken = {b.node for b in search.breaks} | {b.candidate.node for b in search.breaks}
    pointed = {j.external for _, j in search.world if j.external}
    graph = ctx.causal()
    options = []
    for ext in ctx.playbook.nodes.values():
        if ext.kind != "external" or ext.id not in ancestors:
            continue
        children = [c for c in graph.successors(ext.id) if c in screening and c not in broken]
        moved = sorted(((c, screening[c].magnitude) for c in children), key=lambda t: (-t[1], t[0]))
        if not moved:
            continue
        joint = math.sqrt(sum(m * m for _, m in moved))
        reasons = [
            f"the inputs under {ext.id} moved together: joint effect size {joint:.2f} ("
            + ", ".join(f"{c} {m:.2f}" for c, m in moved[:5])
            + ")"
        ]
        score = joint
        if ext.id in pointed:
            score += POINTED_BY_VERDICT
            reasons.append(f"the evidence on a shifted input points to {ext.id}")
        logged = ctx.changes_near(ext.id)
        if logged:
            score += LOGGED_WORLD_CHANGE
            reasons.append(
                f"a change of the world is logged on {ext.id}: {logged[-1].kind} at "
                f"{logged[-1].ts:%Y-%m-%d %H:%M}Z: {logged[-1].summary}"
            )
        options.append(ExternalOption(ext.id, moved[0][0], joint, score, moved, reasons))
    options.sort(key=lambda o: (-o.score, o.node))
    return options


def _best_external(inv: Investigation, search: Search) -> ExternalOption | None:
    """The best external option, if its inputs moved by at least a small effect jointly."""
    options = [o for o in external_options(inv, search) if o.joint >= SMALL_EFFECT]
    return options[0] if options else None


def graph_gaps(inv: Investigation, search: Search) -> list[str]:
    """Inputs that moved by at least a small effect, were not proven broken and have no
    external node upstream: the playbook may lack an edge."""
    ctx = inv.ctx
    screening = screen(ctx)
    ancestors = set(inv.locate_result.ancestors if inv.locate_result else [])
    broken = {b.node for b in search.breaks}
    graph = ctx.causal()
    gaps = []
    for node in ctx.playbook.nodes.values():
        if node.kind != "source" or node.id not in ancestors or node.id in broken:
            continue
        item = screening.get(node.id)
        if item is None or item.magnitude < SMALL_EFFECT:
            continue
        if any(ctx.node(u).kind == "external" for u in causes(graph, node.id)):
            continue
        gaps.append(
            f"{node.id} moved {item.magnitude:.2f} and no external node feeds it: the playbook "
            "may lack an edge"
        )
    return gaps


def _largest_move(inv: Investigation) -> tuple[str, float] | None:
    screening = screen(inv.ctx)
    moved = [
        (name, item.magnitude) for name, item in screening.items() if name in inv.ctx.playbook.nodes
    ]
    return max(moved, key=lambda t: t[1]) if moved else None


# -- steps after the cause --------------------------------------------------------------------


def _intervene_once(
    inv: Investigation, edge: tuple[str, str], summary: dict[str, Any]
) -> InterventionResult | None:
    if edge in inv.interventions:
        return inv.interventions[edge]
    try:
        result = inv.intervene(edge)
    except ConsoleError as exc:
        summary["errors"].append(str(exc))
        return None
    summary["interventions"].append(_intervention_summary(result))
    return result


def _counterfactual_summary(
    inv: Investigation,
    edge: tuple[str, str],
    blast: BlastRadius | None,
    error: str | None,
    summary: dict[str, Any],
) -> None:
    if blast is None:
        summary["counterfactual"]["error"] = error
        return
    summary["counterfactual"] = {
        "flipped": blast.flipped,
        "total": blast.total,
        "errored": blast.errored,
        "correction": blast.correction,
        "score_delta": blast.score_delta,
        "segments": [s.to_dict() for s in blast.segments],
        "explained": blast.explained,
        "explained_by": blast.explained_by,
        "outputs": blast.outputs,
    }
    if blast.flipped_ids:
        try:
            summary["explanation"] = inv.explain(blast.flipped_ids[0], edge).to_dict()
        except ConsoleError as exc:
            summary["errors"].append(str(exc))


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


def _validation_signal(
    summary: dict[str, Any], signals_for: list[str], signals_against: list[str]
) -> None:
    v = summary.get("validation")
    if not v:
        return
    if v["recovered"]:
        signals_for.append("the metric recovered in the post-fix window")
    else:
        signals_against.append("the metric did not recover in the post-fix window")


# -- the summary ------------------------------------------------------------------------------


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


def _finish(inv: Investigation, summary: dict[str, Any], tz: str | None) -> dict[str, Any]:
    report = inv.report(tz)
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


def _ordered(alternatives: list[Alternative]) -> list[Alternative]:
    """Broken ones first, then world calls, then the rest in the order considered."""
    order = {"explains_less": 0, "world": 1, "failed": 2, "inconclusive": 3, "passed": 4}
    return sorted(alternatives, key=lambda a: order.get(a.outcome, 5))


def _merged(judgements: list[Judgement], side: str) -> list[str]:
    """One line per kind of finding on one side across several judgements (the same signal
    seen on four inputs is one signal, not four), naming the inputs that showed it."""
    seen: dict[str, tuple[list[str], str]] = {}
    for j in judgements:
        for f in j.findings:
            if f.side == side and f.points >= SIGNAL_POINTS:
                nodes, detail = seen.setdefault(f.key, ([], f"{f.key}: {f.detail}"))
                nodes.append(j.node)
    return [
        detail if len(nodes) == 1 else f"{detail} (and on {', '.join(nodes[1:])})"
        for nodes, detail in seen.values()
    ]


def _lines(judgement: Judgement, side: str) -> list[str]:
    """The judgement's findings on one side that count as independent signals."""
    return [
        f"{f.key}: {f.detail}"
        for f in judgement.findings
        if f.side == side and f.points >= SIGNAL_POINTS
    ]


def _head(reasons: list[str]) -> str:
    return reasons[0] if reasons else "no reason given"


def _share(value: float | None) -> str:
    return "an unknown share" if value is None else f"{value:.0%}"
