"""Read-only DuckDB access to a telemetry store (docs/telemetry.md).

A store is a folder of Parquet files named by the playbook's [telemetry] table, or one
`.duckdb` file holding tables decisions / metrics / changes; a table the playbook declares a
source for (`[telemetry.<table>] source = ...`, console/telemetry/sources/) is read from there
instead. Either way the three tables are views named `decisions`, `metrics` and `changes` in a
private in-memory database.

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
- A declared source is bound after external access is off: its rows are a pyarrow Dataset or
  Table registered with DuckDB (read by pyarrow, which has no way to write through a scan),
  and a playbook `view` over it is created under the same restrictions as any query.

Threading: each call to `query()` runs on its own cursor (a DuckDB connection to the same
in-memory database), so worker threads may query at once. The cursors come from a small pool
made at open with DuckDB's progress tracking on, so `progress()` can say how far a running
query has got (the console's busy line shows it); a call beyond the pool gets a new cursor.
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
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from console.errors import ConsoleError
from console.playbook.model import TelemetryTables

TABLES: tuple[str, ...] = ("decisions", "metrics", "changes")
DUCKDB_SUFFIXES: tuple[str, ...] = (".duckdb", ".ddb", ".db")
_ATTACHED = "telemetry_file"
# Cursors that report their query's progress; more calls at once than this run without.
PROGRESS_CURSORS = 4
# How often a cancelled query that is still running is interrupted again.
INTERRUPT_REPEAT_SECONDS = 0.005
# What a source that needs a time span (Prometheus) reads when the caller names none.
DEFAULT_SPAN = timedelta(days=30)

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
    pooled: bool  # one of the store's progress cursors, given back when the call ends
    extra: tuple[str, ...] = ()  # the call's own Arrow tables, unregistered at its end
    cancelled: bool = False
    limit: _Limit | None = None
    timed_out: bool = False


@dataclass(eq=False)
class TelemetryStore:
    """The open store. Build it with open_store(); use it as a context manager."""

    location: Path | None  # the --telemetry folder or file; None when every table has a source
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
    # Rows of declared sources, registered on every cursor (a registration is per connection).
    _registered: dict[str, pa.Table | ds.Dataset] = field(default_factory=dict)
    # Idle cursors that report their query's progress (progress_cursors()).
    _idle: list[duckdb.DuckDBPyConnection] = field(default_factory=list)

    @property
    def where(self) -> str:
        """How messages name the store as a whole."""
        if self.location is not None:
            return str(self.location)
        return "sources " + ", ".join(self.labels[t] for t in self.tables)

    @property
    def engine(self) -> str:
        """The engine and its version, as the trail's open entry records them."""
        return f"duckdb {duckdb.__version__}"

    @property
    def read_in_place(self) -> dict[str, dict[str, str | None]]:
        """Declared sources read where they live, not captured into evidence: table -> what
        the trail records of it (a Spark table's name and version; SparkStore). Empty here."""
        return {}

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
                if name in TABLES or name in self._registered:
                    raise ConsoleError(f"extra table name {name!r} hides a telemetry table")
                call.cursor.register(name, table)
                call.extra += (name,)
            _raise_if_stopped(call)
            result = call.cursor.sql(statement, params=params).to_arrow_table()
        except duckdb.Error as exc:
            if call.cancelled or isinstance(exc, duckdb.InterruptException):
                _raise_if_stopped(call, exc)
                raise QueryCancelled("query cancelled") from exc
            detail = _first_line(exc)
            raise QueryFailed(f"query on telemetry {self.where} failed: {detail}", detail) from exc
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

    def progress(self) -> float | None:
        """How far the running queries have got, in percent (the least advanced one), or None
        when DuckDB says nothing: no query runs, or it has no estimate yet. Returns at once,
        from any thread: DuckDB reports progress while the query runs on another."""
        with self._lock:
            values = [
                call.cursor.query_progress() for call in self._running.values() if call.pooled
            ]
        known = [v for v in values if v >= 0]
        return min(known) if known else None

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            calls = self._mark_cancelled()
        # DuckDB refuses to close a connection whose cursors are still busy.
        self._interrupt_until_done(calls)
        for cursor in self._idle:
            cursor.close()
        self._con.close()
        shutil.rmtree(self._scratch, ignore_errors=True)

    def __enter__(self) -> TelemetryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> _Call:
        with self._lock:
            if self._closed:
                raise ConsoleError(f"telemetry store {self.where} is closed")
            call = _Call(self._idle.pop(), True) if self._idle else _Call(self._con.cursor(), False)
            self._running[id(call)] = call
            for name, rows in self._registered.items():
                call.cursor.register(name, rows)
        return call

    def rebind(self, table: str, rows: pa.Table | ds.Dataset, label: str) -> None:
        """Bind a declared source's view to other rows in the contract's shape (the copy an
        investigation captured, console/telemetry/sources/capture.py). Not while queries run."""
        from console.telemetry.sources.bind import registered_name

        name = registered_name(table)
        with self._lock:
            if self._running:
                raise ConsoleError(f"telemetry {table}: cannot rebind while queries run")
            self._con.register(name, rows)
            self._con.execute(
                f"CREATE OR REPLACE VIEW {duckdb_identifier(table)} AS "
                f"SELECT * FROM {duckdb_identifier(name)}"
            )
            self._registered[name] = rows
            self.labels[table] = label

    def _arm(self, call: _Call) -> threading.Timer | None:
        """Start the timer of the thread's time limit for this call, if one is in force."""
        call.limit = getattr(self._local, "limit", None)
        return start_limit_timer(call.limit, self._expire, call)

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
            if call.pooled:
                for name in call.extra:
                    call.cursor.unregister(name)
                self._idle.append(call.cursor)
            else:
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


