"""Read-only DuckDB access to a telemetry store (docs/telemetry.md).

A store is a folder of Parquet files named by the playbook's [telemetry] table, or one
`.duckdb` file holding tables decisions / metrics / changes. Either way the three tables are
views named `decisions`, `metrics` and `changes` in a private in-memory database.

Why the telemetry files cannot be written through a store (tests/test_telemetry_readonly.py
proves each point):
- DuckDB reads Parquet natively (about 3x faster than an Arrow dataset scan on 10M rows, see
  bench/bench_telemetry.py), so the files must be readable by DuckDB: `allowed_paths` lists
  exactly those files, `enable_external_access = false` blocks every other path, extension
  loading and ATTACH of anything else, and `lock_configuration` stops a query from undoing it.
- `allowed_paths` permits writing too, so `query()` accepts exactly one statement that
  DuckDB's own parser classifies as SELECT: no COPY, EXPORT, ATTACH, DETACH, SET, CREATE.
- A `.duckdb` store is attached READ_ONLY (before external access is switched off; DuckDB
  then keeps the attached file readable), so even the catalog of that file is frozen.

Threading: each call to `query()` runs on its own cursor (a DuckDB connection to the same
in-memory database: about 4 microseconds to make), so worker threads may query at once.
`interrupt()` cancels every query running at the moment, from any thread; the cancelled call
raises QueryCancelled.

Time limits: DuckDB has no per-query timeout, and a playbook expression is code that can run
forever (`(SELECT count(*) FROM range(10^12))`). Inside `with store.time_limit(seconds, step,
setting):` each query of that thread is interrupted by a timer after `seconds` and raises
QueryTimedOut naming the step and the setting that holds the limit.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from console.errors import ConsoleError
from console.playbook.model import TelemetryTables

TABLES: tuple[str, ...] = ("decisions", "metrics", "changes")
DUCKDB_SUFFIXES: tuple[str, ...] = (".duckdb", ".ddb", ".db")
_ATTACHED = "telemetry_file"
# How often a cancelled query that is still running is interrupted again.
INTERRUPT_REPEAT_SECONDS = 0.005

Params = Sequence[Any] | Mapping[str, Any] | None


class QueryCancelled(ConsoleError):
    """A query was cancelled by `TelemetryStore.interrupt()`."""


class QueryFailed(ConsoleError):
    """DuckDB rejected a query (a bad playbook expression, a column of the wrong type)."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail or message  # DuckDB's own first line, without our prefix


class QueryTimedOut(ConsoleError):
    """A query ran past the time limit in force (`TelemetryStore.time_limit`)."""


@dataclass(frozen=True)
class _Limit:
    seconds: float
    step: str  # what the limit is for, e.g. "locate"
    setting: str  # where it is set, e.g. "limits.query_seconds in playbooks/fraud.toml"

    def message(self) -> str:
        return (
            f"{self.step}: a telemetry query ran longer than {self.seconds:g} s and was stopped "
            f"(setting {self.setting})"
        )


@dataclass
class _Call:
    cursor: duckdb.DuckDBPyConnection
    cancelled: bool = False
    limit: _Limit | None = None
    timed_out: bool = False


