"""A table of a DuckDB database file as a source (`source = "x.duckdb"`, `table = "..."`).

The file is opened read-only in a connection of its own and the table read whole into memory:
a local file reads fast, and the store's connection never attaches anything a playbook names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from console.errors import ConsoleError
from console.telemetry.store import duckdb_identifier

KEYS: tuple[str, ...] = ("source", "table")


@dataclass(frozen=True)
class DuckdbSpec:
    key: str
    path: Path
    table: str


def parse_duckdb(table: Mapping[str, Any], where: str) -> DuckdbSpec:
    problems = [
        f"{where}.{key}: unknown key for a .duckdb source" for key in table if key not in KEYS
    ]
    name = table.get("table", where.rsplit(".", 1)[-1])
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{where}.table: expected a table name, got {name!r}")
    if problems:
        raise ConsoleError(f"{where}: not a valid .duckdb source", problems=problems)
    return DuckdbSpec(where, Path(str(table["source"])), str(name))


def read_duckdb(spec: DuckdbSpec, start: datetime, end: datetime) -> pa.Table:
    where = f"{spec.key}.source = {str(spec.path)!r}"
    if not spec.path.is_file():
        raise ConsoleError(f"{where}: no such file")
    try:
        with duckdb.connect(str(spec.path), read_only=True) as con:
            # Times typed in UTC, not the machine's zone: these rows are captured as evidence,
            # whose bytes must not depend on where the console runs.
            con.execute("SET TimeZone = 'UTC'")
            return con.sql(f"SELECT * FROM {duckdb_identifier(spec.table)}").to_arrow_table()
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise ConsoleError(f"{where}, {spec.key}.table = {spec.table!r}: {first}") from None
