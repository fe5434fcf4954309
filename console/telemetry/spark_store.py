"""Telemetry read by Spark (docs/spark.md): the same API as TelemetryStore, the queries run where
the data is and only their results come back as Arrow.

The engine writes DuckDB SQL; each query is checked to be one SELECT by DuckDB's own parser
(the rule TelemetryStore applies), transpiled to Spark SQL (console/sql/dialect.py) and run
with its parameters bound by Spark (`$name` becomes `:name`, `?` stays positional): values
never go into the SQL text.

Read-only: the three contract tables are temporary views over the Parquet files, or over the
declared sources Spark reads (a catalog table, read in place; Prometheus, read as on DuckDB and
handed over as Arrow) - a temporary view is a name in this session, not a table in a catalog.
An extra Arrow table of a call is a temporary view dropped when the call ends, and close()
drops the contract views and the sources' private ones. Nothing is written to the cluster or
its catalog.

Cancelling: each call's jobs carry a name of its own, and interrupt() and an expired time limit
cancel the jobs of the calls running then. On Spark Connect the name is an operation tag
(addTag / interruptTag); in local mode it is a job group (setJobGroup / cancelJobGroup), because
a classic session's interruptTag finds no job of a query collected to Arrow (checked with
pyspark 4.3: it returned [] and the query ran on).

SparkStore subclasses TelemetryStore because every layer types the store as TelemetryStore;
it overrides every method that touches DuckDB, so the DuckDB fields of the base stay unset.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from console.errors import ConsoleError
from console.playbook.model import TableSource, TelemetryTables
from console.telemetry.sources import KINDS
from console.telemetry.sources.bind import label_of, registered_name, shape_sql
from console.telemetry.sources.spark_table import SparkTableSpec, quoted, table_version
from console.telemetry.spark_session import first_line as _first_line
from console.telemetry.spark_session import spark_session
from console.telemetry.store import (
    DEFAULT_SPAN,
    TABLES,
    Params,
    QueryCancelled,
    QueryFailed,
    QueryTimedOut,
    TelemetryStore,
    _Limit,
    start_limit_timer,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_TAGS = itertools.count()
RECANCEL_SECONDS = 0.25
# The declared source kinds Spark binds: a catalog table read in place, and Prometheus, whose
# small answer is read as on DuckDB, captured, and handed to Spark as a temporary view.
SPARK_KINDS = ("table", "prometheus")
# What the trail records of a source read in place: its name and version (None: unknown).
InPlace = dict[str, str | None]


@dataclass
class _SparkCall:
    tag: str
    limit: _Limit | None
    cancelled: bool = False
    timed_out: bool = False


class SparkStore(TelemetryStore):
    """The open store on a Spark session. Build it with open_spark_store()."""

    def __init__(
        self,
        location: Path | None,
        labels: dict[str, str],
        missing: list[str],
        spark: SparkSession,
        connect: bool,
        in_place: dict[str, InPlace] | None = None,
    ) -> None:
        # The base's DuckDB connection and cursors are never made: every method using them is
        # overridden below.
        self.location = location
        self.labels = labels
        self.missing = missing
        self._spark = spark
        self._connect = connect
        self._in_place = dict(in_place or {})
        self._lock = threading.Condition()
        self._local = threading.local()
        self._calls: dict[str, _SparkCall] = {}
        self._closed = False
        # Extra Arrow tables are session-wide temporary views: calls that bind one run one at a
        # time so that two calls never see each other's table under the same name.
        self._extra = threading.Lock()

    def __repr__(self) -> str:  # the base's dataclass repr reads the DuckDB fields
        return f"SparkStore({self.where!r})"

    @property
    def engine(self) -> str:
        return f"spark {self._spark.version}"

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._calls)

    @property
    def read_in_place(self) -> dict[str, InPlace]:
        return self._in_place

    def query(
        self, sql: str, params: Params = None, *, arrow: Mapping[str, pa.Table] | None = None
    ) -> pa.Table:
        """Run one SELECT (DuckDB SQL, `?` or `$name` parameters) on Spark, rows as Arrow."""
        from console.sql.dialect import TranspileError, transpile

        statement = _single_select(sql)
        try:
            text = transpile(statement)
        except TranspileError as exc:
            raise QueryFailed(
                f"query on telemetry {self.where} cannot run on Spark: {exc}", str(exc)
            ) from exc
        extra = dict(arrow or {})
        for name in extra:
            if name in TABLES:
                raise ConsoleError(f"extra table name {name!r} hides a telemetry table")
        with self._extra if extra else _NO_LOCK:
            call = self._begin()
            timer = start_limit_timer(call.limit, self._expire_call, call)
            try:
                for name, table in extra.items():
                    self._spark.createDataFrame(table).createOrReplaceTempView(name)
                _raise_if_stopped(call)
                result = self._spark.sql(text, args=_spark_args(params)).toArrow()
            except ConsoleError:
                raise
            except Exception as exc:
                _raise_if_stopped(call, exc)
                detail = _first_line(exc)
                raise QueryFailed(
                    f"query on telemetry {self.where} failed on Spark: {detail}", detail
                ) from exc
            finally:
                if timer is not None:
                    timer.cancel()
                for name in extra:
                    self._spark.catalog.dropTempView(name)
                self._end(call)
        _raise_if_stopped(call)
        return result

    def columns(self, table: str) -> list[tuple[str, str]]:
        """(name, DuckDB type) of each column, so that the schema checks read the same names
        on both engines: Spark's schema, as Arrow, typed by DuckDB."""
        empty = self._spark.table(table).limit(0).toArrow()
        with duckdb.connect(":memory:") as con:
            relation = con.from_arrow(empty)
            return [(n, str(t)) for n, t in zip(relation.columns, relation.types, strict=True)]

    def interrupt(self) -> None:
        with self._lock:
            calls = list(self._calls.values())
            for call in calls:
                call.cancelled = True
        for call in calls:
            self._cancel_until_done(call)

    def progress(self) -> float | None:
        """How far the running calls have got, in percent (the least advanced one), as
        TelemetryStore reports it: the finished tasks of all the tasks of the stages Spark has
        planned for the call's job group (local mode's status tracker). A query that runs
        several jobs plans the later ones as it goes, so the figure may step back once. None
        when no stage has started, and on Spark Connect, whose client has no status tracker."""
        if self._connect:
            return None
        with self._lock:
            tags = list(self._calls)
        tracker = self._spark.sparkContext.statusTracker()
        known = []
        for tag in tags:
            done = total = 0
            for job_id in tracker.getJobIdsForGroup(tag):
                job = tracker.getJobInfo(job_id)
                for stage_id in job.stageIds if job is not None else []:
                    stage = tracker.getStageInfo(stage_id)
                    if stage is not None:
                        done += stage.numCompletedTasks
                        total += stage.numTasks
            if total:
                known.append(100.0 * done / total)
        return min(known) if known else None

    def rebind(self, table: str, rows: pa.Table | ds.Dataset, label: str) -> None:
        """Bind a captured source's view to its copy (console/telemetry/sources/capture.py):
        the Arrow rows become a temporary view, on Spark Connect too, where the server cannot
        read the evidence file on this machine. Only small sources are captured on Spark."""
        arrow = rows if isinstance(rows, pa.Table) else rows.to_table()
        with self._lock:
            if self._calls:
                raise ConsoleError(f"telemetry {table}: cannot rebind while queries run")
            self._spark.createDataFrame(arrow).createOrReplaceTempView(table)
            self.labels[table] = label

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.interrupt()
        for table in self.tables:
            self._spark.catalog.dropTempView(table)
            self._spark.catalog.dropTempView(registered_name(table))

    def _begin(self) -> _SparkCall:
        with self._lock:
            if self._closed:
                raise ConsoleError(f"telemetry store {self.where} is closed")
            call = _SparkCall(
                f"incident-console-{next(_TAGS)}", getattr(self._local, "limit", None)
            )
            self._calls[call.tag] = call
        # Tags and job groups are per thread: this call's jobs carry its own name only.
        if self._connect:
            self._spark.addTag(call.tag)
        else:
            self._spark.sparkContext.setJobGroup(call.tag, "incident-console query", True)
        return call

    def _end(self, call: _SparkCall) -> None:
        if self._connect:
            self._spark.removeTag(call.tag)
        with self._lock:
            self._calls.pop(call.tag, None)
            self._lock.notify_all()

    def _cancel(self, call: _SparkCall) -> None:
        if self._connect:
            self._spark.interruptTag(call.tag)
        else:
            self._spark.sparkContext.cancelJobGroup(call.tag)

    def _expire_call(self, call: _SparkCall) -> None:
        with self._lock:
            if self._calls.get(call.tag) is not call:
                return  # finished just as the timer fired
            call.cancelled = call.timed_out = True
        self._cancel_until_done(call)

    def _cancel_until_done(self, call: _SparkCall) -> None:
        """Cancel the call's jobs now, and again every RECANCEL_SECONDS until the call ends. A
        cancel that arrives between the call's start and its query reaching Spark finds no job
        (cancelJobGroup and interruptTag act on running jobs only): the query would then run
        to its end before the call saw its flag."""

        def again() -> None:
            while True:
                try:
                    self._cancel(call)
                except Exception:
                    return  # the session is gone: nothing left to cancel
                with self._lock:
                    if self._calls.get(call.tag) is call:
                        self._lock.wait(RECANCEL_SECONDS)
                    if self._calls.get(call.tag) is not call:
                        return

        threading.Thread(target=again, name=f"cancel {call.tag}", daemon=True).start()


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NO_LOCK = _NoLock()