@dataclass(eq=False)
class TelemetryStore:
    """The open store. Build it with open_store(); use it as a context manager."""

    location: Path
    # table name -> how messages name it: the Parquet path, or "<file>.duckdb table <name>".
    labels: dict[str, str]
    # Problems met while opening with allow_missing=True (a missing file or table).
    missing: list[str]
    _con: duckdb.DuckDBPyConnection
    _scratch: Path
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _running: dict[int, _Call] = field(default_factory=dict)
    _closed: bool = False
    _local: threading.local = field(default_factory=threading.local)  # this thread's limit

    @property
    def tables(self) -> tuple[str, ...]:
        """The contract tables this store holds."""
        return tuple(t for t in TABLES if t in self.labels)

    @property
    def running(self) -> int:
        """How many queries are running now (for a busy indicator)."""
        with self._lock:
            return len(self._running)

    def label(self, table: str) -> str:
        return self.labels.get(table, table)

    def query(
        self, sql: str, params: Params = None, *, arrow: Mapping[str, pa.Table] | None = None
    ) -> pa.Table:
        """Run one SELECT with `?` or `$name` parameters and return its rows.

        `arrow` names extra pyarrow tables the SELECT may read (e.g. re-scored rows to join
        with decisions); they live only for this call.
        """
        call = self._start()
        timer = self._arm(call)
        try:
            # Parsed on the call's own cursor: DuckDB refuses concurrent use of a connection.
            statement = _single_select(call.cursor, sql)
            for name, table in (arrow or {}).items():
                if name in TABLES:
                    raise ConsoleError(f"extra table name {name!r} hides a telemetry table")
                call.cursor.register(name, table)
            _raise_if_stopped(call)
            result = call.cursor.sql(statement, params=params).to_arrow_table()
        except duckdb.Error as exc:
            if call.cancelled or isinstance(exc, duckdb.InterruptException):
                _raise_if_stopped(call, exc)
                raise QueryCancelled("query cancelled") from exc
            detail = _first_line(exc)
            raise QueryFailed(
                f"query on telemetry {self.location} failed: {detail}", detail
            ) from exc
        finally:
            if timer is not None:
                timer.cancel()
            self._finish(call)
        # interrupt() or the timer landed after the check above but before DuckDB started.
        _raise_if_stopped(call)
        return result

    @contextmanager
    def time_limit(self, seconds: float, step: str, setting: str) -> Iterator[None]:
        """Within the block, each query this thread runs may take `seconds` at most; then it
        is interrupted and raises QueryTimedOut naming `step` and `setting`."""
        previous = getattr(self._local, "limit", None)
        self._local.limit = _Limit(float(seconds), step, setting)
        try:
            yield
        finally:
            self._local.limit = previous

    def columns(self, table: str) -> list[tuple[str, str]]:
        """(name, DuckDB type) of each column of a contract table, in file order."""
        rows = self.query(f"DESCRIBE {duckdb_identifier(table)}").to_pylist()
        return [(r["column_name"], r["column_type"]) for r in rows]

    def interrupt(self) -> None:
        """Cancel every query running now (safe from any thread; returns at once)."""
        with self._lock:
            calls = self._mark_cancelled()
        if calls:
            threading.Thread(
                target=self._interrupt_until_done,
                args=(calls,),
                name="telemetry-interrupt",
                daemon=True,
            ).start()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            calls = self._mark_cancelled()
        # DuckDB refuses to close a connection whose cursors are still busy.
        self._interrupt_until_done(calls)
        self._con.close()
        shutil.rmtree(self._scratch, ignore_errors=True)

    def __enter__(self) -> TelemetryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> _Call:
        with self._lock:
            if self._closed:
                raise ConsoleError(f"telemetry store {self.location} is closed")
            call = _Call(self._con.cursor())
            self._running[id(call)] = call
        return call

    def _arm(self, call: _Call) -> threading.Timer | None:
        """Start the timer of the thread's time limit for this call, if one is in force."""
        call.limit = getattr(self._local, "limit", None)
        if call.limit is None:
            return None
        timer = threading.Timer(call.limit.seconds, self._expire, args=(call,))
        timer.daemon = True
        timer.start()
        return timer

    def _expire(self, call: _Call) -> None:
        with self._lock:
            if self._running.get(id(call)) is not call:
                return  # finished just as the timer fired
            call.cancelled = call.timed_out = True
        self._interrupt_until_done([call])

    def _finish(self, call: _Call) -> None:
        # Closed and unregistered under the lock: _interrupt_until_done interrupts only
        # registered calls, under the lock, so it never touches a closed cursor, and close()
        # sees no call until its cursor is closed.
        with self._lock:
            call.cursor.close()
            self._running.pop(id(call), None)
            self._lock.notify_all()

    def _mark_cancelled(self) -> list[_Call]:
        """Flag every running call as cancelled (the caller holds the lock)."""
        calls = list(self._running.values())
        for call in calls:
            call.cancelled = True
        return calls

    def _interrupt_until_done(self, calls: list[_Call]) -> None:
        """Interrupt the calls again and again until each one has ended.

        DuckDB clears a connection's interrupt flag when a query begins executing, so one
        interrupt that lands between query()'s cancelled check and the start of execution
        would be lost and the query would run to its end.
        """
        with self._lock:
            while pending := [c for c in calls if self._running.get(id(c)) is c]:
                for call in pending:
                    call.cursor.interrupt()
                self._lock.wait(INTERRUPT_REPEAT_SECONDS)