def start_limit_timer(
    limit: _Limit | None, expire: Callable[[Any], None], call: Any
) -> threading.Timer | None:
    """A daemon timer that calls expire(call) when the limit in force runs out (none without
    a limit); the caller cancels it when the call ends first."""
    if limit is None:
        return None
    timer = threading.Timer(limit.seconds, expire, args=(call,))
    timer.daemon = True
    timer.start()
    return timer


def open_store(
    location: Path | None,
    tables: TelemetryTables,
    *,
    allow_missing: bool = False,
    span: tuple[datetime, datetime] | None = None,
) -> TelemetryStore:
    """Open a telemetry folder (Parquet files) or `.duckdb` file, and the playbook's declared
    sources, read-only. `location` may be None when every table has a source.

    A missing file or table, or a source that cannot be read, raises ConsoleError naming it,
    unless allow_missing: then the store holds the tables that exist and `store.missing`
    lists the others. `span` is the time a source that needs one (Prometheus) is read over;
    default the DEFAULT_SPAN up to now.
    """
    from console.telemetry.sources.bind import bind_sources
    from console.telemetry.sources.spark_table import refuse_on_duckdb

    if tables.engine == "spark":
        from console.telemetry.spark_store import open_spark_store

        return open_spark_store(location, tables, allow_missing=allow_missing, span=span)
    refuse_on_duckdb(tables)
    wanted = tuple(t for t in TABLES if tables.source(t) is None)
    if location is None and wanted:
        raise ConsoleError(
            f"no telemetry folder given, and the playbook declares no source for "
            f"{', '.join(wanted)}: pass --telemetry DIR or add [telemetry.{wanted[0]}] "
            "source = ... (docs/telemetry.md)"
        )
    if location is not None:
        location = Path(location).expanduser().resolve()
        if not location.exists():
            raise ConsoleError(f"telemetry {location} does not exist")
    is_file = location is not None and location.is_file()
    if location is not None and is_file and location.suffix not in DUCKDB_SUFFIXES:
        raise ConsoleError(
            f"telemetry {location} is a file but not a DuckDB database "
            f"(expected a folder of Parquet files or a {'/'.join(DUCKDB_SUFFIXES)} file)"
        )
    if span is None:
        now = datetime.now(UTC)
        span = (now - DEFAULT_SPAN, now)
    scratch = Path(tempfile.mkdtemp(prefix="incident-console-duckdb-"))
    con = duckdb.connect(
        ":memory:",
        config={"autoload_known_extensions": False, "autoinstall_known_extensions": False},
    )
    try:
        # GLOBAL: a SET holds for this connection only, and queries run on its cursors, which
        # took the machine's zone: evidence files were typed in it (their bytes and hashes
        # depended on the machine) and figures drew their time axes in it.
        con.execute("SET GLOBAL TimeZone = 'UTC'")
        # Spill space for large sorts/joins, outside the telemetry folder.
        con.execute("SET temp_directory = $dir", {"dir": str(scratch)})
        labels: dict[str, str] = {}
        missing: list[str] = []
        if location is not None and is_file:
            labels, missing = _attach_duckdb(con, location, wanted)
        elif location is not None:
            labels, missing = _view_parquet(con, location, tables, wanted)
        con.execute("SET enable_external_access = false")
        bound = bind_sources(con, tables, *span)
        labels.update(bound.labels)
        missing += bound.problems
        idle = progress_cursors(con)
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    if missing and not allow_missing:
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)
        where = location if location is not None else "sources"
        raise ConsoleError(f"telemetry {where} is incomplete", problems=missing)
    labels = {t: labels[t] for t in TABLES if t in labels}  # contract order
    return TelemetryStore(
        location, labels, missing, con, scratch, _registered=bound.registered, _idle=idle
    )


def progress_cursors(con: duckdb.DuckDBPyConnection) -> list[duckdb.DuckDBPyConnection]:
    """PROGRESS_CURSORS cursors with DuckDB's progress tracking on, made before the
    configuration is locked: the setting is per connection and cannot be switched on later.
    Nothing is printed (enable_progress_bar_print off): the console reads the number. A query
    beyond the pool runs on a new cursor and reports no progress."""
    cursors = []
    for _ in range(PROGRESS_CURSORS):
        cursor = con.cursor()
        cursor.execute("SET enable_progress_bar = true")
        cursor.execute("SET enable_progress_bar_print = false")
        cursor.execute("SET progress_bar_time = 0")  # an estimate from the query's start
        cursors.append(cursor)
    return cursors


def duckdb_identifier(name: str) -> str:
    """Quote a name as a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def duckdb_string(text: str) -> str:
    """Quote text as a DuckDB string literal (for file paths in DDL, which takes no params)."""
    return "'" + text.replace("'", "''") + "'"


def _view_parquet(
    con: duckdb.DuckDBPyConnection, folder: Path, tables: TelemetryTables, wanted: tuple[str, ...]
) -> tuple[dict[str, str], list[str]]:
    files = {table: folder / getattr(tables, table) for table in wanted}
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


def _attach_duckdb(
    con: duckdb.DuckDBPyConnection, path: Path, wanted: tuple[str, ...]
) -> tuple[dict[str, str], list[str]]:
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
    for table in wanted:
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