def open_spark_store(
    location: Path | None,
    tables: TelemetryTables,
    *,
    allow_missing: bool = False,
    span: tuple[datetime, datetime] | None = None,
) -> SparkStore:
    """Bind the contract tables as temporary views of a Spark session (local mode, or Spark
    Connect when the playbook gives `spark_remote`): the Parquet files or folders of a
    telemetry path (local, or any path Spark reads: s3a://, abfss://, gs://, dbfs:/, file://),
    and the declared sources Spark reads (SPARK_KINDS). `span` is the time a Prometheus source
    is read over, as open_store's."""
    refuse_declared_sources(tables)
    wanted = tuple(t for t in TABLES if tables.source(t) is None)
    if location is None and wanted:
        raise ConsoleError(
            f'[telemetry] engine = "spark" needs a telemetry folder (--telemetry) for '
            f"{', '.join(wanted)}"
        )
    folder = spark_path(location) if location is not None else ""
    is_local = "://" not in folder and not folder.startswith("dbfs:/")
    if location is not None and is_local:
        location = Path(location).expanduser().resolve()
        if not location.is_dir():
            raise ConsoleError(f"telemetry {location} is not a folder of Parquet files")
        folder = str(location)
    spark = spark_session(tables.spark_remote)
    labels: dict[str, str] = {}
    missing: list[str] = []
    for table in wanted:
        path = f"{folder.rstrip('/')}/{getattr(tables, table)}"
        if is_local and not Path(path).exists():
            missing.append(f"{path}: missing (the playbook's [telemetry] {table})")
            continue
        try:
            spark.read.parquet(path).createOrReplaceTempView(table)
        except Exception as exc:
            missing.append(f"{path}: not readable by Spark ({_first_line(exc)})")
            continue
        labels[table] = path
    if span is None:
        now = datetime.now(UTC)
        span = (now - DEFAULT_SPAN, now)
    in_place: dict[str, InPlace] = {}
    for source in tables.sources:
        try:
            record = bind_source(spark, source, span)
        except ConsoleError as exc:
            missing.append(str(exc))
            continue
        labels[source.table] = label_of(source)
        if record is not None:
            in_place[source.table] = record
    if missing and not allow_missing:
        for table in labels:
            spark.catalog.dropTempView(table)
            spark.catalog.dropTempView(registered_name(table))
        where = folder or "sources"
        raise ConsoleError(f"telemetry {where} is incomplete", problems=missing)
    labels = {t: labels[t] for t in TABLES if t in labels}  # contract order
    return SparkStore(
        Path(folder) if folder else None,
        labels,
        missing,
        spark,
        connect=bool(tables.spark_remote),
        in_place=in_place,
    )


