"""`[telemetry.<table>]`: the source form of a contract table (docs/telemetry.md, "Sources").

    [telemetry.decisions]
    source = "s3://bucket/decisions/"      # or gs://, https://, a local path, a .duckdb file
    view = "SELECT ... FROM source"         # or [telemetry.decisions.columns]: contract = user

The keys every kind but Prometheus shares (`columns`, `view`) are read here; the rest of the
table goes to the kind's own parser in the registry (console/telemetry/sources/), which names
every bad key. A relative local path is relative to the playbook's folder, so a playbook and
its data can move together.

`[telemetry] engine = "duckdb" | "spark"` (and `spark_remote = "sc://..."`) say which engine
runs the queries (docs/spark.md); they are read here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from console.errors import ConsoleError
from console.playbook.model import TableSource
from console.playbook.values import ProblemLog, describe, quote

ENGINES = ("duckdb", "spark")
ENGINE_KEYS = ("engine", "spark_remote")


def telemetry_engine(log: ProblemLog, table: Mapping[str, Any]) -> dict[str, str]:
    """`engine` and `spark_remote` of [telemetry], as TelemetryTables' fields."""
    engine = log.string(table, "engine", "telemetry", default="duckdb", non_empty=True)
    if engine not in ENGINES:
        log.add(f"telemetry.engine = {quote(engine)}: expected one of {', '.join(ENGINES)}")
        engine = "duckdb"
    remote = log.string(table, "spark_remote", "telemetry", default="")
    if remote and not remote.startswith("sc://"):
        log.add(f"telemetry.spark_remote = {quote(remote)}: expected a Spark Connect URL sc://...")
    if remote and engine != "spark":
        log.add('telemetry.spark_remote: only read with engine = "spark"')
    return {"engine": engine, "spark_remote": remote}


def table_source(
    log: ProblemLog, table: str, value: Mapping[str, Any], base: Path
) -> TableSource | None:
    """The declared source of one table, or None (problems recorded in `log`)."""
    # Imported here: the registry imports the telemetry layer, which imports this package's
    # model; a module-level import would make loading the model import the loader's users.
    from console.telemetry.schema import CONTRACT
    from console.telemetry.sources import KINDS, kind_of

    where = f"telemetry.{table}"
    source = log.string(value, "source", where, required=True, non_empty=True)
    if not source.strip():
        return None
    try:
        kind = kind_of(source, where)
    except ConsoleError as exc:
        log.add(str(exc))
        return None
    if KINDS[kind].path and "://" not in source:
        source = str((base / source).resolve())
    rest = {**value, "source": source}
    columns: tuple[tuple[str, str], ...] = ()
    view = ""
    if KINDS[kind].shaped:
        contract = [c.name for c in CONTRACT[table]]
        columns = _columns(log, rest.pop("columns", {}), where, contract)
        view = _view(log, rest.pop("view", ""), where)
        if columns and view:
            log.add(f"{where}: give either columns or view, not both")
    try:
        spec = KINDS[kind].parse(rest, where)
    except ConsoleError as exc:
        for problem in exc.problems or [str(exc)]:
            log.add(problem)
        return None
    return TableSource(table, kind, spec, columns, view)


def _columns(
    log: ProblemLog, value: Any, where: str, contract: list[str]
) -> tuple[tuple[str, str], ...]:
    """`contract`: the table's column names, families as prefixes ending in * (raw_*)."""
    table = log.table(value, f"{where}.columns") or {}
    prefixes = tuple(c[:-1] for c in contract if c.endswith("*"))
    found: list[tuple[str, str]] = []
    for name, user in table.items():
        key = f"{where}.columns.{name}"
        if name not in contract and not (prefixes and name.startswith(prefixes)):
            log.add(f"{key}: {quote(name)} is not a column of the contract ({', '.join(contract)})")
        elif not isinstance(user, str) or not user.strip():
            log.add(f"{key}: expected the name of a column of the source, got {describe(user)}")
        else:
            found.append((name, user))
    return tuple(found)


def _view(log: ProblemLog, value: Any, where: str) -> str:
    if not isinstance(value, str):
        log.add(f"{where}.view: expected a SELECT over source, got {describe(value)}")
        return ""
    if not value.strip():
        return ""
    # The one piece of user SQL besides expressions: exactly one SELECT, as a query must be.
    # duckdb imported here, for a declared view only: every playbook load (the console's,
    # before its first frame) would pay its 0.1 s import otherwise.
    import duckdb

    try:
        with duckdb.connect(":memory:") as con:
            statements = con.extract_statements(value)
    except duckdb.Error as exc:
        log.add(f"{where}.view: does not parse: {str(exc).strip().splitlines()[0]}")
        return ""
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        log.add(f"{where}.view: must be one SELECT statement over source")
        return ""
    return value