def open_store(
    location: Path, tables: TelemetryTables, *, allow_missing: bool = False
) -> TelemetryStore:
    """Open a telemetry folder (Parquet files) or `.duckdb` file read-only.

    A missing file or table raises ConsoleError naming it, unless allow_missing: then the
    store holds the tables that exist and `store.missing` lists the others.
    """
    location = Path(location).expanduser().resolve()
    if not location.exists():
        raise ConsoleError(f"telemetry {location} does not exist")
    is_file = location.is_file()
    if is_file and location.suffix not in DUCKDB_SUFFIXES:
        raise ConsoleError(
            f"telemetry {location} is a file but not a DuckDB database "
            f"(expected a folder of Parquet files or a {'/'.join(DUCKDB_SUFFIXES)} file)"
        )
    scratch = Path(tempfile.mkdtemp(prefix="incident-console-duckdb-"))
    con = duckdb.connect(
        ":memory:",
        config={"autoload_known_extensions": False, "autoinstall_known_extensions": False},
    )
    try:
        con.execute("SET TimeZone = 'UTC'")
        # Spill space for large sorts/joins, outside the telemetry folder.
        con.execute("SET temp_directory = $dir", {"dir": str(scratch)})
        if is_file:
            labels, missing = _attach_duckdb(con, location)
        else:
            labels, missing = _view_parquet(con, location, tables)
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    if missing and not allow_missing:
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)
        raise ConsoleError(f"telemetry {location} is incomplete", problems=missing)
    return TelemetryStore(location, labels, missing, con, scratch)


def duckdb_identifier(name: str) -> str:
    """Quote a name as a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def duckdb_string(text: str) -> str:
    """Quote text as a DuckDB string literal (for file paths in DDL, which takes no params)."""
    return "'" + text.replace("'", "''") + "'"


def _view_parquet(
    con: duckdb.DuckDBPyConnection, folder: Path, tables: TelemetryTables
) -> tuple[dict[str, str], list[str]]:
    files = {table: folder / getattr(tables, table) for table in TABLES}
    present = {t: p for t, p in files.items() if p.is_file()}
    missing = [
        f"{p}: file missing (the playbook's [telemetry] {t} = {getattr(tables, t)!r})"
        for t, p in files.items()
        if t not in present
    ]
    con.execute("SET allowed_paths = $paths", {"paths": [str(p) for p in present.values()]})
    labels: dict[str, str] = {}
    for table, path in present.items():
        try:
            con.execute(
                f"CREATE VIEW {duckdb_identifier(table)} AS "
                f"SELECT * FROM read_parquet({duckdb_string(str(path))})"
            )
        except duckdb.Error as exc:
            missing.append(f"{path}: not a readable Parquet file ({_first_line(exc)})")
            continue
        labels[table] = str(path)
    return labels, missing


def _attach_duckdb(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[dict[str, str], list[str]]:
    try:
        con.execute(f"ATTACH {duckdb_string(str(path))} AS {_ATTACHED} (READ_ONLY)")
    except duckdb.Error as exc:
        raise ConsoleError(
            f"{path}: cannot open as a DuckDB database ({_first_line(exc)})"
        ) from exc
    found = {
        row[0]
        for row in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = $db "
            "UNION SELECT view_name FROM duckdb_views() WHERE database_name = $db",
            {"db": _ATTACHED},
        ).fetchall()
    }
    labels: dict[str, str] = {}
    missing: list[str] = []
    for table in TABLES:
        if table not in found:
            missing.append(f"{path}: no table {table}")
            continue
        con.execute(
            f"CREATE VIEW {duckdb_identifier(table)} AS "
            f"SELECT * FROM {_ATTACHED}.{duckdb_identifier(table)}"
        )
        labels[table] = f"{path} table {table}"
    return labels, missing


def _single_select(cursor: duckdb.DuckDBPyConnection, sql: str) -> str:
    try:
        statements = cursor.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryFailed(f"query does not parse: {_first_line(exc)}") from exc
    if len(statements) != 1:
        raise QueryFailed(f"a telemetry query is one statement, got {len(statements)}")
    statement = statements[0]
    if statement.type != duckdb.StatementType.SELECT:
        raise QueryFailed(
            f"telemetry is read-only: only SELECT is allowed, got {statement.type.name}"
        )
    return statement.query


def _raise_if_stopped(call: _Call, cause: BaseException | None = None) -> None:
    if call.timed_out and call.limit is not None:
        raise QueryTimedOut(call.limit.message()) from cause
    if call.cancelled:
        raise QueryCancelled("query cancelled") from cause


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
