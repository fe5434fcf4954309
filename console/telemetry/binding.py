"""Does the playbook read columns that the telemetry has?

Every SQL expression of the playbook (node expr, derived-feature reference, freshness age_expr)
is bound against the decisions table with `SELECT <expr> FROM decisions LIMIT 0`: DuckDB's
binder checks names and types without reading a row. A failure names the node, the expression
and the missing column, with the closest real column as a suggestion.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from console.errors import ConsoleError
from console.playbook.model import Playbook
from console.telemetry.schema import check_schema
from console.telemetry.store import QueryFailed, TelemetryStore, open_store

# Binder messages that carry the unknown column's name.
_MISSING_COLUMN = (
    re.compile(r'Referenced column "([^"]+)" not found'),
    re.compile(r'does not have a column named "([^"]+)"'),
)


def check_bindings(playbook: Playbook, telemetry: Path | TelemetryStore) -> list[str]:
    """Problems binding the playbook to the telemetry; [] when every expression binds.

    `telemetry` is a folder / .duckdb file (opened and closed here) or an open store.
    """
    if isinstance(telemetry, TelemetryStore):
        return _check(playbook, telemetry)
    with open_store(Path(telemetry), playbook.tables, allow_missing=True) as store:
        return list(store.missing) + _check(playbook, store)


def require_fit(playbook: Playbook, store: TelemetryStore) -> None:
    """The contract's schema and every playbook expression checked against the store, raising
    one ConsoleError listing every problem (before any step trips over a raw binder error)."""
    problems = check_schema(store, playbook.tables) + check_bindings(playbook, store)
    if problems:
        raise ConsoleError(
            f"telemetry {store.location} does not fit {playbook.path} "
            f"({len(problems)} problem{'s' if len(problems) != 1 else ''})",
            problems=problems,
        )


def _check(playbook: Playbook, store: TelemetryStore) -> list[str]:
    problems: list[str] = []
    if "decisions" in store.tables:
        columns = [name for name, _ in store.columns("decisions")]
        label = store.label("decisions")
        for what, expr, aggregate in _expressions(playbook):
            problem = _bind(store, expr, aggregate, columns)
            if problem:
                problems.append(f"{what} {expr!r} does not bind to {label}: {problem}")
        for what, column in _columns(playbook):
            if column not in columns:
                problems.append(
                    f"{what} names column {column!r}, not in {label}{_suggest(column, columns)}"
                )
    if "metrics" in store.tables:
        problems += _check_series(playbook, store)
    return problems


def _expressions(playbook: Playbook) -> list[tuple[str, str, bool]]:
    """(what, expression, is an aggregate) for every expression the engine will run."""
    found = []
    for node in playbook.nodes.values():
        if node.expr:
            found.append((f"node {node.id!r} expr", node.expr, node.kind == "metric"))
        if node.reference:
            found.append((f"node {node.id!r} reference", node.reference, False))
    for edge in playbook.edges:
        if edge.intervention and edge.intervention.type == "freshness":
            age = edge.intervention.params.get("age_expr", "")
            if age:
                what = f"edge {edge.source} -> {edge.target} freshness age_expr"
                found.append((what, str(age), False))
    return found


def _columns(playbook: Playbook) -> list[tuple[str, str]]:
    """Plain column names the playbook relies on."""
    found = [("[model] version_column", playbook.model.version_column)]
    found += [("[privacy] sensitive", column) for column in playbook.sensitive]
    return found


def _bind(store: TelemetryStore, expr: str, aggregate: bool, columns: list[str]) -> str | None:
    # Row expressions are also bound in WHERE, which rejects aggregates; metric expressions
    # must be aggregates, which HAVING without GROUP BY accepts and plain columns fail.
    probe = (
        f"SELECT ({expr}) AS value FROM decisions HAVING true LIMIT 0"
        if aggregate
        else f"SELECT ({expr}) AS value FROM decisions WHERE ({expr}) IS NULL LIMIT 0"
    )
    try:
        store.query(probe)
    except QueryFailed as exc:
        message = str(exc).split(" failed: ", 1)[-1]
        for pattern in _MISSING_COLUMN:
            match = pattern.search(message)
            if match:
                column = match.group(1)
                return f"no column {column!r}{_suggest(column, columns)}"
        if aggregate and "GROUP BY" in message:
            return "a metric node's expr must be an aggregate such as avg(...) over the rows"
        if "aggregate" in message.lower() and not aggregate:
            return "an aggregate is only allowed in a metric node's expr"
        return message
    return None


def _check_series(playbook: Playbook, store: TelemetryStore) -> list[str]:
    wanted = [
        (f"metric node {node.id!r} series", node.series)
        for node in playbook.nodes.values()
        if node.kind == "metric" and node.series
    ]
    if playbook.triage.latency_series:
        wanted.append(("[triage] latency_series", playbook.triage.latency_series))
    if playbook.triage.error_series:
        wanted.append(("[triage] error_series", playbook.triage.error_series))
    if not wanted or dict(store.columns("metrics")).get("metric") != "VARCHAR":
        return []  # check_schema reports a missing or mistyped metric column
    names = store.query("SELECT DISTINCT metric FROM metrics WHERE metric IS NOT NULL")
    present = names.column("metric").to_pylist()
    return [
        f"{what} {series!r} has no rows in {store.label('metrics')}{_suggest(series, present)}"
        for what, series in wanted
        if series not in present
    ]


def _suggest(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
