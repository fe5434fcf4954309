"""Telemetry layer benchmarks on the large game-day store (bench/run.py runs them).

- telemetry_full_scan: one aggregate over every decision row (the shape of triage queries).
- telemetry_window_scan: the same aggregate over the incident window (row-group pruning on ts).
- telemetry_arrow_scan: the full-scan aggregate over a pyarrow dataset instead of DuckDB's
  native Parquet reader: the figure behind store.py's choice of read_parquet views.
- telemetry_threads: four full scans from four threads on one store (a cursor per call),
  the way the UI's workers and the engine share a store.
- telemetry_check: the contract check plus playbook binding (`telemetry check`).
- telemetry_snapshot: an evidence snapshot of the incident window's decision rows.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

AGGREGATE = (
    "SELECT model_version, count(*) AS n, avg(score) AS mean_score, "
    "avg(CASE WHEN decision = '{positive}' THEN 1.0 ELSE 0.0 END) AS positive_rate "
    "FROM decisions {where} GROUP BY model_version"
)


def _open(ctx):
    from console.playbook.loader import load_playbook
    from console.telemetry.store import open_store

    scenario = ctx.large_store()
    playbook = load_playbook(scenario / "playbook.toml")
    # The scenario folder is the telemetry folder; a telemetry/ subfolder is used when present.
    folder = scenario / "telemetry" if (scenario / "telemetry").is_dir() else scenario
    return playbook, folder, open_store(folder, playbook.tables)


def _rows(table) -> int:
    return int(sum(table.column("n").to_pylist()))


def full_scan(ctx) -> int:
    playbook, _, store = _open(ctx)
    with store:
        sql = AGGREGATE.format(positive=playbook.scorer.positive.replace("'", "''"), where="")
        return _rows(store.query(sql))


def _incident(store, playbook):
    from console.telemetry.windows import latest_timestamp, resolve_windows

    alert = latest_timestamp(store) + timedelta(microseconds=1)
    return resolve_windows(playbook.windows, alert)["incident"]


def window_scan(ctx) -> int:
    playbook, _, store = _open(ctx)
    with store:
        window = _incident(store, playbook)
        where = "WHERE ts >= $start AND ts < $end"
        sql = AGGREGATE.format(positive=playbook.scorer.positive.replace("'", "''"), where=where)
        return _rows(store.query(sql, window.params()))


def arrow_scan(ctx) -> int:
    import duckdb
    import pyarrow.dataset as ds

    playbook, folder, store = _open(ctx)
    store.close()
    con = duckdb.connect()
    con.register("decisions", ds.dataset(Path(folder) / playbook.tables.decisions))
    sql = AGGREGATE.format(positive=playbook.scorer.positive.replace("'", "''"), where="")
    return _rows(con.sql(sql).to_arrow_table())


def threads(ctx) -> int:
    playbook, _, store = _open(ctx)
    sql = AGGREGATE.format(positive=playbook.scorer.positive.replace("'", "''"), where="")
    counts: list[int] = []
    with store:
        workers = [
            threading.Thread(target=lambda: counts.append(_rows(store.query(sql))))
            for _ in range(4)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    return sum(counts)


def check(ctx) -> int:
    from console.telemetry.binding import check_bindings
    from console.telemetry.schema import check_schema

    playbook, _, store = _open(ctx)
    with store:
        problems = check_schema(store, playbook.tables) + check_bindings(playbook, store)
        if problems:
            raise SystemExit("\n".join(problems))
        return _rows(store.query("SELECT count(*) AS n FROM decisions"))


def snapshot_window(ctx) -> int:
    from console.telemetry.evidence import snapshot

    playbook, _, store = _open(ctx)
    with store:
        window = _incident(store, playbook)
        sql = "SELECT * FROM decisions WHERE ts >= $start AND ts < $end"
        ref = snapshot(store, sql, window.params(), ctx.work / "incident", "incident_rows")
    (ctx.work / "incident" / ref.path).unlink()
    return ref.rows


BENCHMARKS = [
    ("telemetry_full_scan", full_scan),
    ("telemetry_window_scan", window_scan),
    ("telemetry_arrow_scan", arrow_scan),
    ("telemetry_threads", threads),
    ("telemetry_check", check),
    ("telemetry_snapshot", snapshot_window),
]