def bind_source(
    spark: SparkSession, source: TableSource, span: tuple[datetime, datetime]
) -> InPlace | None:
    """Bind a declared source as its contract view: the source's rows as a private temporary
    view (registered_name), the contract view a SELECT over it shaped by the playbook's
    `columns` (the DuckDB store's shape_sql, transpiled). A Spark table is read in place, and
    what the trail records of it is returned; Prometheus is read as on DuckDB (None: the
    investigation captures it)."""
    label = label_of(source)
    record: InPlace | None = None
    if isinstance(source.spec, SparkTableSpec):
        name = source.spec.name
        try:
            rows = spark.table(quoted(name))
            record = {"table": name, "version": table_version(spark, name)}
        except Exception as exc:
            raise ConsoleError(
                f"{source.key}.source = 'table:{name}': not readable by Spark ({_first_line(exc)})"
            ) from None
    else:
        arrow = KINDS[source.kind].read(source.spec, *span)
        rows = spark.createDataFrame(arrow if isinstance(arrow, pa.Table) else arrow.to_table())
    private = registered_name(source.table)
    rows.createOrReplaceTempView(private)
    try:
        shaped = _spark_sql(shape_sql(source, private, list(rows.columns), label))
        spark.sql(shaped).createOrReplaceTempView(source.table)
    except ConsoleError:
        spark.catalog.dropTempView(private)
        raise
    except Exception as exc:
        spark.catalog.dropTempView(private)
        raise ConsoleError(f"{source.key}: does not bind to {label}: {_first_line(exc)}") from None
    return record


