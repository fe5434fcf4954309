"""Proof that nothing done through a store can change the telemetry it reads.

Each attempt must fail, and afterwards every file under the telemetry folder has the same
sha256 as before and no file was added (DuckDB writes no WAL, temp or lock file there).
"""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from test_telemetry_helpers import tree_digest, write_duckdb, write_store

from console.errors import ConsoleError
from console.playbook.model import TelemetryTables
from console.telemetry.evidence import snapshot
from console.telemetry.store import open_store


def parquet_attacks(folder) -> list[str]:
    target = folder / "decisions.parquet"
    other = folder / "extra.parquet"
    return [
        f"COPY (SELECT 1 AS x) TO '{target}' (FORMAT parquet)",
        f"COPY decisions TO '{other}' (FORMAT parquet)",
        f"SELECT 1; COPY (SELECT 1 AS x) TO '{target}' (FORMAT parquet)",
        f"WITH x AS (SELECT 1) SELECT * FROM x; COPY (SELECT 1) TO '{target}'",
        f"EXPORT DATABASE '{folder / 'export'}'",
        "CREATE TABLE decisions2 AS SELECT * FROM decisions",
        "CREATE OR REPLACE VIEW decisions AS SELECT 1 AS x",
        "DROP VIEW decisions",
        "INSERT INTO decisions VALUES (1)",
        f"ATTACH '{folder / 'new.duckdb'}' AS w",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "RESET allowed_paths",
        "INSTALL httpfs",
        "LOAD httpfs",
        "PRAGMA enable_profiling = 'json'",
        f"SELECT * FROM read_csv('{folder.parent / 'elsewhere.csv'}')",
        f"SELECT * FROM query('COPY (SELECT 1) TO ''{target}''')",
    ]


def test_no_statement_writes_to_a_parquet_store(tmp_path):
    folder = write_store(tmp_path / "tel")
    (tmp_path / "elsewhere.csv").write_text("a\n1\n")
    before = tree_digest(folder)
    with open_store(folder, TelemetryTables()) as store:
        for sql in parquet_attacks(folder):
            with pytest.raises(ConsoleError):
                store.query(sql)
        # The store still answers reads after all that.
        assert store.query("SELECT count(*) AS n FROM decisions").column("n")[0].as_py() == 48
        # An evidence snapshot writes only under the incident folder.
        snapshot(store, "SELECT * FROM decisions LIMIT 3", None, tmp_path / "incident", "x")
    assert tree_digest(folder) == before


def test_no_statement_writes_to_a_duckdb_store(tmp_path):
    path = write_duckdb(tmp_path / "tel" / "telemetry.duckdb")
    before = tree_digest(path.parent)
    attacks = [
        "INSERT INTO telemetry_file.decisions SELECT * FROM decisions",
        "CREATE TABLE telemetry_file.x AS SELECT 1 AS x",
        "DELETE FROM telemetry_file.decisions",
        "UPDATE telemetry_file.decisions SET score = 0",
        "DROP TABLE telemetry_file.changes",
        "CHECKPOINT telemetry_file",
        "DETACH telemetry_file",
        f"ATTACH '{path}' AS writable",
        f"COPY (SELECT 1 AS x) TO '{path}'",
        "SELECT 1; INSERT INTO telemetry_file.changes SELECT * FROM changes",
    ]
    with open_store(path, TelemetryTables()) as store:
        for sql in attacks:
            with pytest.raises(ConsoleError):
                store.query(sql)
        assert store.query("SELECT count(*) AS n FROM changes").column("n")[0].as_py() == 1
    assert tree_digest(path.parent) == before


def test_duckdb_itself_refuses_writes_beneath_the_statement_check(tmp_path):
    """Defence in depth: on the store's own DuckDB connection (bypassing query()), the
    READ_ONLY attach, disabled external access and locked configuration still refuse."""
    path = write_duckdb(tmp_path / "tel" / "telemetry.duckdb")
    before = tree_digest(path.parent)
    with open_store(path, TelemetryTables()) as store:
        con = store._con.cursor()
        for sql in (
            "INSERT INTO telemetry_file.decisions SELECT * FROM decisions",
            "CREATE TABLE telemetry_file.x AS SELECT 1 AS x",
            f"COPY (SELECT 1 AS x) TO '{path.parent / 'other.parquet'}'",
            f"COPY (SELECT 1 AS x) TO '{tmp_path / 'outside.parquet'}'",
            "SET enable_external_access = true",
            "SET allowed_directories = ['/']",
            "LOAD httpfs",
        ):
            with pytest.raises(Exception):  # noqa: B017 - any DuckDB refusal will do
                con.execute(sql)
        con.close()
    assert tree_digest(path.parent) == before
    assert not (tmp_path / "outside.parquet").exists()


def test_no_statement_writes_to_declared_sources(tmp_path):
    """The same attacks on a store whose tables come from declared sources: a hive-partitioned
    folder read through a column mapping, a .duckdb table, a file read through a view."""
    from test_telemetry_helpers import changes_table, decisions_table

    from console.playbook.model import TableSource
    from console.telemetry.sources.duckdb_file import DuckdbSpec
    from console.telemetry.sources.parquet import ParquetSpec

    data = tmp_path / "data"
    renamed = decisions_table().rename_columns(["request_id", *decisions_table().schema.names[1:]])
    pq.write_to_dataset(renamed, data / "decisions", partition_cols=["seg_country"])
    db = write_duckdb(data / "series.duckdb")
    pq.write_table(changes_table(), data / "changes.parquet")
    (tmp_path / "elsewhere.csv").write_text("a\n1\n")
    url = str(data / "decisions")
    tables = TelemetryTables(
        sources=(
            TableSource(
                "decisions",
                "parquet",
                ParquetSpec("telemetry.decisions", url, url),
                (("prediction_id", "request_id"),),
            ),
            TableSource("metrics", "duckdb", DuckdbSpec("telemetry.metrics", db, "metrics")),
            TableSource(
                "changes",
                "parquet",
                ParquetSpec("telemetry.changes", str(data / "changes.parquet"), "changes"),
                view="SELECT * FROM source WHERE kind <> 'none'",
            ),
        )
    )
    before = tree_digest(data)
    with open_store(None, tables) as store:
        attacks = parquet_attacks(data / "decisions") + [
            "INSERT INTO __source_decisions SELECT * FROM __source_decisions",
            "DROP VIEW __source_changes",
            "CREATE OR REPLACE VIEW changes AS SELECT 1 AS x",
            f"COPY __source_metrics TO '{data / 'series.parquet'}'",
            f"ATTACH '{db}' AS w",
        ]
        for sql in attacks:
            with pytest.raises(ConsoleError):
                store.query(sql)
        counts = store.query(
            "SELECT (SELECT count(*) FROM decisions) AS d, (SELECT count(*) FROM metrics) AS m, "
            "(SELECT count(*) FROM changes) AS c, (SELECT count(prediction_id) FROM decisions) AS p"
        ).to_pylist()
        assert counts == [{"d": 48, "m": 48, "c": 1, "p": 48}]
        con = store._con.cursor()  # beneath the statement check, DuckDB itself refuses
        for sql in (
            f"COPY (SELECT 1 AS x) TO '{data / 'other.parquet'}'",
            "SET enable_external_access = true",
            f"ATTACH '{db}' AS w2",
        ):
            with pytest.raises(Exception):  # noqa: B017 - any DuckDB refusal will do
                con.execute(sql)
        con.close()
    assert tree_digest(data) == before
