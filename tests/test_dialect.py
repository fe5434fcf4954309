"""The engine's portable SQL (console/engine/dialect.py) on DuckDB, its Spark transpilation
as text, and `playbook check --engine spark`. The same SQL on a real Spark session is
tests/test_spark_transpile.py."""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from console.cli import main
from console.engine.dialect import TranspileError, hash64, time_hash, transpile

ROOT = Path(__file__).resolve().parent.parent


def md5_hash(text: str) -> int:
    """The defined hash, computed outside any SQL engine."""
    return int(hashlib.md5(text.encode()).hexdigest()[:15], 16)


def test_hash64_is_the_md5_of_the_text_on_duckdb():
    # Old code sampled by DuckDB's hash(), which is not md5: these equalities fail there.
    ids = ["p-1", "p-2", "", "ünïcode", "O'Brien"]
    con = duckdb.connect()
    got = con.execute(f"SELECT {hash64('id')} AS h FROM unnest($ids) AS t(id)", {"ids": ids})
    assert [h for (h,) in got.fetchall()] == [md5_hash(i) for i in ids]
    assert con.execute(f"SELECT {hash64('42')}").fetchone() == (md5_hash("42"),)


def test_time_hash_reads_epoch_microseconds_not_the_engine_text_of_a_timestamp():
    ts = datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=UTC)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    (got,) = con.execute(f"SELECT {time_hash('$ts')}", {"ts": ts}).fetchone()
    micros = (ts - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    assert got == md5_hash(str(micros))


def test_transpile_writes_duckdb_meanings_in_spark_functions():
    spark = transpile(
        f"SELECT {hash64('prediction_id')} AS h, epoch(ts) AS e, "
        "quantile_cont(x, [0.1, 0.9]) AS q, list_extract(CAST($q0 AS DOUBLE[]), 3) AS l, "
        "histogram(c) AS m, time_bucket($bucket, ts) AS b, avg(1.0) AS a, isfinite(x) AS f "
        "FROM decisions"
    )
    assert "CONV(SUBSTRING(MD5(CAST((prediction_id) AS STRING)), 1, 15), 16, 10)" in spark
    assert "UNIX_MICROS(ts) / CAST(1000000 AS DOUBLE)" in spark  # not unix_timestamp (seconds)
    assert "PERCENTILE(x, ARRAY(CAST(0.1 AS DOUBLE), CAST(0.9 AS DOUBLE)))" in spark
    assert "ELEMENT_AT(CAST(:q0 AS ARRAY<DOUBLE>), CAST(3 AS INT))" in spark
    assert "MAP_FROM_ENTRIES" in spark and "HISTOGRAM" not in spark
    assert "946857600000000" in spark and "DATE_BIN" not in spark
    assert "AVG(CAST(1.0 AS DOUBLE))" in spark
    assert "(ABS(x) < CAST('Infinity' AS DOUBLE)) AS f" in spark  # Spark has no isfinite


def test_a_decimal_quantile_fraction_stays_exact_on_spark():
    # DuckDB places quantile_disc(x, 0.0175) exactly; a DOUBLE fraction is one position off
    # at n = 2400 (tests/test_spark_transpile.py runs it on Spark).
    spark = transpile("SELECT quantile_disc(x, [0.0175, 1e-3]) AS qs, quantile_disc(y, $p) FROM t")
    assert "SIZE(s) * CAST('0.0175' AS DECIMAL(38, 4))" in spark
    assert "SIZE(s) * CAST(1e-3 AS DOUBLE)" in spark and "SIZE(s) * :p" in spark


def test_transpile_rounds_where_duckdb_rounds_an_integer_cast():
    spark = transpile("SELECT CAST(epoch(ts) - epoch($i_start) AS BIGINT) FROM decisions")
    assert spark.startswith("SELECT CAST(ROUND(")


def test_transpile_brackets_a_named_window_inside_arithmetic():
    # Spark's parser stops at the window's name: `lead(x) OVER o - x` does not parse there.
    spark = transpile("SELECT lead(x) OVER o - x AS dx FROM g WINDOW o AS (ORDER BY x)")
    assert "(LEAD(x) OVER o) - x AS dx" in spark


def test_transpile_refuses_a_function_it_cannot_vouch_for():
    with pytest.raises(TranspileError, match=r"no known Spark counterpart of list_sum\(\)"):
        transpile("SELECT list_sum([raw_amount, 1]) FROM decisions")
    with pytest.raises(TranspileError):
        transpile("SELECT FROM WHERE (")


def test_playbook_check_engine_spark_reports_coverage(capsys):
    assert main(["playbook", "check", str(ROOT / "playbooks/fraud.toml"), "--engine", "spark"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("; 32/32 expressions transpile to Spark SQL")


def test_playbook_check_engine_spark_names_each_expression_it_cannot_transpile(tmp_path, capsys):
    playbook = tmp_path / "fraud.toml"
    shutil.copy(ROOT / "playbooks/fraud.toml", playbook)
    text = playbook.read_text()
    assert text.count('expr = "raw_amount"\n') == 1
    playbook.write_text(text.replace('expr = "raw_amount"\n', 'expr = "list_sum([raw_amount])"\n'))
    assert main(["playbook", "check", str(playbook), "--engine", "spark"]) == 2
    err = capsys.readouterr().err
    assert "not valid for Spark; 31/32 expressions transpile to Spark SQL" in err
    assert "expr: cannot be written as Spark SQL: no known Spark counterpart of list_sum()" in err
    # Without --engine spark the same playbook is valid DuckDB.
    assert main(["playbook", "check", str(playbook)]) == 0
