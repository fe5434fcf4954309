"""The telemetry contract of docs/telemetry.md, and the checks that name what breaks it.

CONTRACT is the single typed form of the doc's tables; a test keeps the two equal.
Each problem names the file (or .duckdb table) and the column, so a person can fix the export
that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from console.playbook.model import TelemetryTables
from console.telemetry.store import TelemetryStore, duckdb_identifier, open_store
from console.telemetry.windows import format_utc

# Contract type -> DuckDB types that satisfy it (as DESCRIBE prints them).
ACCEPTED_TYPES: dict[str, frozenset[str]] = {
    "VARCHAR": frozenset({"VARCHAR"}),
    "DOUBLE": frozenset({"DOUBLE", "FLOAT"}),
    "TIMESTAMPTZ": frozenset({"TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ", "TIMESTAMPTZ_NS"}),
}

# How each contract type is written from pyarrow, for messages.
ARROW_NAMES: dict[str, str] = {
    "VARCHAR": "string",
    "DOUBLE": "float64",
    "TIMESTAMPTZ": "timestamp[us, tz=UTC]",
}

DEFAULT_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Column:
    name: str  # a column name, or a prefix ending in "*" (raw_*, feat_*, seg_*, label_*)
    type: str  # a key of ACCEPTED_TYPES, or "any"
    required: bool

    @property
    def is_prefix(self) -> bool:
        return self.name.endswith("*")


CONTRACT: dict[str, tuple[Column, ...]] = {
    "decisions": (
        Column("prediction_id", "VARCHAR", True),
        Column("ts", "TIMESTAMPTZ", True),
        Column("model_version", "VARCHAR", True),
        Column("score", "DOUBLE", True),
        Column("decision", "VARCHAR", True),
        Column("latency_ms", "DOUBLE", False),
        Column("status", "VARCHAR", False),
        Column("raw_*", "any", False),
        Column("feat_*", "any", False),
        Column("seg_*", "VARCHAR", False),
        Column("label_*", "any", False),
    ),
    "metrics": (
        Column("ts", "TIMESTAMPTZ", True),
        Column("metric", "VARCHAR", True),
        Column("value", "DOUBLE", True),
        Column("labels", "VARCHAR", False),
    ),
    "changes": (
        Column("ts", "TIMESTAMPTZ", True),
        Column("kind", "VARCHAR", True),
        Column("node", "VARCHAR", True),
        Column("summary", "VARCHAR", True),
        Column("actor", "VARCHAR", True),
    ),
}

# An empty changes table is normal (nothing changed); empty decisions or metrics are not.
MAY_BE_EMPTY: frozenset[str] = frozenset({"changes"})


@dataclass(frozen=True)
class TableSummary:
    table: str
    label: str  # the file (or .duckdb table) it was read from
    rows: int
    first: datetime | None  # min(ts)
    last: datetime | None  # max(ts)

    def __str__(self) -> str:
        if self.first is None or self.last is None:
            return f"{self.table}: {self.rows:,} rows, no time range ({self.label})"
        return (
            f"{self.table}: {self.rows:,} rows, {format_utc(self.first)} to "
            f"{format_utc(self.last)} ({self.label})"
        )


def check_schema(
    source: TelemetryStore | Path,
    tables: TelemetryTables,
    *,
    now: datetime | None = None,
    skew: timedelta = DEFAULT_SKEW,
) -> list[str]:
    """Every way the store breaks the contract; [] when it keeps it.

    `source` is an open store or a telemetry folder / .duckdb file (opened and closed here).
    Timestamps later than `now + skew` count as in the future.
    """
    if isinstance(source, TelemetryStore):
        return _check_store(source, now=now, skew=skew)
    with open_store(Path(source), tables, allow_missing=True) as store:
        return _check_store(store, now=now, skew=skew)


def table_summaries(store: TelemetryStore) -> list[TableSummary]:
    """Row count and time range of each table (tables whose ts is not a timestamp get None)."""
    summaries = []
    for table in store.tables:
        types = dict(store.columns(table))
        has_ts = types.get("ts") in ACCEPTED_TYPES["TIMESTAMPTZ"]
        ts = "min(ts) AS first, max(ts) AS last" if has_ts else "NULL AS first, NULL AS last"
        row = store.query(
            f"SELECT count(*) AS n, {ts} FROM {duckdb_identifier(table)}"
        ).to_pylist()[0]
        summaries.append(
            TableSummary(table, store.label(table), row["n"], row["first"], row["last"])
        )
    return summaries


def _check_store(store: TelemetryStore, *, now: datetime | None, skew: timedelta) -> list[str]:
    now = (now or datetime.now(UTC)).astimezone(UTC)
    problems = list(store.missing)
    for table in store.tables:
        problems += _check_table(store, table, now + skew, now, skew)
    return problems


def _check_table(
    store: TelemetryStore, table: str, horizon: datetime, now: datetime, skew: timedelta
) -> list[str]:
    label = store.label(table)
    actual = dict(store.columns(table))
    problems: list[str] = []
    usable: list[str] = []  # required columns present with the right type
    for column in CONTRACT[table]:
        names = (
            [n for n in actual if n.startswith(column.name[:-1])]
            if column.is_prefix
            else [column.name]
        )
        for name in names:
            if name not in actual:
                if column.required:
                    problems.append(
                        f"{label}: missing required column {name} ({column.type}, "
                        f"Parquet {ARROW_NAMES[column.type]})"
                    )
                continue
            problem = _type_problem(label, name, actual[name], column.type)
            if problem:
                problems.append(problem)
            elif column.required:
                usable.append(name)
    problems += _check_values(store, table, label, usable, horizon, now, skew)
    return problems


def _type_problem(label: str, name: str, actual: str, expected: str) -> str | None:
    if expected == "any" or actual in ACCEPTED_TYPES[expected]:
        return None
    hint = f"write it as Parquet {ARROW_NAMES[expected]}"
    if expected == "TIMESTAMPTZ" and actual.startswith("TIMESTAMP"):
        hint += "; a timestamp without a time zone is ambiguous"
    elif expected == "TIMESTAMPTZ":
        hint += ", not as text or a number"
    return f"{label}: column {name} is {actual}, the contract needs {expected} ({hint})"


def _check_values(
    store: TelemetryStore,
    table: str,
    label: str,
    usable: list[str],
    horizon: datetime,
    now: datetime,
    skew: timedelta,
) -> list[str]:
    if _values_fine(store, table, usable, horizon):
        return []
    counts = ", ".join(
        f"count({duckdb_identifier(name)}) AS {duckdb_identifier('n_' + name)}" for name in usable
    )
    future = (
        ", count(*) FILTER (WHERE ts > $horizon) AS future_rows, max(ts) AS latest"
        if "ts" in usable
        else ""
    )
    sql = f"SELECT count(*) AS rows_{', ' + counts if counts else ''}{future} "
    sql += f"FROM {duckdb_identifier(table)}"
    row = store.query(sql, {"horizon": horizon} if future else None).to_pylist()[0]
    rows = row["rows_"]
    if rows == 0:
        return [] if table in MAY_BE_EMPTY else [f"{label}: holds no rows"]
    problems = [
        f"{label}: required column {name} is NULL in all {rows:,} rows"
        for name in usable
        if row["n_" + name] == 0
    ]
    if future and row["future_rows"]:
        problems.append(
            f"{label}: column ts has {row['future_rows']:,} rows in the future (latest "
            f"{format_utc(row['latest'])}, now {format_utc(now)}, allowed clock skew {skew})"
        )
    return problems


SAMPLE_ROWS = 2048  # what the quick look at a table's values reads (one Parquet row group or less)


def _values_fine(store: TelemetryStore, table: str, usable: list[str], horizon: datetime) -> bool:
    """True when the table's first SAMPLE_ROWS rows hold a row and a non-NULL value of each
    required column, and ts holds no value past the horizon: every open's answer, found
    without reading the whole table (at 30M rows the full counts took 0.37 s).

    `ts > $horizon ... LIMIT 1` skips every Parquet row group whose max(ts) is earlier, so it
    reads nothing when no row is in the future. When either says otherwise, _check_values
    counts over the whole table to say how much (a column NULL in the first rows only passes
    that count).
    """
    source = duckdb_identifier(table)
    names = [duckdb_identifier(name) for name in usable]
    counts = ", ".join(["count(*)", *(f"count({name})" for name in names)])
    columns = ", ".join(names) or "1"
    sql = (
        f"SELECT (SELECT [{counts}] FROM (SELECT {columns} FROM {source} "
        f"LIMIT {SAMPLE_ROWS}) AS s) AS present"
    )
    future = "ts" in usable
    if future:
        first_future = f"SELECT 1 FROM {source} WHERE ts > $horizon LIMIT 1"
        sql += f", (SELECT count(*) FROM ({first_future}) AS f) AS future"
    row = store.query(sql, {"horizon": horizon} if future else None).to_pylist()[0]
    return all(row["present"]) and not (future and row["future"])


def check_unique_ids(store: TelemetryStore) -> list[str]:
    """prediction_id must be unique: a repeated id double-counts a decision in every metric
    recomputed from the table and in the blast radius. A pass over every id (seconds on ten
    million rows), so `telemetry check` runs it, not every investigation."""
    if dict(store.columns("decisions")).get("prediction_id") != "VARCHAR":
        return []  # check_schema reports a missing or mistyped column
    label = store.label("decisions")
    row = store.query(
        "SELECT count(*) AS ids, sum(n) - count(*) AS extra, arg_max(prediction_id, n) AS worst, "
        "max(n) AS most FROM (SELECT prediction_id, count(*) AS n FROM decisions "
        "WHERE prediction_id IS NOT NULL GROUP BY prediction_id HAVING count(*) > 1) AS d"
    ).to_pylist()[0]
    if not row["ids"]:
        return []
    return [
        f"{label}: column prediction_id repeats {row['ids']:,} ids ({row['extra']:,} extra rows; "
        f"e.g. {row['worst']!r} appears {row['most']:,} times); each prediction must have one row"
    ]
