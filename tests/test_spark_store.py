"""The Spark backend (console/telemetry/spark_store.py) on a real Spark session in local mode.

`investigate --auto` with `[telemetry] engine = "spark"` must give DuckDB's summary on a bundled
scenario (floats to the relative 1e-9 docs/spark.md states; paths and hashes aside), leave no
temporary view behind, stop a query on interrupt() or a time limit, and say how far a running
query has got.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from console.engine.auto import run_auto
from console.engine.investigation import Investigation
from console.errors import ConsoleError
from console.playbook.loader import load_playbook
from console.playbook.model import TelemetryTables
from console.telemetry.spark_store import SparkStore
from console.telemetry.store import QueryCancelled, QueryFailed, QueryTimedOut, open_store

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = "fraud-friday-noon"
REL, ABS = 1e-9, 1e-12
# Where the two runs may differ: the folders they ran in, and hashes over files whose Arrow
# schemas name UTC differently (DuckDB keeps the Parquet file's zone name, Spark says UTC).
ASIDE = {"playbook", "telemetry", "incident_dir", "report", "trail_head", "sha256"}


def on_spark(playbook: Path) -> None:
    text = playbook.read_text()
    text, n = re.subn(r"(?m)^\[telemetry\]$", '[telemetry]\nengine = "spark"', text)
    assert n == 1
    playbook.write_text(text)


def scenario_on(engine: str, scenario: str, folder: Path) -> Path:
    """A copy of a bundled scenario (its answer left out) in folder, read by `engine`."""
    shutil.copytree(ROOT / "sample_data" / scenario, folder,
                    ignore=shutil.ignore_patterns("answer.toml"))  # fmt: skip
    if engine == "spark":
        on_spark(folder / "playbook.toml")
    return folder


def bundled_scenarios() -> list[str]:
    names = sorted(
        d.name for d in (ROOT / "sample_data").iterdir() if (d / "scenario.toml").is_file()
    )
    assert len(names) >= 13, names  # a glob that matched nothing would prove nothing
    return names


@pytest.mark.slow
@pytest.mark.parametrize("scenario", bundled_scenarios())
def test_investigate_auto_on_spark_gives_duckdbs_summary(spark, tmp_path, scenario):
    summaries = {}
    for engine in ("duckdb", "spark"):
        folder = scenario_on(engine, scenario, tmp_path / engine)
        inc = tmp_path / f"inc-{engine}"
        with Investigation.open(folder / "playbook.toml", folder, inc, actor="t") as inv:
            assert isinstance(inv.ctx.store, SparkStore) == (engine == "spark")
            summaries[engine] = run_auto(inv)
        opened = json.loads((inc / "trail.jsonl").read_text().splitlines()[0])
        assert opened["action"] == "open"
        assert re.fullmatch(rf"{engine} \d+\.\d+.*", opened["params"]["engine"])
    assert summaries["duckdb"]["triage"] and summaries["duckdb"]["locate"]  # it ran
    assert differences(summaries["duckdb"], summaries["spark"]) == []
    assert spark.catalog.listTables() == []  # every view dropped at close


def test_telemetry_drift_on_spark_gives_duckdbs_figures(spark, tmp_path):
    """`telemetry drift` (window_drift) end to end on a Spark playbook: the same windows, the
    same rows and the same statistics as on DuckDB."""
    from console.engine.window_drift import window_drift

    found = {}
    for engine in ("duckdb", "spark"):
        folder = scenario_on(engine, SCENARIO, tmp_path / engine)
        found[engine] = window_drift(folder / "playbook.toml", folder).to_dict()
    assert found["duckdb"]["columns"]  # it measured something
    assert differences(found["duckdb"], found["spark"]) == []
    assert spark.catalog.listTables() == []  # every view dropped at close


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{where}: keys {sorted(a.keys() ^ b.keys())}"]
        return [d for k in a if k not in ASIDE for d in differences(a[k], b[k], f"{where}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} vs {len(b)} items"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in differences(x, y, f"{where}[{i}]")
        ]
    if isinstance(a, float) and isinstance(b, float):
        same = (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=REL, abs_tol=ABS)
        return [] if same else [f"{where}: {a!r} vs {b!r}"]
    return [] if a == b else [f"{where}: {a!r} vs {b!r}"]


def telemetry(folder: Path, decisions: int) -> Path:
    """A store of `decisions` rows in small row groups: Spark checks for a cancelled task
    between batches it reads, so a long query over them stops soon after it is cancelled."""
    ids = [f"p-{i}" for i in range(decisions)]
    xs = [1.5 + i for i in range(decisions)]
    stamps = pa.array(range(decisions), pa.timestamp("us", "UTC"))
    pq.write_table(pa.table({"ts": stamps, "x": xs, "id": ids}), folder / "decisions.parquet",
                   row_group_size=2048)  # fmt: skip
    for table in ("metrics", "changes"):
        pq.write_table(pa.table({"ts": stamps.slice(0, 1)}), folder / f"{table}.parquet")
    return folder


@pytest.fixture
def store(spark, tmp_path):
    with open_store(telemetry(tmp_path, 3), TelemetryTables(engine="spark")) as opened:
        assert isinstance(opened, SparkStore)
        yield opened


def test_parameters_extra_tables_and_read_only(spark, store):
    named = store.query("SELECT count(*) AS n FROM decisions WHERE x > $lo AND id <> $id",
                        {"lo": 1.0, "id": "p-1"})  # fmt: skip
    assert named.to_pylist() == [{"n": 2}]
    positional = store.query("SELECT id FROM decisions WHERE x < ? ORDER BY id", [3.0])
    assert positional.column("id").to_pylist() == ["p-0", "p-1"]
    extra = pa.table({"id": ["p-0", "p-2"], "w": [10, 30]})
    joined = store.query("SELECT sum(w) AS s FROM decisions JOIN extra USING (id)",
                         arrow={"extra": extra})  # fmt: skip
    assert joined.to_pylist() == [{"s": 40}]
    assert "extra" not in {t.name for t in spark.catalog.listTables()}  # dropped after the call
    for statement in ("CREATE TABLE t AS SELECT 1", "SELECT 1; SELECT 2", "COPY decisions TO 'x'"):
        with pytest.raises(QueryFailed):
            store.query(statement)
    assert [n for n, _ in store.columns("decisions")] == ["ts", "x", "id"]
    assert dict(store.columns("decisions"))["ts"] == "TIMESTAMP WITH TIME ZONE"
    assert store.engine.startswith("spark 4.")


# About a minute of work on one core (md5 of 100 kB for each of 100000 rows) unless stopped.
ENDLESS = "SELECT count(*) AS n FROM decisions WHERE md5(repeat(id, 20000)) = 'x'"


def test_time_limit_interrupt_and_progress_of_a_running_query(spark, tmp_path):
    store = open_store(telemetry(tmp_path, 100_000), TelemetryTables(engine="spark"))
    with store.time_limit(1.0, "locate", "limits.query_seconds"), pytest.raises(QueryTimedOut):
        store.query(ENDLESS)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            store.query(ENDLESS)
        except ConsoleError as exc:
            outcome.append(exc)

    # Splits of 64 kB: the scan is ~30 tasks, so progress moves as each one finishes.
    spark.conf.set("spark.sql.files.maxPartitionBytes", "65536")
    worker = threading.Thread(target=run)
    worker.start()
    progress = None
    deadline = time.monotonic() + 60
    while not progress and worker.is_alive() and time.monotonic() < deadline:
        progress = store.progress()  # finished tasks / tasks of the call's stages, percent
        worker.join(0.05)
    spark.conf.unset("spark.sql.files.maxPartitionBytes")
    assert progress is not None and 0 < progress < 100
    store.interrupt()
    worker.join(60)
    assert not worker.is_alive()
    assert [type(e) for e in outcome] == [QueryCancelled]
    assert store.progress() is None  # nothing runs
    store.close()


def test_engine_key_is_read_and_checked(tmp_path):
    source = (ROOT / "sample_data" / SCENARIO / "playbook.toml").read_text()
    path = tmp_path / "playbook.toml"
    path.write_text(source.replace("[telemetry]\n", '[telemetry]\nengine = "spark"\n', 1))
    assert load_playbook(path).tables.engine == "spark"
    path.write_text(source.replace("[telemetry]\n", '[telemetry]\nengine = "presto"\n', 1))
    with pytest.raises(ConsoleError) as bad:
        load_playbook(path)
    assert "telemetry.engine" in str(bad.value) + str(bad.value.problems)


def test_a_folder_of_parquet_files_at_a_url_spark_reads(spark, tmp_path):
    folder = telemetry(tmp_path, 4)
    rows = pq.read_table(folder / "decisions.parquet")
    (folder / "decisions.parquet").unlink()
    (folder / "decisions").mkdir()  # a folder of files is one table, as on a lake
    pq.write_table(rows.slice(0, 3), folder / "decisions" / "part-0.parquet")
    pq.write_table(rows.slice(3), folder / "decisions" / "part-1.parquet")
    tables = TelemetryTables(decisions="decisions", engine="spark")
    # A URL as the CLI passes it: a Path, which turns file:///x into file:/x.
    with open_store(Path(f"file://{folder}"), tables) as store:
        assert store.labels["decisions"] == f"file://{folder}/decisions"
        assert store.query("SELECT count(*) AS n FROM decisions").to_pylist() == [{"n": 4}]


def test_declared_sources_are_refused_at_open_naming_table_and_kind(tmp_path, capsys):
    from console.cli import main

    folder = tmp_path / "scenario"
    shutil.copytree(ROOT / "sample_data" / SCENARIO, folder,
                    ignore=shutil.ignore_patterns("answer.toml"))  # fmt: skip
    playbook = folder / "playbook.toml"
    on_spark(playbook)
    text = playbook.read_text()
    for table in ("decisions", "changes"):  # from the folder's file names to declared sources
        text = text.replace(f'{table} = "{table}.parquet"\n', "", 1)
    playbook.write_text(text + '\n[telemetry.decisions]\nsource = "decisions.parquet"\n'
                        '\n[telemetry.changes]\nsource = "changes.duckdb"\n')  # fmt: skip
    argv = ["investigate", str(playbook), "--telemetry", str(folder),
            "--incident-dir", str(tmp_path / "inc"), "--auto", "--actor", "t"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "telemetry.decisions.source: a parquet source is not read" in err
    assert "telemetry.changes.source: a duckdb source is not read" in err
