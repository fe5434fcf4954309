"""What every investigation step reads: the playbook, the open store, the windows, the alert.

The steps (triage, locate, interventions, counterfactual, validate) are plain functions of a
Context; the Investigation (console.engine.investigation) owns one, records each step in the
trail and keeps their results. SQL pieces shared by the steps live here too: the window
predicates (always parameters, never text) and the playbook expressions (validated by the
loader and bound by `playbook check --telemetry`, so they are the one kind of text allowed
into SQL).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import networkx as nx
import pyarrow as pa

from console.engine.results import ChangeEvent, Window
from console.errors import ConsoleError
from console.playbook.graph import build_graph
from console.playbook.model import Edge, Node, Playbook
from console.telemetry.binding import playbook_expressions
from console.telemetry.store import QueryFailed, TelemetryStore
from console.telemetry.windows import Window as TelemetryWindow
from console.telemetry.windows import format_utc, parse_utc

SCENARIO_FILE = "scenario.toml"

# Windows of a two-sided comparison, as SQL over the decisions table: `w` is 'baseline',
# 'incident' or NULL, and WHERE keeps only rows of either window (so Parquet row groups
# outside both are skipped).
SIDE_CASE = (
    "CASE WHEN ts >= $b_start AND ts < $b_end THEN 'baseline' "
    "WHEN ts >= $i_start AND ts < $i_end THEN 'incident' END"
)
SIDE_WHERE = "((ts >= $b_start AND ts < $b_end) OR (ts >= $i_start AND ts < $i_end))"


def side_params(baseline: Window, incident: Window) -> dict[str, datetime]:
    """Parameters of SIDE_CASE / SIDE_WHERE for a pair of windows."""
    return {
        "b_start": baseline.start,
        "b_end": baseline.end,
        "i_start": incident.start,
        "i_end": incident.end,
    }


def sql_number(value: float) -> str:
    """A number from the playbook (a weight, a tolerance) as a SQL DOUBLE literal."""
    return f"CAST({float(value)!r} AS DOUBLE)"


@dataclass(frozen=True)
class ScenarioHints:
    """What a game-day folder's scenario.toml says about the alert (never the answer)."""

    alert_at: datetime | None = None
    metric: str | None = None
    title: str = ""
    story: str = ""


def read_scenario_hints(telemetry_dir: Path) -> ScenarioHints:
    """alert_at / metric / story from <telemetry>/scenario.toml when there is one."""
    folder = Path(telemetry_dir)
    path = folder / SCENARIO_FILE if folder.is_dir() else folder.parent / SCENARIO_FILE
    if not path.is_file():
        return ScenarioHints()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConsoleError(f"{path}: not valid TOML: {exc}") from None
    alert = data.get("alert_at")
    if isinstance(alert, str):
        alert = parse_utc(alert)
    elif isinstance(alert, datetime):
        alert = alert.replace(tzinfo=UTC) if alert.tzinfo is None else alert.astimezone(UTC)
    elif alert is not None:
        raise ConsoleError(f"{path}: alert_at = {alert!r} is not a date-time")
    metric = data.get("metric")
    return ScenarioHints(
        alert_at=alert,
        metric=str(metric) if metric else None,
        title=str(data.get("title", "")),
        story=str(data.get("story", "")),
    )


