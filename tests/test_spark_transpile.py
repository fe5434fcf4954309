"""The engine's SQL transpiled to Spark SQL gives DuckDB's answers on a real Spark session.

Every query `investigate --auto` runs on a bundled scenario is captured (a spy on
TelemetryStore.query that calls through), transpiled by console.engine.dialect, run by Spark
in local mode over the same rows written as Parquet, and compared with DuckDB's result.

Tolerance: floats to a relative 1e-9 (absolute 1e-12): sums and standard deviations add the
same numbers in another order; every other value (counts, text, timestamps, the rows a hash
sample picks, quantiles, histograms) exactly.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import math
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from console.engine.auto import run_auto
from console.engine.investigation import Investigation
from console.sql.dialect import hash64, time_hash, transpile
from console.telemetry.store import TelemetryStore

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = "fraud-friday-noon"
REL, ABS = 1e-9, 1e-12


def md5_hash(text: str) -> int:
    return int(hashlib.md5(text.encode()).hexdigest()[:15], 16)


def test_hash64_gives_the_same_numbers_and_sample_on_spark(spark, tmp_path):
    ids = [f"p-{i}" for i in range(500)] + ["", "O'Brien", "ünïcode"]
    stamps = [datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(
        seconds=7.5 * i) for i in range(len(ids))]  # fmt: skip
    pq.write_table(pa.table({"prediction_id": ids, "ts": pa.array(stamps, pa.timestamp("us", "UTC"))}),
                   tmp_path / "d.parquet")  # fmt: skip
    spark.read.parquet(str(tmp_path / "d.parquet")).createOrReplaceTempView("decisions")
    sql = f"SELECT prediction_id, {hash64('prediction_id')} AS h, {time_hash('ts')} AS t FROM decisions"
    got = {r["prediction_id"]: (r["h"], r["t"]) for r in spark.sql(transpile(sql)).collect()}
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    for i, ts in zip(ids, stamps, strict=True):
        micros = (ts - epoch) // datetime.timedelta(microseconds=1)
        assert got[i] == (md5_hash(i), md5_hash(str(micros)))
    # The rows a hash sample keeps: Spark's own hash() (old code) keeps others.
    sample = f"SELECT prediction_id FROM decisions ORDER BY {hash64('prediction_id')} LIMIT 50"
    kept = [r["prediction_id"] for r in spark.sql(transpile(sample)).collect()]
    assert kept == sorted(ids, key=md5_hash)[:50]


def test_isfinite_keeps_duckdbs_truth_table_on_spark(spark, tmp_path):
    values = [1.5, float("nan"), float("inf"), float("-inf"), None, -1e308]
    pq.write_table(pa.table({"x": pa.array(values, pa.float64())}), tmp_path / "x.parquet")
    spark.read.parquet(str(tmp_path / "x.parquet")).createOrReplaceTempView("decisions")
    sql = "SELECT x, isfinite(x) AS f FROM decisions"
    got = [r["f"] for r in spark.sql(transpile(sql)).collect()]
    assert got == [True, False, False, False, None, True]


def test_quantile_disc_picks_duckdbs_position_for_a_decimal_fraction_on_spark(spark, tmp_path):
    # 2400 * 0.0175 is 42 exactly, but 43 in doubles (0.017500000000000002): DuckDB computes a
    # DECIMAL fraction's position exactly, and so must the Spark rewrite.
    import duckdb

    pq.write_table(pa.table({"x": pa.array(range(1, 2401), pa.float64())}), tmp_path / "q.parquet")
    spark.read.parquet(str(tmp_path / "q.parquet")).createOrReplaceTempView("decisions")
    probs = ", ".join(repr((k + 0.5) / 200) for k in range(200))  # the engine's quantiles
    sql = f"SELECT quantile_disc(x, [{probs}]) AS qs FROM decisions"
    con = duckdb.connect()
    con.sql(f"CREATE VIEW decisions AS SELECT * FROM read_parquet('{tmp_path / 'q.parquet'}')")
    expected = con.sql(sql).fetchall()[0][0]
    assert expected[3] == 42.0  # 0.0175
    assert spark.sql(transpile(sql)).collect()[0]["qs"] == expected


def test_every_query_of_an_investigation_gives_duckdbs_answer_on_spark(
    spark, tmp_path, monkeypatch
):
    folder = tmp_path / SCENARIO
    shutil.copytree(ROOT / "sample_data" / SCENARIO, folder,
                    ignore=shutil.ignore_patterns("answer.toml"))  # fmt: skip
    captured: list[tuple[str, Any, dict[str, pa.Table], pa.Table]] = []
    query = TelemetryStore.query

    def spy(self, sql, params=None, *, arrow=None):
        result = query(self, sql, params, arrow=arrow)
        captured.append((sql, params, dict(arrow or {}), result))
        return result

    with Investigation.open(folder / "playbook.toml", folder, tmp_path / "inc", actor="t") as inv:
        for table in ("decisions", "metrics", "changes"):
            rows = inv.ctx.store.query(f"SELECT * FROM {table}")
            pq.write_table(rows, tmp_path / f"{table}.parquet")
            spark.read.parquet(str(tmp_path / f"{table}.parquet")).createOrReplaceTempView(table)
        monkeypatch.setattr(TelemetryStore, "query", spy)
        run_auto(inv)
    # DESCRIBE is the store's metadata (columns and types), not a computation on the rows.
    runs = [c for c in captured if not c[0].lstrip().upper().startswith("DESCRIBE")]
    assert len(runs) >= 15
    differ = []
    for sql, params, arrow, expected in runs:
        for name, table in arrow.items():
            pq.write_table(table, tmp_path / f"{name}.parquet")
            spark.read.parquet(str(tmp_path / f"{name}.parquet")).createOrReplaceTempView(name)
        got = spark.sql(transpile(sql), args=params or None).toArrow()
        if not same_rows(rows_of(expected), rows_of(got)):
            differ.append(sql[:200])
    assert differ == [], f"{len(differ)} of {len(runs)} queries differ on Spark"


def rows_of(table: pa.Table) -> list[tuple[Any, ...]]:
    """Rows as plain values, in a canonical order (an engine may return groups and the
    branches of a UNION in any order; the rows are what must agree)."""
    rows = [tuple(plain(v) for v in row.values()) for row in table.to_pylist()]
    return sorted(rows, key=lambda r: repr(tuple(rounded(v) for v in r)))


def plain(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, datetime.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=datetime.UTC)  # Spark's TIMESTAMP is UTC in this session
    if isinstance(value, list) and value and all(isinstance(v, tuple) for v in value):
        return {k: plain(v) for k, v in value}  # a MAP: DuckDB and Spark order keys differently
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def rounded(value: Any) -> Any:
    return float(f"{value:.6g}") if isinstance(value, float) else value


def same_rows(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> bool:
    return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=REL, abs_tol=ABS)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)
