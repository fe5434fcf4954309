"""Telemetry layer benchmarks on the large game-day store (bench/run.py runs them).

Setup generates the store if needed and opens it (playbook loaded, views bound); the timed
region is the query alone, and rows/s counts the rows the store holds. The reference
(--compare) is one DuckDB scan computing count and avg(score) by hour over the same Parquet.

- telemetry_full_scan: one aggregate over every decision row (the shape of triage queries).
- telemetry_window_scan: the same aggregate over the incident window (row-group pruning on ts).
- telemetry_arrow_scan: the full-scan aggregate over a pyarrow dataset instead of DuckDB's
  native Parquet reader: the figure behind store.py's choice of read_parquet views.
- telemetry_threads: four full scans from four threads on one store (a cursor per call),
  the way the UI's workers and the engine share a store.
- telemetry_open: what opening costs: the store, the contract check and the playbook binding
  (`telemetry check`, and the start of every investigation).
- telemetry_snapshot: an evidence snapshot of the incident window's decision rows.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from harness import Bench
from references import SCAN

AGGREGATE = (
    "SELECT model_version, count(*) AS n, avg(score) AS mean_score, "
    "avg(CASE WHEN decision = '{positive}' THEN 1.0 ELSE 0.0 END) AS positive_rate "
    "FROM decisions {where} GROUP BY model_version"
)


@dataclass
class Opened:
    scenario: Path
    folder: Path  # the telemetry folder
    playbook: Any
    store: Any
    rows: int  # decision rows the store holds
    sql: str  # the full-scan aggregate
    work: Path


def _setup(ctx) -> Opened:
    from console.playbook.loader import load_playbook
    from console.telemetry.store import open_store

    scenario = ctx.large_store()
    ctx.setup("open store")
    playbook = load_playbook(scenario / "playbook.toml")
    # The scenario folder is the telemetry folder; a telemetry/ subfolder is used when present.
    folder = scenario / "telemetry" if (scenario / "telemetry").is_dir() else scenario
    store = open_store(folder, playbook.tables)
    rows = _rows(store.query("SELECT count(*) AS n FROM decisions"))
    sql = AGGREGATE.format(positive=playbook.scorer.positive.replace("'", "''"), where="")
    return Opened(scenario, folder, playbook, store, rows, sql, ctx.work)


def _rows(table) -> int:
    return int(sum(table.column("n").to_pylist()))


def full_scan(state: Opened) -> int:
    assert _rows(state.store.query(state.sql)) == state.rows
    return state.rows


def _incident(store, playbook):
    from console.telemetry.windows import latest_timestamp, resolve_windows

    alert = latest_timestamp(store) + timedelta(microseconds=1)
    return resolve_windows(playbook.windows, alert)["incident"]


@dataclass
class Windowed:
    opened: Opened
    window: Any

    @property
    def scenario(self) -> Path:
        return self.opened.scenario


def _setup_window(ctx) -> Windowed:
    opened = _setup(ctx)
    ctx.setup("incident window")
    return Windowed(opened, _incident(opened.store, opened.playbook))


def window_scan(state: Windowed) -> int:
    where = "WHERE ts >= $start AND ts < $end"
    positive = state.opened.playbook.scorer.positive.replace("'", "''")
    state.opened.store.query(
        AGGREGATE.format(positive=positive, where=where), state.window.params()
    )
    return state.opened.rows


@dataclass
class ArrowOpened:
    scenario: Path
    con: Any
    sql: str
    rows: int


def _setup_arrow(ctx) -> ArrowOpened:
    import duckdb
    import pyarrow.dataset as ds

    opened = _setup(ctx)
    opened.store.close()
    con = duckdb.connect()
    con.register("decisions", ds.dataset(opened.folder / opened.playbook.tables.decisions))
    return ArrowOpened(opened.scenario, con, opened.sql, opened.rows)


def arrow_scan(state: ArrowOpened) -> int:
    assert _rows(state.con.sql(state.sql).to_arrow_table()) == state.rows
    return state.rows


def threads(state: Opened) -> int:
    counts: list[int] = []
    workers = [
        threading.Thread(target=lambda: counts.append(_rows(state.store.query(state.sql))))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sum(counts) == 4 * state.rows
    return 4 * state.rows


@dataclass
class Unopened:
    scenario: Path
    rows: int


def _setup_unopened(ctx) -> Unopened:
    opened = _setup(ctx)  # for the row count; the timed region opens its own
    opened.store.close()
    return Unopened(opened.scenario, opened.rows)


def open_check(state: Unopened) -> int:
    from console.playbook.loader import load_playbook
    from console.telemetry.binding import check_bindings
    from console.telemetry.schema import check_schema
    from console.telemetry.store import open_store

    playbook = load_playbook(state.scenario / "playbook.toml")
    folder = (
        state.scenario / "telemetry" if (state.scenario / "telemetry").is_dir() else state.scenario
    )
    with open_store(folder, playbook.tables) as store:
        problems = check_schema(store, playbook.tables) + check_bindings(playbook, store)
    if problems:
        raise SystemExit("\n".join(problems))
    return state.rows


def snapshot_window(state: Windowed) -> int:
    from console.telemetry.evidence import snapshot

    sql = "SELECT * FROM decisions WHERE ts >= $start AND ts < $end"
    out = state.opened.work / "incident"
    ref = snapshot(state.opened.store, sql, state.window.params(), out, "incident_rows")
    (out / ref.path).unlink()
    return ref.rows


BENCHMARKS = [
    Bench("telemetry_full_scan", _setup, full_scan, SCAN),
    Bench("telemetry_window_scan", _setup_window, window_scan, SCAN),
    Bench("telemetry_arrow_scan", _setup_arrow, arrow_scan, SCAN),
    Bench("telemetry_threads", _setup, threads, SCAN),
    Bench("telemetry_open", _setup_unopened, open_check, SCAN),
    Bench("telemetry_snapshot", _setup_window, snapshot_window, SCAN),
]
