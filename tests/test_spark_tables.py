"""Spark tables and declared sources on the Spark backend (docs/spark.md, "Spark tables and
declared sources"), on the test session's real Spark.

A bundled scenario's Parquet is saved as catalog tables of a database of the test session (a
temporary warehouse; the tables are external, over Parquet in tmp, and dropped after), the
decisions with two columns renamed as a lake might name them. `investigate --auto` over
`table:` sources must give the summary DuckDB gives on the scenario's folder, read the tables in
place (no evidence copy) and record each table and its version in the trail's open entry.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from test_prometheus_triage import prometheus_scenario
from test_spark_connect import remote  # noqa: F401 (the Connect server's URL, a fixture)
from test_spark_store import differences, on_spark

from console.cli import main
from console.engine.auto import run_auto
from console.engine.investigation import Investigation
from console.errors import ConsoleError
from console.playbook.loader import load_playbook
from console.telemetry.spark_session import spark_session
from console.telemetry.spark_store import SparkStore
from console.telemetry.store import TABLES, open_store

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = "fraud-friday-noon"
DATABASE = "incident_console_lake"
# The decisions table's own names for two contract columns; the playbook maps them back.
RENAMED = {"prediction_id": "request_id", "ts": "event_time"}


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory) -> Iterator[str]:
    """The scenario's three tables as external catalog tables over Parquet in tmp."""
    root = tmp_path_factory.mktemp("lake")
    spark.catalog.setCurrentDatabase("default")
    spark.sql(f"CREATE DATABASE {DATABASE}")
    for table in TABLES:
        rows = pq.read_table(ROOT / "sample_data" / SCENARIO / f"{table}.parquet")
        if table == "decisions":
            rows = rows.rename_columns([RENAMED.get(n, n) for n in rows.column_names])
        (root / table).mkdir()
        pq.write_table(rows, root / table / "part-0.parquet")
        spark.catalog.createTable(f"{DATABASE}.{table}", path=str(root / table), source="parquet")
    yield DATABASE
    spark.sql(f"DROP DATABASE {DATABASE} CASCADE")  # external: the Parquet stays in tmp


def scenario_on_tables(home: Path, engine: str, columns: dict[str, str]) -> Path:
    """A copy of the scenario without its Parquet, its playbook reading the three tables from
    the catalog (`columns`: the decisions mapping)."""
    folder = home / f"tables-{engine}"
    shutil.copytree(ROOT / "sample_data" / SCENARIO, folder,
                    ignore=shutil.ignore_patterns("answer.toml", "*.parquet"))  # fmt: skip
    playbook = folder / "playbook.toml"
    if engine == "spark":
        on_spark(playbook)
    text = playbook.read_text()
    for table in TABLES:
        line = f'{table} = "{table}.parquet"\n'
        assert line in text
        text = text.replace(line, "", 1)
    for table in TABLES:
        text += f'\n[telemetry.{table}]\nsource = "table:{DATABASE}.{table}"\n'
    text += "\n[telemetry.decisions.columns]\n"
    text += "".join(f'{contract} = "{user}"\n' for contract, user in columns.items())
    playbook.write_text(text)
    return folder


def test_investigate_auto_over_spark_tables_gives_the_folders_summary(spark, lake, tmp_path):
    folder = tmp_path / "duckdb"
    shutil.copytree(ROOT / "sample_data" / SCENARIO, folder,
                    ignore=shutil.ignore_patterns("answer.toml"))  # fmt: skip
    with Investigation.open(folder / "playbook.toml", folder, tmp_path / "inc-duckdb", "t") as inv:
        on_duckdb = run_auto(inv)
    tables = scenario_on_tables(tmp_path, "spark", RENAMED)
    inc = tmp_path / "inc-spark"
    with Investigation.open(tables / "playbook.toml", tables, inc, actor="t") as inv:
        assert isinstance(inv.ctx.store, SparkStore)
        on_spark_tables = run_auto(inv)
    assert on_spark_tables["root_cause"]  # an investigation that found something
    assert differences(on_duckdb, on_spark_tables) == []
    opened = json.loads((inc / "trail.jsonl").read_text().splitlines()[0])
    assert opened["action"] == "open"
    # Read in place: each table and its version (a plain Parquet table has none) recorded,
    # nothing copied into evidence.
    assert opened["params"]["read_in_place"] == {
        t: {"table": f"{DATABASE}.{t}", "version": None} for t in TABLES
    }
    assert opened["params"]["sources"]["decisions"] == (
        f"table {DATABASE}.decisions (telemetry.decisions)"
    )
    assert not list((inc / "evidence").glob("source-*"))
    assert not [e for e in opened["evidence"] if e["path"].startswith("evidence/source-")]
    assert spark.catalog.listTables() == []  # the contract and private views dropped at close


