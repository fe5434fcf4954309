"""Does the playbook read columns that the telemetry has?

Every SQL expression of the playbook (node expr, derived-feature reference, an intervention's
SQL parameter such as freshness age_expr) is bound against the decisions table with
`SELECT <expr> FROM decisions LIMIT 0`: DuckDB's binder checks names and types without reading
a row. A failure names the node, the expression and the missing column, with the closest
real column as a suggestion. The loader has already expanded every {name} of [expressions],
so the expression shown is the SQL that runs. The plain column names a playbook relies on
([model] version_column, [privacy] sensitive, [evidence] producers) must be decisions
columns, and an [expressions] name must not be one.

Binding proves nothing about run time: a cast that fails on some values, or an expression that
burns CPU forever. check_samples runs each expression, in the form the engine uses it, on the
first SAMPLE_ROWS decision rows under a time limit (`telemetry check`), and
playbook_expressions is the one list of expressions, with the node and playbook key of each,
that the engine uses to name the expression behind a failed query.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from console.errors import ConsoleError
from console.playbook.intervention_types import INTERVENTION_TYPES
from console.playbook.model import Playbook
from console.telemetry.schema import check_schema, check_unique_ids
from console.telemetry.store import QueryFailed, QueryTimedOut, TelemetryStore, open_store

# Binder messages that carry the unknown column's name.
_MISSING_COLUMN = (
    re.compile(r'Referenced column "([^"]+)" not found'),
    re.compile(r'does not have a column named "([^"]+)"'),
)


SAMPLE_ROWS = 1000


@dataclass(frozen=True)
class PlaybookExpression:
    """One SQL expression of the playbook and where it is set."""

    node: str  # the node it reads (an intervention's SQL parameter: the edge's source)
    key: str  # the playbook key, e.g. "nodes.f_amount.expr"
    what: str  # how problems name it, e.g. "node 'f_amount' expr"
    expr: str
    aggregate: bool  # a metric node's expr
    numeric: bool  # the engine reads it as DOUBLE

    def forms(self) -> list[str]:
        """The expression as the engine runs it: as written, then cast when read as numbers
        (a value that does not convert fails only in the cast)."""
        plain = f"({self.expr})"
        return [plain, f"CAST({plain} AS DOUBLE)"] if self.numeric else [plain]

    def probe(self, form: str, rows: int | None = None) -> str:
        """A query evaluating the form on every decisions row (or the first `rows`)."""
        source = "decisions" if rows is None else f"(SELECT * FROM decisions LIMIT {int(rows)})"
        if self.aggregate:
            return f"SELECT {form} AS value FROM {source} AS decisions"
        return f"SELECT count({form}) AS value FROM {source} AS decisions"


def playbook_expressions(playbook: Playbook) -> list[PlaybookExpression]:
    """Every expression the engine will run, in playbook order."""
    found = []
    for node in playbook.nodes.values():
        numeric = node.type == "numeric"
        if node.expr:
            metric = node.kind == "metric"
            found.append(
                PlaybookExpression(
                    node.id, f"nodes.{node.id}.expr", f"node {node.id!r} expr", node.expr,
                    aggregate=metric, numeric=numeric and not metric,
                )
            )  # fmt: skip
        if node.reference:
            found.append(
                PlaybookExpression(
                    node.id, f"nodes.{node.id}.reference", f"node {node.id!r} reference",
                    node.reference, aggregate=False, numeric=numeric,
                )
            )  # fmt: skip
    for edge in playbook.edges:
        # The key as written: `intervention` for one planned intervention, else
        # `interventions[i]` in priority order.
        for index, intervention in enumerate(edge.planned):
            key = "intervention" if len(edge.planned) == 1 else f"interventions[{index}]"
            kind = intervention.type
            # Parameters of kind "sql" are per-row numbers read next to the edge's source.
            for param in INTERVENTION_TYPES[kind].params:
                expr = intervention.params.get(param.name, "") if param.kind == "sql" else ""
                if expr:
                    found.append(
                        PlaybookExpression(
                            edge.source,
                            f"edges.{edge.source}->{edge.target}.{key}.{param.name}",
                            f"edge {edge.source} -> {edge.target} {kind} {param.name}",
                            str(expr), aggregate=False, numeric=True,
                        )
                    )  # fmt: skip
    return found


def check_samples(playbook: Playbook, store: TelemetryStore) -> list[str]:
    """Each expression run on the first SAMPLE_ROWS decision rows, every query stopped after
    [limits] check_seconds: the expressions that fail or do not finish."""
    seconds = playbook.limits.check_seconds
    setting = f"limits.check_seconds in {playbook.path}"
    problems: list[str] = []
    with store.time_limit(seconds, "telemetry check", setting):
        for item in playbook_expressions(playbook):
            for form in item.forms():
                try:
                    store.query(item.probe(form, SAMPLE_ROWS))
                except QueryTimedOut:
                    problems.append(
                        f"{item.what} {item.expr!r} ({item.key}) did not finish within "
                        f"{seconds:g} s on {SAMPLE_ROWS:,} rows of {store.label('decisions')} "
                        f"(limits.check_seconds)"
                    )
                    break
                except QueryFailed as exc:
                    problems.append(
                        f"{item.what} {item.expr!r} ({item.key}) fails on the first "
                        f"{SAMPLE_ROWS:,} rows of {store.label('decisions')}: {exc.detail}"
                    )
                    break
    return problems


def check_bindings(playbook: Playbook, telemetry: Path | TelemetryStore | None) -> list[str]:
    """Problems binding the playbook to the telemetry; [] when every expression binds.

    `telemetry` is a folder / .duckdb file (opened and closed here, with the playbook's
    declared sources), None when the playbook declares a source for every table, or an open
    store.
    """
    if isinstance(telemetry, TelemetryStore):
        return _check(playbook, telemetry)
    folder = Path(telemetry) if telemetry is not None else None
    with open_store(folder, playbook.tables, allow_missing=True) as store:
        return list(store.missing) + _check(playbook, store)


def require_fit(playbook: Playbook, store: TelemetryStore, *, thorough: bool = False) -> None:
    """The contract's schema and every playbook expression checked against the store, raising
    one ConsoleError listing every problem (before any step trips over a raw binder error).

    thorough (`telemetry check`): also look for repeated prediction ids, and run each
    expression on a sample (check_samples) when all of them bind."""
    problems = check_schema(store, playbook.tables) + check_bindings(playbook, store)
    if thorough and "decisions" in store.tables:
        bound = not problems  # a sample run of expressions that do not bind tells nothing new
        problems += check_unique_ids(store)
        if bound:
            problems += check_samples(playbook, store)
    if problems:
        raise ConsoleError(
            f"telemetry {store.where} does not fit {playbook.path} "
            f"({len(problems)} problem{'s' if len(problems) != 1 else ''})",
            problems=problems,
        )


def _check(playbook: Playbook, store: TelemetryStore) -> list[str]:
    problems: list[str] = []
    if "decisions" in store.tables:
        columns = [name for name, _ in store.columns("decisions")]
        label = store.label("decisions")
        items = playbook_expressions(playbook)
        # One query binds them all (every open pays for this); only when it fails is each
        # expression bound alone, to name every one that does not bind and why.
        if not _bind_all(store, items):
            for item in items:
                problem = _bind(store, item.expr, item.aggregate, columns)
                if problem:
                    problems.append(
                        f"{item.what} {item.expr!r} does not bind to {label}: {problem}"
                    )
        for what, column in _columns(playbook):
            if column not in columns:
                problems.append(
                    f"{what} names column {column!r}, not in {label}{_suggest(column, columns)}"
                )
        problems += _expression_names(playbook, columns, label)
    if "metrics" in store.tables:
        problems += _check_series(playbook, store)
    return problems


def _columns(playbook: Playbook) -> list[tuple[str, str]]:
    """Plain column names the playbook relies on."""
    found = [("[model] version_column", playbook.model.version_column)]
    found += [("[privacy] sensitive", column) for column in playbook.sensitive]
    found += [
        (f"evidence.producers[{index}]", column) for index, column in enumerate(playbook.producers)
    ]
    return found


def _expression_names(playbook: Playbook, columns: list[str], label: str) -> list[str]:
    """An [expressions] name equal to a decisions column (DuckDB compares column names
    without case) lets a reader take {name} for the column, or the column for the
    expression."""
    by_folded = {column.lower(): column for column in columns}
    return [
        f"expressions.{name}: same name as the column {by_folded[name.lower()]!r} of {label}; "
        "rename the expression"
        for name in playbook.expressions
        if name.lower() in by_folded
    ]


def _bind_all(store: TelemetryStore, items: list[PlaybookExpression]) -> bool:
    """True when every expression binds, in one query of the probes _bind runs one by one:
    the row expressions in one SELECT (and its WHERE), the metric ones in another (with
    HAVING), cross-joined; LIMIT 0 reads no row. The aliases hold a space: DuckDB lets an
    expression name an earlier select-list alias, which no expression can do by accident."""
    rows = [item.expr for item in items if not item.aggregate]
    metrics = [item.expr for item in items if item.aggregate]
    parts = []
    if rows:
        values = ", ".join(f'({expr}) AS "row probe {i}"' for i, expr in enumerate(rows))
        where = " OR ".join(f"(({expr}) IS NULL)" for expr in rows)
        parts.append(f"(SELECT {values} FROM decisions WHERE {where} LIMIT 0) AS r")
    if metrics:
        values = ", ".join(f'({expr}) AS "metric probe {i}"' for i, expr in enumerate(metrics))
        parts.append(f"(SELECT {values} FROM decisions HAVING true LIMIT 0) AS m")
    if not parts:
        return True
    try:
        store.query(f"SELECT * FROM {', '.join(parts)}")
    except QueryFailed:
        return False
    return True


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
