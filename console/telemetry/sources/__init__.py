"""The telemetry source kinds: one home for how each kind is parsed and read (docs/telemetry.md).

A playbook may declare, per contract table, where it is read from:

    [telemetry.decisions]
    source = "s3://bucket/decisions/"     # or gs://, https://, a local path, a .duckdb file,
    [telemetry.decisions.columns]          # or a Spark catalog table "table:lake.fraud.decisions"
    prediction_id = "request_id"           # contract name = the user's column

A table without a `source` is today's kind, the folder: a file named by `[telemetry] <table>`
inside `--telemetry DIR` (or a table of the `--telemetry` .duckdb file); console/telemetry/
store.py binds those. The kinds below bind the others. Whatever the kind, the engine queries
the same three views decisions / metrics / changes; a source only decides how they are bound.

Each kind has a parser (the playbook's table -> the kind's spec, raising ConsoleError naming
every bad key) and a reader (spec, start, end -> rows DuckDB can scan: a pyarrow Dataset, so
filters and projections are pushed down, or a Table). `start`/`end` is the time span the caller
needs; a kind that cannot filter by itself (Prometheus: a range query needs one) uses it, the
others leave the filtering to DuckDB.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.dataset as ds

from console.errors import ConsoleError
from console.telemetry.prometheus import metrics_table, parse_prometheus
from console.telemetry.sources.duckdb_file import DuckdbSpec, parse_duckdb, read_duckdb
from console.telemetry.sources.parquet import (
    REMOTE_SCHEMES,
    ParquetSpec,
    parse_parquet,
    read_parquet,
    scheme_of,
)
from console.telemetry.sources.spark_table import (
    describe_spark_table,
    is_spark_table,
    parse_spark_table,
    read_spark_table,
)
from console.telemetry.store import DUCKDB_SUFFIXES

# What a reader returns: rows DuckDB can scan (a Dataset lazily, with pushdown).
Rows: TypeAlias = pa.Table | ds.Dataset


@dataclass(frozen=True)
class SourceKind:
    name: str
    parse: Callable[[Mapping[str, Any], str], Any]
    read: Callable[[Any, datetime, datetime], Rows]
    # Whether the playbook may reshape it with `columns` or `view` (Prometheus answers in the
    # metrics contract already).
    shaped: bool
    describe: Callable[[Any], str]  # how messages and the trail name it: never a credential
    # Whether a source without a URL scheme names a file, resolved against the playbook's
    # folder (a Parquet or .duckdb path), or a name (a catalog table, "prometheus").
    path: bool = True


def _describe_parquet(spec: ParquetSpec) -> str:
    return spec.shown


def _describe_duckdb(spec: DuckdbSpec) -> str:
    return f"{spec.path} table {spec.table}"


def _describe_prometheus(spec: Any) -> str:
    return f"prometheus {spec.url}"  # PrometheusSpec.url never holds credentials


KINDS: dict[str, SourceKind] = {
    "parquet": SourceKind("parquet", parse_parquet, read_parquet, True, _describe_parquet),
    "duckdb": SourceKind("duckdb", parse_duckdb, read_duckdb, True, _describe_duckdb),
    "prometheus": SourceKind(
        "prometheus", parse_prometheus, metrics_table, False, _describe_prometheus, path=False
    ),
    # A catalog table, read by Spark where it lives (spark_table.py; engine = "spark" only).
    "table": SourceKind(
        "table", parse_spark_table, read_spark_table, True, describe_spark_table, path=False
    ),
}


def kind_of(source: str, where: str) -> str:
    """The kind a `source` value names, or ConsoleError naming the key."""
    if source == "prometheus":
        return "prometheus"
    if is_spark_table(source):
        return "table"
    scheme = scheme_of(source)
    if scheme and scheme not in REMOTE_SCHEMES:
        raise ConsoleError(
            f"{where}.source = {source.split('://', 1)[0]!r}://...: unknown URL scheme "
            f"(use {', '.join(s + '://' for s in REMOTE_SCHEMES)}, a local path, a .duckdb "
            'file, "table:<name>" or "prometheus")'
        )
    if not scheme and source.lower().endswith(DUCKDB_SUFFIXES):
        return "duckdb"
    return "parquet"


def describe(kind: str, spec: Any) -> str:
    return KINDS[kind].describe(spec)
