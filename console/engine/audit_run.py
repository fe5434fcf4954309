"""run_audit: every planned intervention of the playbook on one window against the baseline.

The continuous half of the method: between incidents (on a schedule, or in CI before a model
version ships) the planned tests run on the latest window, and the causal graph either still
holds or an edge is broken. The run is an Investigation (its own trail, evidence and
windows), so what an audit found is as verifiable as an incident:

1. Triage of the metric on the window gives the tier. A minor anomaly gets the automated
   check the method asks for, not a full audit: only the TOP_EDGES_MINOR best-ranked edges of
   locate run, and the result says so. No anomaly (a routine run) or a critical one: every
   edge with a planned intervention runs.
2. Edges whose first planned test is the same test on the same node (model_version on every
   feature -> model edge measures the model) run once. The verdict belongs to the edge the
   intervention kind blames (root_node: a serving node behind the model), else the first such
   edge; the others are reported as covered by it, so a broken model fails one test case,
   not ten.
3. Each edge runs its planned interventions in priority order (Investigation
   .intervene_planned). A shift that the evidence attributes to the world
   (console.engine.verdict) is "shifted", not broken: the graph holds, the world moved.
4. Freshness (console.engine.freshness) lists where the graph is stale; with strict, any
   finding fails the audit.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from console.audit.vocabulary import Step
from console.engine.freshness import Finding, freshness
from console.engine.gate import MAX_CHANGED, GateResult, candidate_gate
from console.engine.interventions import kind_of
from console.engine.investigation import Investigation
from console.engine.locate import root_node
from console.engine.results import InterventionResult, Window
from console.engine.screening import screen
from console.engine.triage import SMALL_EFFECT
from console.errors import ConsoleError
from console.playbook.loader import load_playbook
from console.playbook.model import Edge
from console.telemetry.sources.capture import default_span
from console.telemetry.store import open_store
from console.telemetry.windows import format_utc, latest_timestamp

TOP_EDGES_MINOR = 3  # edges a minor anomaly's automated check runs, best-ranked first

EdgeVerdict = Literal["passed", "broken", "shifted", "inconclusive", "error", "covered"]
FAILING: tuple[EdgeVerdict, ...] = ("broken", "error")


@dataclass(frozen=True)
class EdgeCheck:
    """One edge of the audit: its verdict and the numbers behind it."""

    edge: tuple[str, str]
    status: str  # the edge's status in the playbook
    verdict: EdgeVerdict
    type: str  # the decisive intervention type ("" when none ran)
    node: str  # the node the statistics describe
    reasons: list[str]
    statistics: dict[str, Any] = field(default_factory=dict)
    covered_by: tuple[str, str] | None = None  # the edge whose run this one shares

    @property
    def name(self) -> str:
        return f"{self.edge[0]} -> {self.edge[1]}"

    @property
    def failing(self) -> bool:
        return self.verdict in FAILING

    def to_dict(self) -> dict[str, Any]:
        return {
            "edge": list(self.edge),
            "status": self.status,
            "verdict": self.verdict,
            "type": self.type,
            "node": self.node,
            "reasons": self.reasons,
            "statistics": self.statistics,
            "covered_by": list(self.covered_by) if self.covered_by else None,
        }


@dataclass(frozen=True)
class AuditResult:
    playbook: str
    metric: str
    windows: list[Window]
    tier: str  # the triage tier of the metric on the window
    relative_change: float | None
    scope: str  # in words: which edges ran and why
    checks: list[EdgeCheck]
    findings: list[Finding]
    strict: bool
    gate: GateResult | None = None  # the candidate model's gate, when one was given

    @property
    def broken(self) -> list[EdgeCheck]:
        return [c for c in self.checks if c.failing]

    @property
    def failed(self) -> bool:
        """Exit 1: an edge broken or untestable, a candidate model that changes too many
        decisions, or (strict) a stale graph."""
        gate_failed = self.gate is not None and not self.gate.passed
        return bool(self.broken) or gate_failed or (self.strict and bool(self.findings))

    def to_dict(self) -> dict[str, Any]:
        return {
            "playbook": self.playbook,
            "metric": self.metric,
            "windows": [w.to_dict() for w in self.windows],
            "tier": self.tier,
            "relative_change": self.relative_change,
            "scope": self.scope,
            "edges": [c.to_dict() for c in self.checks],
            "graph_freshness": [f.to_dict() for f in self.findings],
            "strict": self.strict,
            "gate": self.gate.to_dict() if self.gate else None,
            "broken": [list(c.edge) for c in self.broken],
            "passed": not self.failed,
        }


def open_audit(
    playbook_path: Path,
    telemetry: Path | None,
    audit_dir: Path,
    at: datetime | None = None,
    incident: timedelta | None = None,
    actor: str | None = None,
    metric: str | None = None,
) -> Investigation:
    """The audit's Investigation: its incident window ends at `at` (default: just after the
    newest decision, so the latest rows are in it; never a scenario.toml's alert time) and
    lasts `incident` (default: the playbook's [windows] incident)."""
    if at is None:
        playbook = load_playbook(playbook_path)
        span = default_span(playbook.windows, datetime.now(UTC))
        with closing(open_store(telemetry, playbook.tables, span=span)) as store:
            at = latest_timestamp(store) + timedelta(microseconds=1)  # windows are half-open
    inv = Investigation.open(
        playbook_path,
        telemetry,
        audit_dir,
        actor=actor,
        alert_at=at,
        metric=metric,
        incident=incident,
    )
    try:
        audit_windows(inv)
    except BaseException:
        inv.close()
        raise
    return inv


def decisions_columns(inv: Investigation) -> list[str]:
    return [name for name, _ in inv.store.columns("decisions")]


def audit_windows(inv: Investigation) -> None:
    """Say in the trail which windows the audit compares."""
    spans = ", ".join(
        f"{w.name} {format_utc(w.start)} .. {format_utc(w.end)}" for w in inv.windows.values()
    )
    inv.note(f"audit of the causal graph: {spans}", step=Step.INTERVENE)


def run_audit(
    inv: Investigation,
    columns: list[str],
    strict: bool = False,
    candidate: Path | None = None,
    max_changed: float = MAX_CHANGED,
) -> AuditResult:
    """Triage, the scope, every planned test of the scope, freshness, the candidate model's
    gate when one is given; the verdict recorded."""
    triage = inv.triage()
    located = inv.locate()
    tested = [e for e in inv.playbook.edges if e.planned]
    scope = f"every edge with a planned intervention ({len(tested)})"
    if triage.tier == "minor":
        ranked = [c.edge for c in located.candidates if c.intervention is not None]
        top = list(dict.fromkeys(ranked))[:TOP_EDGES_MINOR]
        tested = [inv.ctx.edge(*e) for e in top]
        scope = (
            f"minor anomaly of {inv.metric}: only the {len(tested)} best-ranked edges of "
            f"locate ran ({', '.join(f'{a} -> {b}' for a, b in top) or 'none'})"
        )
    inv.note(f"audit scope: {scope}", step=Step.INTERVENE)
    checks: list[EdgeCheck] = []
    for group in _shared_tests(inv, tested):
        checks += _run_group(inv, group)
    order = {(e.source, e.target): i for i, e in enumerate(inv.playbook.edges)}
    checks.sort(key=lambda c: order[c.edge])
    result = AuditResult(
        playbook=str(inv.playbook.path),
        metric=inv.metric,
        windows=list(inv.windows.values()),
        tier=triage.tier,
        relative_change=triage.relative_change,
        scope=scope,
        checks=checks,
        findings=freshness(inv.playbook, columns),
        strict=strict,
        gate=candidate_gate(inv, candidate, max_changed) if candidate is not None else None,
    )
    broken = ", ".join(c.name for c in result.broken) or "none"
    inv.note(
        f"audit {'failed' if result.failed else 'passed'}: {len(checks)} edges, broken: "
        f"{broken}; {len(result.findings)} freshness findings" + (" (strict)" if strict else ""),
        step=Step.INTERVENE,
    )
    return result


def _shared_tests(inv: Investigation, edges: list[Edge]) -> list[list[Edge]]:
    """Edges grouped by their first planned test (type, tested node, parameters), the edge
    that test blames first in each group."""
    groups: dict[tuple[str, str, str], list[Edge]] = {}
    for edge in edges:
        first = edge.planned[0]
        tested_node = kind_of(first.type).tested_node(edge)
        key = (first.type, tested_node, repr(sorted(first.params.items())))
        groups.setdefault(key, []).append(edge)
    ordered = []
    for (_, tested_node, _), group in groups.items():
        blamed = [e for e in group if root_node(inv.ctx, e) != tested_node]
        ordered.append(blamed[:1] + [e for e in group if e not in blamed[:1]])
    return ordered


def _run_group(inv: Investigation, group: list[Edge]) -> list[EdgeCheck]:
    first, *rest = group
    check = _run_edge(inv, first)
    shared = []
    for edge in rest:
        if check.verdict in ("passed", "inconclusive", "error"):
            verdict: EdgeVerdict = check.verdict
            reasons = [f"the same test as {check.name}", *check.reasons]
        else:
            verdict = "covered"
            reasons = [f"the same test as {check.name}, where its verdict is reported"]
        shared.append(
            replace(
                check, edge=(edge.source, edge.target), status=edge.status, verdict=verdict,
                reasons=reasons, covered_by=check.edge,
            )
        )  # fmt: skip
    return [check, *shared]


def _run_edge(inv: Investigation, edge: Edge) -> EdgeCheck:
    key = (edge.source, edge.target)
    try:
        results = inv.intervene_planned(key)  # each run is recorded in the trail by intervene()
    except ConsoleError as exc:
        return EdgeCheck(key, edge.status, "error", edge.planned[0].type, "", [str(exc)])
    return _check_of(inv, edge, inv.interventions[key], results)


def _check_of(
    inv: Investigation, edge: Edge, result: InterventionResult, results: list[InterventionResult]
) -> EdgeCheck:
    verdict: EdgeVerdict = "passed" if result.verdict == "ok" else result.verdict
    reasons = list(result.reasons)
    if verdict == "broken" and kind_of(result.type).may_be_external:
        # A shift says the node moved, not that the mechanism broke: the world's side of the
        # evidence leaves the graph holding, and so does a move under a small effect (one a
        # large window makes significant) when a direct test of the same edge passed.
        direct = [
            r.type for r in results if r.verdict == "ok" and not kind_of(r.type).may_be_external
        ]
        moved = screen(inv.ctx).get(result.node)
        size = moved.magnitude if moved is not None else None
        if result.statistics.get("judgement") == "world":
            verdict = "shifted"
        elif direct and size is not None and size < SMALL_EFFECT:
            verdict = "shifted"
            reasons.insert(
                0,
                f"{result.node} moved by effect size {size:.2f} (under {SMALL_EFFECT}) and "
                f"{', '.join(direct)} of the edge passed",
            )
    numbers = {k: v for k, v in result.statistics.items() if isinstance(v, int | float | str)}
    return EdgeCheck(
        (edge.source, edge.target), edge.status, verdict, result.type, result.node,
        reasons, numbers,
    )  # fmt: skip
