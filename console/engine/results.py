"""Typed results of the six investigation steps.

The engine returns these; the UI renders them; the trail stores their to_dict(). Every field
is plain data (str, float, int, datetime, lists, dicts), so to_dict() is JSON-ready.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

Verdict = Literal["broken", "ok", "inconclusive"]
Confidence = Literal["high", "medium", "low"]
Classification = Literal[
    "input_distribution_shift", "model_output_shift", "latency_change", "error_rate_increase"
]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Result:
    """The base of every result: a (frozen) dataclass, so asdict() applies to each."""

    def to_dict(self) -> dict[str, Any]:
        plain: dict[str, Any] = _plain(asdict(self))
        return plain


@dataclass(frozen=True)
class Window(Result):
    name: str  # baseline | incident | postfix
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive


@dataclass(frozen=True)
class Check(Result):
    name: str  # gaps | staleness | clock_skew | duplicates | recompute
    passed: bool
    detail: str  # one sentence with the numbers
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricPoint(Result):
    ts: datetime  # bucket start
    reported: float | None  # from the metric series
    recomputed: float | None  # the metric node's expression over decision records


@dataclass(frozen=True)
class TriageResult(Result):
    metric: str  # node id
    windows: list[Window]
    series: list[MetricPoint]  # baseline and incident buckets, oldest first
    baseline_value: float | None
    incident_value: float | None
    relative_change: float | None
    checks: list[Check]
    classification: Classification | None
    tier: Literal["critical", "minor", "none"]
    verdict: Literal["confirmed", "false_alarm"]
    reasons: list[str]
    sql: list[str] = field(default_factory=list)  # the queries behind the series and values


@dataclass(frozen=True)
class ChangeEvent(Result):
    ts: datetime
    kind: str
    node: str
    summary: str
    actor: str


@dataclass(frozen=True)
class Candidate(Result):
    rank: int  # 1 = test first
    node: str
    edge: tuple[str, str]  # the edge whose intervention tests this candidate
    score: float
    reasons: list[str]  # why it ranks here, in words with numbers
    shift: float | None  # screening measure of how far the node moved
    changes: list[ChangeEvent]
    edge_status: str
    intervention: str | None  # planned intervention type, None when the edge has none


@dataclass(frozen=True)
class LocateResult(Result):
    metric: str
    ancestors: list[str]  # nearest first
    candidates: list[Candidate]  # best first
    screening: dict[str, dict[str, Any]]  # node id -> screening figures
    sql: list[str] = field(default_factory=list)  # the one screening query
    baseline_sample: int = 1  # the screening read 1 baseline row in this many


@dataclass(frozen=True)
class Histogram(Result):
    """Counts over shared bin edges, for drawing live against baseline (or recomputed)."""

    edges: list[float] | list[str]  # numeric bin edges (len = bins+1) or category labels
    series: dict[str, list[float]]  # e.g. {"baseline": [...], "incident": [...]}, shares


@dataclass(frozen=True)
class InterventionResult(Result):
    edge: tuple[str, str]
    node: str  # the node the statistics describe
    type: str  # intervention type
    verdict: Verdict
    statistics: dict[str, Any]
    reasons: list[str]
    sql: list[str]  # the SQL that produced the numbers
    rows: dict[str, int]  # rows read per window
    windows: list[Window]
    evidence: list[dict[str, str]]  # {"path", "sha256"} relative to the incident folder
    histogram: Histogram | None = None


@dataclass(frozen=True)
class SegmentImpact(Result):
    column: str
    value: str
    flipped: int
    total: int


@dataclass(frozen=True)
class BlastRadius(Result):
    edge: tuple[str, str]
    correction: str  # what replaced the broken value, e.g. the reference expression
    flipped: int
    total: int
    score_delta: dict[str, float]  # mean, p05, p50, p95, max_abs
    segments: list[SegmentImpact]  # most affected first
    flipped_ids: list[str]  # a sample of prediction ids that flip, for drilling in
    # rows of the window the live model never scored (status 'error', or no finite score):
    # never counted as flips, since no served score was there to change
    errored: int = 0
    # How much of the anomaly the correction undoes (counterfactual.explained_share): the
    # share of the scored decisions' move from the baseline (positive rate; the mean score
    # when the decisions did not move) that the corrected decisions take back.
    explained: float | None = None
    explained_by: str = ""  # "decisions" | "scores" | "" (nothing moved enough to tell)
    # baseline / live / corrected: positive rate and mean score of the scored rows
    outputs: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Attribution(Result):
    feature: str
    value: Any
    contribution: float


@dataclass(frozen=True)
class Flip(Result):
    feature: str
    old_value: Any
    new_value: Any
    new_score: float
    size: float  # in baseline standard deviations (numeric) or 1.0 (categorical)


@dataclass(frozen=True)
class Explanation(Result):
    prediction_id: str
    score: float | None  # the served score; None when the live model gave none (errored)
    decision: str
    # with the broken value corrected as the blast radius corrects it (the same window);
    # None without a broken edge or for a row outside the incident window (see notes)
    corrected_score: float | None
    attributions: list[Attribution]  # largest magnitude first
    flip: Flip | None
    method: str  # "exact-linear" | "sampled-shapley"
    errored: bool = False  # the row errored (status 'error' or no served score): not a flip
    notes: list[str] = field(default_factory=list)  # why a score above is missing, in words


@dataclass(frozen=True)
class Proposal(Result):
    description: str
    path: str  # proposed playbook, relative to the incident folder
    diff: str  # unified diff against the authored playbook


@dataclass(frozen=True)
class ValidationResult(Result):
    edge: tuple[str, str]
    window: Window
    intervention: InterventionResult
    metric_baseline: float | None
    metric_incident: float | None
    metric_postfix: float | None
    recovered: bool
    proposal: Proposal | None
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReportResult(Result):
    path: str  # relative to the incident folder
    markdown: str
    trail_head: str
    trail_count: int


@dataclass(frozen=True)
class Alternative(Result):
    """A cause the automatic run considered and did not name, and why."""

    node: str
    edge: tuple[str, str]
    outcome: str  # passed | world | explains_less | inconclusive | failed | external
    why: str


@dataclass(frozen=True)
class Conclusion(Result):
    """What the automatic run concluded, with its alternatives (console.engine.auto)."""

    kind: Literal["broken_edge", "external_shift", "not_determined"]
    node: str | None
    edge: tuple[str, str] | None
    explained: float | None  # share of the anomaly the named cause explains (BlastRadius)
    explained_by: str  # decisions | scores | ""
    confidence: Confidence
    signals_for: list[str]  # the independent signals that agree, one line each
    signals_against: list[str]
    alternatives: list[Alternative]
    gaps: list[str] = field(default_factory=list)  # inputs that moved with no external cause
