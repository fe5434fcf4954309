"""A table of the Spark session's catalog as a source (`source = "table:lake.fraud.decisions"`,
docs/spark.md, "Spark tables and declared sources").

A catalog table lives in a lake that only Spark reads where it is, so the kind is read with
`[telemetry] engine = "spark"` only (console/telemetry/spark_store.py binds it as a temporary
view over `spark.table(name)`); DuckDB refuses it at open. It is read in place, never captured
into evidence: copying it would copy the lake the Spark backend exists to leave where it is.
The trail's open entry records its name and version instead (table_version).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.errors import ConsoleError
from console.playbook.model import TelemetryTables

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

PREFIX = "table:"
KEYS: tuple[str, ...] = ("source",)
# catalog.database.table, or fewer parts: plain identifiers only, so a name is quoted part by
# part and never carries SQL.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}")


@dataclass(frozen=True)
class SparkTableSpec:
    key: str  # "telemetry.decisions", for messages
    name: str  # lake.fraud.decisions


def is_spark_table(source: str) -> bool:
    return source.startswith(PREFIX)


def parse_spark_table(table: Mapping[str, Any], where: str) -> SparkTableSpec:
    problems = [
        f"{where}.{key}: unknown key for a Spark table source" for key in table if key not in KEYS
    ]
    name = str(table.get("source", "")).removeprefix(PREFIX)
    if not _NAME.fullmatch(name):
        problems.append(
            f"{where}.source = {PREFIX + name!r}: expected a table name such as "
            "table:catalog.database.table (letters, digits and _ in each part)"
        )
    if problems:
        raise ConsoleError(f"{where}: not a valid Spark table source", problems=problems)
    return SparkTableSpec(where, name)


def read_spark_table(spec: SparkTableSpec, start: datetime, end: datetime) -> Any:
    """The registry's reader: a catalog table is not read by DuckDB (open_store refuses it
    before any source is read, with the same message)."""
    raise ConsoleError(refusal(spec))


def describe_spark_table(spec: SparkTableSpec) -> str:
    return f"table {spec.name}"


def refusal(spec: SparkTableSpec) -> str:
    return (
        f"{spec.key}.source: a table source ({PREFIX}{spec.name}) is read by Spark where it "
        'lives: set [telemetry] engine = "spark"'
    )


def refuse_on_duckdb(tables: TelemetryTables) -> None:
    """One ConsoleError naming the first Spark table a DuckDB store was asked to read."""
    for source in tables.sources:
        if isinstance(source.spec, SparkTableSpec):
            raise ConsoleError(refusal(source.spec), key=f"{source.key}.source")


def quoted(name: str) -> str:
    """The table name as Spark SQL spells it, each part quoted (parse_spark_table allows no
    backtick, so none needs doubling)."""
    return ".".join(f"`{part}`" for part in name.split("."))


def table_version(spark: SparkSession, name: str) -> str | None:
    """Which version of the table Spark reads now, when its format says: a Delta table's
    latest commit (DESCRIBE HISTORY), an Iceberg table's current snapshot id; None for any
    other table (plain Parquet, Hive), whose rows carry no version."""
    rows = spark.sql(f"DESCRIBE TABLE EXTENDED {quoted(name)}").collect()
    provider = next(
        (str(r["data_type"]).lower() for r in rows if str(r["col_name"]) == "Provider"), ""
    )
    if provider == "delta":
        history = spark.sql(f"DESCRIBE HISTORY {quoted(name)} LIMIT 1").collect()
        return str(history[0]["version"]) if history else None
    if provider == "iceberg":
        # Iceberg's Spark table lists its current snapshot among the table's properties.
        props = spark.sql(f"SHOW TBLPROPERTIES {quoted(name)}").collect()
        return next((str(r["value"]) for r in props if r["key"] == "current-snapshot-id"), None)
    return None
