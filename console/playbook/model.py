"""The typed playbook: what the loader builds from TOML and every other layer reads.

The TOML format is documented in docs/playbooks.md; field names here match its keys.
Durations are kept as datetime.timedelta, parsed from strings such as "6h", "7d", "15m".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from console.audit.vocabulary import STEPS
from console.playbook.impact_config import ImpactConfig
from console.playbook.intake_config import IntakeConfig
from console.playbook.intervention_types import INTERVENTION_TYPES

NodeKind = Literal["source", "feature", "model", "decision", "metric", "external"]
NodeType = Literal["numeric", "categorical"]
EdgeStatus = Literal["verified", "unverified", "tentative"]
ScorerType = Literal["linear", "logistic", "python", "http"]
# The request/response shapes an http scorer speaks (console/scoring/protocols.py).
HttpProtocol = Literal["rows", "mlflow", "kserve-v1", "oip-v2"]
HTTP_PROTOCOLS: tuple[HttpProtocol, ...] = ("rows", "mlflow", "kserve-v1", "oip-v2")
# Open Inference Protocol tensor datatypes a feature may be sent as ([scorer.datatypes]).
DATATYPES: tuple[str, ...] = (
    "BOOL", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64",
    "FP16", "FP32", "FP64", "BYTES",
)  # fmt: skip
Direction = Literal["up", "down", "both"]

NODE_KINDS: tuple[NodeKind, ...] = ("source", "feature", "model", "decision", "metric", "external")
NODE_TYPES: tuple[NodeType, ...] = ("numeric", "categorical")
EDGE_STATUSES: tuple[EdgeStatus, ...] = ("verified", "unverified", "tentative")
DIRECTIONS: tuple[Direction, ...] = ("up", "down", "both")

# Parameters each intervention type requires, and the optional ones with their (TOML)
# defaults, as read from the one table of types (console.playbook.intervention_types).
INTERVENTION_PARAMS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    name: (
        tuple(p.name for p in spec.params if p.required),
        {p.name: p.default for p in spec.params if not p.required},
    )
    for name, spec in INTERVENTION_TYPES.items()
}


@dataclass(frozen=True)
class ModelInfo:
    name: str
    owner: str
    oncall: str
    description: str = ""
    version_column: str = "model_version"


@dataclass(frozen=True)
class TableSource:
    """`[telemetry.<table>] source = ...`: where one contract table is read from instead of
    the telemetry folder (docs/telemetry.md). `spec` is the kind's own parsed settings; the
    kinds and their parsers live in console/telemetry/sources/ (the registry)."""

    table: str  # decisions | metrics | changes
    kind: str  # a key of console.telemetry.sources.KINDS
    spec: Any
    columns: tuple[tuple[str, str], ...] = ()  # (contract name, the user's column)
    view: str = ""  # a SELECT over `source` giving the contract table

    @property
    def key(self) -> str:
        return f"telemetry.{self.table}"


@dataclass(frozen=True)
class TelemetryTables:
    """File names (relative to the telemetry folder) of the three contract tables, and the
    tables the playbook declares a source for (those are not read from the folder)."""

    decisions: str = "decisions.parquet"
    metrics: str = "metrics.parquet"
    changes: str = "changes.parquet"
    sources: tuple[TableSource, ...] = ()
    # Which engine runs the queries: "duckdb" (embedded) or "spark" (docs/spark.md), and the
    # Spark Connect URL (sc://host:port); empty means Spark in local mode.
    engine: str = "duckdb"
    spark_remote: str = ""

    def source(self, table: str) -> TableSource | None:
        return next((s for s in self.sources if s.table == table), None)

    @property
    def needs_folder(self) -> bool:
        """Whether some table is read from the --telemetry folder (no source declared)."""
        return len(self.sources) < 3


@dataclass(frozen=True)
class Windows:
    """How baseline, incident and post-fix windows are chosen around the alert time.

    incident = [alert - incident, alert); baseline ends `baseline_gap` before the incident
    starts and lasts `baseline`; post-fix starts at the fix and lasts `postfix`.
    """

    incident: timedelta = timedelta(hours=6)
    baseline: timedelta = timedelta(days=7)
    baseline_gap: timedelta = timedelta(days=1)
    postfix: timedelta = timedelta(hours=6)
    # How far before the incident window starts a change event still counts (weighed by
    # proximity); None: from the end of the baseline, i.e. baseline_gap before the window
    # (baseline_gap + the incident's own length before the alert). "0s": the window only.
    lookback: timedelta | None = None


@dataclass(frozen=True)
class Node:
    id: str
    kind: NodeKind
    type: NodeType
    owner: str
    description: str
    # SQL expression over the decisions table. For kind = "metric" it is an aggregate
    # (e.g. "avg(CAST(clicked AS DOUBLE))"); for "external" it may be empty (unobserved).
    expr: str = ""
    # Derived features only: the expression that recomputes the feature from raw inputs.
    reference: str = ""
    # Metric nodes only: the name of this metric in the metric series table.
    series: str = ""
    # Numeric nodes: the physically or contractually valid range and the units the values
    # are meant to be in (e.g. "EUR", "s", "km"); a value outside is implausible.
    valid_min: float | None = None
    valid_max: float | None = None
    units: str = ""
    # Values that stand in for "missing" or a default (e.g. 0, -1, "unknown").
    sentinels: tuple[float | str, ...] = ()


@dataclass(frozen=True)
class Intervention:
    type: str  # a key of console.playbook.intervention_types.INTERVENTION_TYPES
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Edge:
    source: str  # TOML key "from"
    target: str  # TOML key "to"
    mechanism: str
    status: EdgeStatus = "unverified"
    intervention: Intervention | None = None
    feedback: bool = False
    delay: timedelta | None = None  # feedback edges only
    # Further planned interventions of the edge, run after `intervention` in this order
    # (TOML: `interventions = [{...}, {...}]`, the first becoming `intervention`).
    also: tuple[Intervention, ...] = ()

    @property
    def planned(self) -> tuple[Intervention, ...]:
        """Every planned intervention of the edge, in priority order."""
        return (self.intervention, *self.also) if self.intervention else self.also


@dataclass(frozen=True)
class Triage:
    metric: str  # node id of the anomalous metric (kind "metric")
    direction: Direction = "both"
    bucket: timedelta = timedelta(hours=1)
    max_gap: timedelta = timedelta(hours=2)
    max_staleness: timedelta = timedelta(hours=2)
    max_clock_skew: timedelta = timedelta(minutes=5)
    recompute_tolerance: float = 0.02  # relative gap between reported and recomputed metric
    critical: float = 0.15  # relative change of the metric that makes the incident critical
    minor: float = 0.05  # below this the anomaly is not an incident
    latency_series: str = ""  # metric series names used to classify latency / error changes
    error_series: str = ""


@dataclass(frozen=True)
class Scorer:
    type: ScorerType
    threshold: float = 0.5  # decision is `positive` when score >= threshold
    positive: str = "1"
    negative: str = "0"
    # linear / logistic: feature node id -> weight; categorical one-hot as "node=value".
    intercept: float = 0.0
    weights: dict[str, float] = field(default_factory=dict)
    # python: "package.module:function", called with a pyarrow.Table of features.
    entry_point: str = ""
    # http: POST batches of rows in `protocol`'s shape (docs/scoring.md)
    url: str = ""
    batch_size: int = 500
    timeout: float = 5.0  # seconds for one request, connect to last byte
    retries: int = 2
    deadline: float = 120.0  # seconds for all the scoring of one step, retries included
    protocol: HttpProtocol = "rows"
    output: str = ""  # which output to read: a named output tensor or a key of each prediction
    column: int | None = None  # which column of a 2-D prediction (predict_proba: 1)
    names: dict[str, str] = field(default_factory=dict)  # node id -> the model's input name
    datatypes: dict[str, str] = field(default_factory=dict)  # node id -> a DATATYPES name
    # (header name, value): a value's ${VAR} is read from the environment when the scorer is
    # built, so the playbook (and anything recording it) holds the variable's name only.
    headers: tuple[tuple[str, str], ...] = ()
    verify: bool = True  # check the server's TLS certificate
    ca_bundle: str = ""  # PEM file of the CAs to trust instead of the system's
    concurrency: int = 4  # batches in flight at once
    # python / http: node ids sent to the scorer (the loader fills in every feature node
    # when the playbook leaves it out); linear / logistic read the nodes their weights name.
    inputs: tuple[str, ...] = ()

    @property
    def features(self) -> list[str]:
        """Feature node ids the scorer reads (categorical one-hot keys folded)."""
        seen: dict[str, None] = dict.fromkeys(self.inputs)
        for key in self.weights:
            seen[key.split("=", 1)[0]] = None
        return list(seen)


# Steps whose queries may get their own time limit ([limits.steps]).
LIMITED_STEPS: tuple[str, ...] = STEPS


@dataclass(frozen=True)
class Limits:
    """Time limits on telemetry queries: a playbook expression is code and can run forever."""

    query_seconds: float = 300.0  # any one query of an investigation step
    check_seconds: float = 10.0  # `telemetry check`: each expression on a 1,000-row sample
    steps: dict[str, float] = field(default_factory=dict)  # step -> seconds, overrides the above

    def for_step(self, step: str) -> tuple[float, str]:
        """(seconds, the key that sets them) for one query of the step."""
        if step in self.steps:
            return self.steps[step], f"limits.steps.{step}"
        return self.query_seconds, "limits.query_seconds"


@dataclass(frozen=True)
class Playbook:
    path: Path
    model: ModelInfo
    tables: TelemetryTables
    windows: Windows
    nodes: dict[str, Node]
    edges: list[Edge]
    triage: Triage
    scorer: Scorer
    sensitive: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    # [expressions]: named SQL sub-expressions, already substituted into every node expr,
    # reference and sql parameter by the loader (kept for rendering and write-back).
    expressions: dict[str, str] = field(default_factory=dict)
    # [evidence] producers: decisions columns naming who produced a row (segment, source,
    # site, client version, shard); empty: every seg_* column and the model version column.
    producers: tuple[str, ...] = ()
    # [changes] and [alerts]: which node a change event touches, which metric an alert is about.
    intake: IntakeConfig = field(default_factory=IntakeConfig)
    # [impact]: what a changed decision or a metric event is worth (the report's Impact).
    impact: ImpactConfig | None = None

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]

    def edge(self, source: str, target: str) -> Edge:
        for edge in self.edges:
            if edge.source == source and edge.target == target:
                return edge
        raise KeyError(f"{source} -> {target}")
