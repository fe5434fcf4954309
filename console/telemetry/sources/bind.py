"""Binding the declared sources as the store's views (called by store.open_store).

Each source's rows (a pyarrow Dataset or Table from its kind's reader) are registered under a
private name and the contract view is a SELECT over them: as they are, renamed by the
playbook's `columns` mapping, or through its `view`. DuckDB registrations belong to one
connection, so the store registers the same objects again on each query's cursor.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from console.errors import ConsoleError
from console.playbook.model import TableSource, TelemetryTables
from console.telemetry.sources import KINDS, Rows, describe
from console.telemetry.store import duckdb_identifier


@dataclass
class Bound:
    labels: dict[str, str] = field(default_factory=dict)  # table -> how messages name it
    problems: list[str] = field(default_factory=list)
    registered: dict[str, Rows] = field(default_factory=dict)  # private name -> rows


def registered_name(table: str) -> str:
    return f"__source_{table}"


def label_of(source: TableSource) -> str:
    return f"{describe(source.kind, source.spec)} ({source.key})"


def bind_sources(
    con: duckdb.DuckDBPyConnection, tables: TelemetryTables, start: datetime, end: datetime
) -> Bound:
    """Read and bind every declared source; problems name the source and the playbook key."""
    bound = Bound()
    for source in tables.sources:
        label = label_of(source)
        try:
            rows = KINDS[source.kind].read(source.spec, start, end)
            bind_view(con, source, rows, label)
        except ConsoleError as exc:
            bound.problems.append(str(exc))
            continue
        bound.registered[registered_name(source.table)] = rows
        bound.labels[source.table] = label
    return bound


def bind_view(con: duckdb.DuckDBPyConnection, source: TableSource, rows: Rows, label: str) -> None:
    """(Re)create the contract view of `source` over `rows` on the store's connection."""
    name = registered_name(source.table)
    con.register(name, rows)
    try:
        sql = shape_sql(source, name, list(rows.schema.names), label)
        con.execute(f"CREATE OR REPLACE VIEW {duckdb_identifier(source.table)} AS {sql}")
    except ConsoleError:
        con.unregister(name)
        raise
    except duckdb.Error as exc:
        con.unregister(name)
        first = str(exc).strip().splitlines()[0]
        what = f"{source.key}.view" if source.view else source.key
        raise ConsoleError(f"{what}: does not bind to {label}: {first}") from None


def shape_sql(source: TableSource, name: str, names: list[str], label: str) -> str:
    """The SELECT that turns the source's rows into the contract table."""
    rows = duckdb_identifier(name)
    if source.view:
        # `source` is the one table name a playbook view reads.
        return f"WITH source AS (SELECT * FROM {rows}) SELECT * FROM ({source.view}) AS view"
    if not source.columns:
        return f"SELECT * FROM {rows}"
    problems = [
        f"{source.key}.columns.{contract} = {user!r}: no column {user!r} in {label}"
        + _suggest(user, names)
        for contract, user in source.columns
        if user not in names
    ]
    if len(problems) == 1:
        raise ConsoleError(problems[0])
    if problems:
        raise ConsoleError(f"{source.key}.columns: {len(problems)} problems", problems=problems)
    # Renamed in place, so the view keeps the source's column order (ORDER BY ALL of the
    # captured rows, and so the sums over them, follow it). A source column that has a
    # contract name of its own but is mapped over is dropped: no two columns of one name.
    contract_of = {user: contract for contract, user in source.columns}
    selected = []
    for column in names:
        if column in contract_of:
            selected.append(
                f"{duckdb_identifier(column)} AS {duckdb_identifier(contract_of[column])}"
            )
        elif column not in dict(source.columns):
            selected.append(duckdb_identifier(column))
    return f"SELECT {', '.join(selected)} FROM {rows}"


def _suggest(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