def refuse_declared_sources(tables: TelemetryTables) -> None:
    """One ConsoleError naming each declared source Spark does not read (table and kind): a
    .duckdb file is DuckDB's, a Parquet source is given as a path under --telemetry (which
    takes any path Spark reads), and a playbook `view` is DuckDB SQL over DuckDB's rows
    (docs/spark.md, "Spark tables and declared sources")."""
    problems = [
        f"{source.key}.source: a {source.kind} source is not read with "
        '[telemetry] engine = "spark"; give the table as a file or folder under --telemetry'
        for source in tables.sources
        if source.kind not in SPARK_KINDS
    ]
    problems += [
        f'{source.key}.view: not read with [telemetry] engine = "spark"; map the columns '
        f"with [{source.key}.columns]"
        for source in tables.sources
        if source.kind in SPARK_KINDS and source.view
    ]
    if len(problems) == 1:
        raise ConsoleError(problems[0])
    if problems:
        raise ConsoleError(
            f'[telemetry] engine = "spark" cannot read {len(problems)} declared source(s)',
            problems=problems,
        )


def _spark_sql(sql: str) -> str:
    from console.sql.dialect import transpile

    return transpile(sql)


def spark_path(location: Path) -> str:
    """The telemetry location as Spark reads it. A URL given as a Path (the CLI's --telemetry
    is one) has lost a slash: s3a://bucket/x became s3a:/bucket/x; put it back. dbfs:/x is
    written with one slash; a one-letter scheme is a Windows drive."""
    text = str(location)
    scheme, colon, rest = text.partition(":/")
    if not colon or "://" in text or "/" in scheme or len(scheme) < 2 or scheme == "dbfs":
        return text
    if not all(c.isascii() and (c.isalnum() or c in "+.-") for c in scheme):
        return text
    return f"{scheme}://{'/' if scheme == 'file' else ''}{rest.lstrip('/')}"


def _spark_args(params: Params) -> dict[str, Any] | list[Any] | None:
    """Parameters as Spark binds them: a mapping by name, a sequence by position. Spark binds
    an aware datetime as its instant; naive ones are read as UTC, as DuckDB's session is."""
    if not params:
        return None
    if isinstance(params, Mapping):
        return {k: _spark_value(v) for k, v in params.items()}
    assert isinstance(params, Sequence)
    return [_spark_value(v) for v in params]


def _spark_value(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _single_select(sql: str) -> str:
    """The one SELECT in `sql`, classified by DuckDB's parser as TelemetryStore does."""
    with duckdb.connect(":memory:") as con:
        try:
            statements = con.extract_statements(sql)
        except duckdb.Error as exc:
            raise QueryFailed(f"query does not parse: {_first_line(exc)}") from exc
    if len(statements) != 1:
        raise QueryFailed(f"a telemetry query is one statement, got {len(statements)}")
    if statements[0].type != duckdb.StatementType.SELECT:
        raise QueryFailed(
            f"telemetry is read-only: only SELECT is allowed, got {statements[0].type.name}"
        )
    return str(statements[0].query)


def _raise_if_stopped(call: _SparkCall, cause: BaseException | None = None) -> None:
    if call.timed_out and call.limit is not None:
        raise QueryTimedOut(call.limit.message()) from cause
    if call.cancelled:
        raise QueryCancelled("query cancelled") from cause