@dataclass
class Context:
    playbook: Playbook
    store: TelemetryStore
    incident_dir: Path
    alert_at: datetime
    metric: str
    windows: dict[str, Window]
    graph: nx.DiGraph = field(init=False)
    columns: dict[str, str] = field(init=False)  # decisions column -> DuckDB type
    # Results shared between steps (the screening pass is run once per investigation).
    cache: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.graph = build_graph(self.playbook)
        self.columns = dict(self.store.columns("decisions"))
        node = self.playbook.nodes.get(self.metric)
        if node is None:
            raise ConsoleError(
                f"{self.playbook.path}: no node {self.metric!r} (the anomalous metric)"
            )
        if node.kind != "metric":
            raise ConsoleError(
                f"{self.playbook.path}: node {self.metric!r} is a {node.kind}, not a metric"
            )

    # -- the playbook ---------------------------------------------------------------------

    def node(self, node_id: str) -> Node:
        return self.playbook.nodes[node_id]

    def edge(self, source: str, target: str) -> Edge:
        try:
            return self.playbook.edge(source, target)
        except KeyError:
            raise ConsoleError(
                f"{self.playbook.path}: no edge {source} -> {target} in the playbook"
            ) from None

    def has_column(self, name: str) -> bool:
        return name in self.columns

    @property
    def baseline(self) -> Window:
        return self.windows["baseline"]

    @property
    def incident(self) -> Window:
        return self.windows["incident"]

    def lookback(self) -> Window:
        """Where a change event counts as "in or just before" the incident: from one
        incident length before the incident starts up to the alert."""
        start = self.incident.start - (self.incident.end - self.incident.start)
        return Window("lookback", start, self.incident.end)

    # -- change events --------------------------------------------------------------------

    def changes(self) -> list[ChangeEvent]:
        """Every change event of the store, oldest first (cached: the table is small)."""
        if "changes" not in self.cache:
            if "changes" not in self.store.tables:
                self.cache["changes"] = []
            else:
                rows = self.store.query(
                    "SELECT ts, kind, node, summary, actor FROM changes ORDER BY ts"
                ).to_pylist()
                self.cache["changes"] = [
                    ChangeEvent(
                        ts=r["ts"].astimezone(UTC),
                        kind=str(r["kind"]),
                        node=str(r["node"]),
                        summary=str(r["summary"]),
                        actor=str(r["actor"]),
                    )
                    for r in rows
                    if r["ts"] is not None
                ]
        changes: list[ChangeEvent] = self.cache["changes"]
        return changes

    def changes_near(self, node: str) -> list[ChangeEvent]:
        """Change events on node in or just before the incident window."""
        window = self.lookback()
        return [c for c in self.changes() if c.node == node and window.start <= c.ts < window.end]

    def require_rows(self, window: Window, rows: int) -> None:
        """ConsoleError in the words of docs/telemetry.md when a window holds no decisions."""
        if rows == 0:
            raise ConsoleError(
                f"{window.name} window {format_utc(window.start)} to {format_utc(window.end)} "
                f"holds no rows in {self.store.label('decisions')}"
            )

    # -- running SQL ----------------------------------------------------------------------

    def run(self, sql: str, params: Any = None) -> pa.Table:
        """The query runner the stats functions take.

        A query DuckDB rejects at run time (a cast that fails on some rows) raises a
        ConsoleError naming the playbook expression at fault, its node and its key.
        """
        try:
            return self.store.query(sql, params)
        except QueryFailed as exc:
            raise self.blame(sql, exc) from exc

    def blame(self, sql: str, failure: QueryFailed) -> ConsoleError:
        """The error of a failed query, naming the playbook expression that fails on its own
        (tried over every decisions row, in each form the engine reads it), or the failure
        itself when none does. Runs only after a failure, so its extra scans cost nothing in
        a healthy investigation."""
        for item in playbook_expressions(self.playbook):
            if item.expr not in sql:
                continue
            for form in item.forms():
                try:
                    self.store.query(item.probe(form))
                except QueryFailed as exc:
                    return ConsoleError(
                        f"{self.playbook.path}: {item.key} (node {item.node}) fails on the "
                        f"telemetry: {exc.detail}",
                        node=item.node,
                        key=item.key,
                    )
                except ConsoleError:
                    return failure  # cancelled or out of time: no verdict on this one
        return failure


def result_window(window: TelemetryWindow) -> Window:
    """The telemetry layer's window as the engine's result type (plain data for to_dict)."""
    return Window(window.name, window.start, window.end)


def hours(delta: timedelta) -> str:
    """A duration in words for reasons: 90 min, 3.5 h, 2 d."""
    seconds = delta.total_seconds()
    if abs(seconds) < 3600:
        return f"{seconds / 60:.0f} min"
    if abs(seconds) < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