def test_a_columns_mapping_names_a_missing_column_and_maps_the_rest(spark, lake, tmp_path):
    tables = scenario_on_tables(tmp_path, "spark", {**RENAMED, "ts": "event_tme"})
    playbook = load_playbook(tables / "playbook.toml")
    with pytest.raises(ConsoleError) as missing:
        open_store(None, playbook.tables)
    assert (
        "telemetry.decisions.columns.ts = 'event_tme': no column 'event_tme' in table "
        f"{DATABASE}.decisions (telemetry.decisions) (did you mean 'event_time'?)"
    ) in missing.value.problems
    assert spark.catalog.listTables() == []  # the views of the other tables dropped too
    good = load_playbook(scenario_on_tables(tmp_path / "good", "spark", RENAMED) / "playbook.toml")
    original = pq.read_schema(ROOT / "sample_data" / SCENARIO / "decisions.parquet").names
    with open_store(None, good.tables) as store:
        # Renamed in place: the source's column order, under the contract's names.
        assert [name for name, _ in store.columns("decisions")] == original
        assert store.columns("decisions")[original.index("ts")][1] == "TIMESTAMP WITH TIME ZONE"
    assert spark.catalog.listTables() == []


def test_spark_tables_through_spark_connect(spark, lake, remote, tmp_path):  # noqa: F811
    folder = scenario_on_tables(tmp_path, "spark", RENAMED)
    tables = dataclasses.replace(
        load_playbook(folder / "playbook.toml").tables, spark_remote=remote
    )
    original = pq.read_table(ROOT / "sample_data" / SCENARIO / "decisions.parquet")
    with open_store(None, tables) as store:
        server = spark_session(remote)  # the store's own Connect session
        assert [name for name, _ in store.columns("decisions")] == original.column_names
        counted = store.query("SELECT count(DISTINCT prediction_id) AS n FROM decisions")
        assert counted.to_pylist() == [{"n": original.num_rows}]
        assert store.read_in_place["metrics"] == {"table": f"{DATABASE}.metrics", "version": None}
    assert server.catalog.listTables() == []  # contract and private views dropped at close
    assert spark.catalog.listTables() == []


def test_duckdb_refuses_a_spark_table_in_one_line(tmp_path, capsys):
    tables = scenario_on_tables(tmp_path, "duckdb", RENAMED)
    incident = tmp_path / "inc"
    argv = ["investigate", str(tables / "playbook.toml"), "--telemetry", str(tables),
            "--incident-dir", str(incident), "--auto", "--actor", "t"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "telemetry.decisions.source: a table source" in err
    assert 'set [telemetry] engine = "spark"' in err
    assert not incident.exists()


def test_a_bad_table_name_or_key_is_named_when_the_playbook_loads(tmp_path):
    folder = scenario_on_tables(tmp_path, "spark", RENAMED)
    playbook = folder / "playbook.toml"
    text = playbook.read_text()
    text = text.replace(f'source = "table:{DATABASE}.metrics"', 'source = "table:lake.fraud x"')
    text = text.replace(f'source = "table:{DATABASE}.changes"',
                        f'source = "table:{DATABASE}.changes"\nversion = 3')  # fmt: skip
    playbook.write_text(text)
    with pytest.raises(ConsoleError) as bad:
        load_playbook(playbook)
    problems = "\n".join(bad.value.problems)
    assert "telemetry.metrics.source = 'table:lake.fraud x': expected a table name" in problems
    assert "telemetry.changes.version: unknown key for a Spark table source" in problems


def test_a_view_or_a_duckdb_file_is_refused_on_spark_in_one_line(tmp_path):
    folder = scenario_on_tables(tmp_path, "spark", {})
    playbook = folder / "playbook.toml"
    text = playbook.read_text().replace("\n[telemetry.decisions.columns]\n", "")
    text = re.sub(r'(?m)^source = "table:\w+\.changes"$',
                  'source = "table:x.changes"\nview = "SELECT * FROM source"', text)  # fmt: skip
    playbook.write_text(text)
    with pytest.raises(ConsoleError) as refused:
        open_store(folder, load_playbook(playbook).tables)
    assert str(refused.value) == (
        'telemetry.changes.view: not read with [telemetry] engine = "spark"; map the columns '
        "with [telemetry.changes.columns]"
    )


def test_prometheus_metrics_on_spark_are_captured_and_triage_agrees(
    spark, prometheus_url, tmp_path
):
    """The same Investigation.open on both engines: the same rows captured, the same triage."""
    found = {}
    for engine in ("duckdb", "spark"):
        folder = prometheus_scenario(SCENARIO, prometheus_url, "", tmp_path / engine)
        if engine == "spark":
            on_spark(folder / "playbook.toml")
        inc = tmp_path / f"inc-{engine}"
        with Investigation.open(folder / "playbook.toml", folder, inc, actor="t") as inv:
            assert isinstance(inv.ctx.store, SparkStore) == (engine == "spark")
            assert inv.ctx.store.read_in_place == {}  # captured, not read in place
            assert "captured as evidence/source-metrics" in inv.ctx.store.label("metrics")
            result = inv.triage().to_dict()
        opened = json.loads((inc / "trail.jsonl").read_text().splitlines()[0])
        kept = [e["path"] for e in opened["evidence"]]
        assert len(kept) == 1 and kept[0].startswith("evidence/source-metrics")
        found[engine] = (result, pq.read_table(inc / kept[0]).to_pylist())
    assert found["duckdb"][0]["verdict"] == "confirmed"
    assert differences(found["duckdb"][0], found["spark"][0]) == []
    assert found["duckdb"][1] == found["spark"][1]  # the same captured rows
    assert spark.catalog.listTables() == []
