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
from console.playbook.graph import build_graph, causal_graph
from console.playbook.model import Edge, Node, Playbook
from console.telemetry.binding import playbook_expressions
from console.telemetry.store import QueryFailed, TelemetryStore
from console.telemetry.windows import Window as TelemetryWindow
from console.telemetry.windows import as_utc, format_utc, parse_utc

SCENARIO_FILE = "scenario.toml"

DAY_S = 86400.0
# A row at the same time of day as the incident window: $i_start, $span seconds long. Most
# inputs and metrics have a daily cycle, so an evening incident is compared with the
# baseline's evenings, never with its whole days. The time of day is taken in integer
# microseconds, exact on both engines: a difference of epoch seconds rounded to a whole one
# moved both edges by up to half a second (and cost more per row).
DAY_US = round(DAY_S) * 1_000_000
SAME_HOURS = (
    f"((epoch_us(ts) - epoch_us($i_start)) % {DAY_US} + {DAY_US}) % {DAY_US} < $span * 1000000"
)
# The rows each side of a comparison reads: the baseline's at the incident's hours of the day,
# and the incident's. Every query that compares the two windows uses these (through SIDE_CASE
# and SIDE_WHERE, or directly), with side_params; a query on the baseline alone that stands
# for it in such a comparison uses IN_BASELINE with baseline_params.
IN_BASELINE = f"(ts >= $b_start AND ts < $b_end AND {SAME_HOURS})"
IN_INCIDENT = "(ts >= $i_start AND ts < $i_end)"
# Windows of a two-sided comparison, as SQL over the decisions table: `w` is 'baseline',
# 'incident' or NULL, and WHERE keeps only rows of either window. Its leading bounds say the
# same as the OR after them, in a form DuckDB pushes into the Parquet scan (a top-level range
# of constants), so row groups outside the span of both windows are skipped: without them an
# OR of the two windows reads every row group (100M rows: 2.1 s against 1.1 s).
SIDE_CASE = f"CASE WHEN {IN_BASELINE} THEN 'baseline' WHEN {IN_INCIDENT} THEN 'incident' END"
SIDE_WHERE = (
    "(ts >= least($b_start, $i_start) AND ts < greatest($b_end, $i_end) "
    f"AND ({IN_BASELINE} OR {IN_INCIDENT}))"
)


def side_params(baseline: Window, incident: Window) -> dict[str, datetime | float]:
    """Parameters of SIDE_CASE / SIDE_WHERE (and IN_BASELINE, IN_INCIDENT) for two windows."""
    return {**baseline_params(baseline, incident), "i_end": incident.end}


def baseline_params(baseline: Window, incident: Window) -> dict[str, datetime | float]:
    """Parameters of IN_BASELINE alone: the baseline and the hours of the day it keeps."""
    return {
        "b_start": baseline.start,
        "b_end": baseline.end,
        "i_start": incident.start,
        "span": same_hours_span(baseline, incident),
    }


def same_hours_span(baseline: Window, incident: Window) -> float:
    """$span of SAME_HOURS: the incident's length in seconds, capped at a day (a window of a
    day or more keeps the whole baseline).

    A baseline that does not hold those hours of the day at least once over (a baseline of a
    few hours, ending just before the incident) is kept whole instead: a comparison with
    other hours is better than one with no rows.
    """
    span = min((incident.end - incident.start).total_seconds(), DAY_S)
    covered = 0.0
    # The baseline's time at the incident's hours, one day at a time from the first day's
    # occurrence of those hours at or before the baseline's start.
    offset = (baseline.start - incident.start).total_seconds() % DAY_S
    start = baseline.start - timedelta(seconds=offset)
    while start < baseline.end and covered < span:
        end = start + timedelta(seconds=span)
        covered += max(0.0, (min(end, baseline.end) - max(start, baseline.start)).total_seconds())
        start += timedelta(seconds=DAY_S)
    return span if covered >= span else DAY_S


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


def read_scenario_hints(telemetry_dir: Path | None) -> ScenarioHints:
    """alert_at / metric / story from <telemetry>/scenario.toml when there is one (none without
    a folder: every table then has a source declared in the playbook)."""
    if telemetry_dir is None:
        return ScenarioHints()
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
        alert = as_utc(alert)
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

    def causal(self) -> nx.DiGraph:
        """The playbook's graph without feedback edges (built once per investigation)."""
        if "causal_graph" not in self.cache:
            self.cache["causal_graph"] = causal_graph(self.playbook)
        graph: nx.DiGraph = self.cache["causal_graph"]
        return graph

    def has_column(self, name: str) -> bool:
        return name in self.columns

    @property
    def baseline(self) -> Window:
        return self.windows["baseline"]

    @property
    def incident(self) -> Window:
        return self.windows["incident"]

    def lookback(self) -> Window:
        """Where a change event counts for the incident: from the playbook's `[windows]
        lookback` before the incident starts (default: the end of the baseline window, since
        anything changed after the baseline was measured may be why the incident differs from
        it) to the end of the incident window. console.engine.change_events weighs each event
        by its proximity."""
        setting = self.playbook.windows.lookback
        start = self.incident.start - setting if setting is not None else self.baseline.end
        return Window("lookback", min(start, self.incident.start), self.incident.end)

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
        """Change events on node in the lookback (oldest first)."""
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
