"""The one-pass queries stay portable: transpiled to Spark SQL, each gives DuckDB's answer on a
real Spark session (tests/spark_session.py) - freshness's GROUPING SETS scan, null_rate's and
distribution_shift's statistic queries (tests/test_engine_steps.py's toy store), the screening
on a baseline sampled by whole hours (the seasonality store), and drift_all's projection. Compared as tests/test_spark_transpile.py compares."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from test_engine_one_pass_sample import stride
from test_engine_seasonality import ALERT as SEASONAL_ALERT
from test_engine_seasonality import EDGES_SQL, build_store, same_hours_edges
from test_engine_steps import ALERT, build_toy
from test_spark_transpile import rows_of, same_rows

from console.engine.investigation import Investigation
from console.engine.screening import screen
from console.engine.stats_drift import drift_all
from console.sql.dialect import transpile


def captured_queries(inv: Investigation) -> list[tuple[str, Any, pa.Table]]:
    seen: list[tuple[str, Any, pa.Table]] = []
    original = inv.store.query

    def recording(sql, params=None, **kwargs):
        result = original(sql, params, **kwargs)
        seen.append((sql, params, result))
        return result

    inv.store.query = recording
    return seen


def on_spark(spark, tmp_path, inv: Investigation, name: str) -> None:
    rows = inv.store.query("SELECT * FROM decisions")
    pq.write_table(rows, tmp_path / f"{name}.parquet")
    spark.read.parquet(str(tmp_path / f"{name}.parquet")).createOrReplaceTempView("decisions")


def differing(spark, queries: list[tuple[str, Any, pa.Table]]) -> list[str]:
    return [
        sql[:200]
        for sql, params, expected in queries
        if not same_rows(
            rows_of(expected), rows_of(spark.sql(transpile(sql), args=params or None).toArrow())
        )
    ]


def test_intervention_scans_give_duckdbs_answer_on_spark(spark, tmp_path):
    toy = build_toy(tmp_path / "toy")
    with Investigation.open(
        toy / "playbook.toml", toy, tmp_path / "inc", actor="t", alert_at=ALERT
    ) as inv:
        on_spark(spark, tmp_path, inv, "toy")
        seen = captured_queries(inv)
        for edge in (
            ("f_d", "toy_model"),
            ("f_c", "toy_model"),
            ("raw_d", "f_d"),
            ("raw_c", "f_c"),
        ):
            inv.intervene(edge)
    scans = [q for q in seen if "FROM decisions" in q[0]]
    assert any("GROUPING SETS ((w), (w, bucket))" in q[0] for q in scans)
    assert differing(spark, scans) == []


def test_a_baseline_sampled_by_whole_hours_gives_duckdbs_rows_on_spark(spark, tmp_path):
    store = build_store(tmp_path / "seasonal")
    with Investigation.open(
        store / "playbook.toml", store, tmp_path / "inc", actor="t", alert_at=SEASONAL_ALERT
    ) as inv:
        on_spark(spark, tmp_path, inv, "seasonal")
        with stride(inv.ctx, 2):
            seen = captured_queries(inv)
            screen(inv.ctx)
    assert len(seen) == 1 and "$sample_from_0" in seen[0][0]
    assert differing(spark, seen) == []


def test_drift_all_reads_the_same_rows_on_spark(spark, tmp_path):
    rng = np.random.default_rng(2)
    n = 400
    path = tmp_path / "drift.parquet"
    x = rng.normal(size=n)
    x[::50] = np.nan
    pq.write_table(
        pa.table(
            {
                "side": np.where(np.arange(n) < 300, "baseline", "incident"),
                "x": x,
                "c": np.array(["a", "b", "c"])[rng.integers(0, 3, n)],
            }
        ),
        path,
    )
    spark.read.parquet(str(path)).createOrReplaceTempView("drift")
    import duckdb

    con = duckdb.connect()
    con.sql(f"CREATE VIEW drift AS SELECT * FROM read_parquet('{path}')")
    seen: list[tuple[str, Any, pa.Table]] = []

    def run(sql, params):
        result = con.sql(sql, params=params).to_arrow_table()
        seen.append((sql, params, result))
        return result

    spark_run = lambda sql, params: spark.sql(transpile(sql), args=params or None).toArrow()  # noqa: E731
    columns: dict[str, tuple[str, Any]] = {"x": ("x", "numeric"), "c": ("c", "categorical")}
    here = drift_all(run, columns, "drift", None, "side = 'baseline'", "side = 'incident'")
    there = drift_all(spark_run, columns, "drift", None, "side = 'baseline'", "side = 'incident'")
    assert differing(spark, seen) == []
    assert here == there


def test_the_same_hours_edges_are_exact_on_spark(spark):
    params, kept = same_hours_edges()
    frame = spark.createDataFrame([(us,) for us in kept], "us BIGINT")
    frame.selectExpr("timestamp_micros(us) AS ts").createOrReplaceTempView("decisions")
    rows = spark.sql(transpile(EDGES_SQL), args=params).collect()
    assert {r["us"]: r["kept"] for r in rows} == kept
