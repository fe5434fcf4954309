"""Declared telemetry sources on local files: `[telemetry.<table>] source = ...` with a column
mapping or a view, a .duckdb table, hive-partitioned folders, and every way a declaration can
be wrong (docs/telemetry.md, "Sources"). The S3 server tests are in
test_telemetry_sources_s3.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from test_telemetry_cli import PLAYBOOK
from test_telemetry_helpers import (
    changes_table,
    decisions_table,
    metrics_table,
    tree_digest,
)

from console.cli import main
from console.errors import ConsoleError
from console.playbook.loader import load_playbook
from console.telemetry.store import open_store

RENAMED = {"prediction_id": "request_id", "ts": "event_time", "score": "risk_score"}


def write_sources(folder: Path) -> Path:
    """decisions as a hive-partitioned folder with the user's column names, metrics with a
    column `name` for `metric`, changes as one file; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    decisions = decisions_table().rename_columns(
        [RENAMED.get(n, n) for n in decisions_table().schema.names]
    )
    decisions = decisions.append_column(
        "day", pc.strftime(decisions["event_time"], format="%Y-%m-%d")
    )
    ds.write_dataset(
        decisions,
        folder / "decisions",
        format="parquet",
        partitioning=["day"],
        partitioning_flavor="hive",
    )
    pq.write_table(metrics_table().rename_columns(["ts", "name", "value", "labels"]),
                   folder / "metrics.parquet")  # fmt: skip
    pq.write_table(changes_table(), folder / "changes.parquet")
    return folder


SOURCES = """
[telemetry.decisions]
source = "data/decisions/"
[telemetry.decisions.columns]
prediction_id = "request_id"
ts = "event_time"
score = "risk_score"

[telemetry.metrics]
source = "data/metrics.parquet"
view = "SELECT ts, name AS metric, value, labels FROM source"

[telemetry.changes]
source = "data/changes.parquet"
"""


def write_playbook(folder: Path, sources: str = SOURCES) -> Path:
    path = folder / "fraud.toml"
    path.write_text(PLAYBOOK.format(feature_expr="feat_log_amount") + sources)
    return path


@pytest.fixture()
def sourced(tmp_path) -> Path:
    write_sources(tmp_path / "data")
    return write_playbook(tmp_path)


def test_declared_sources_are_bound_as_the_contract_views(sourced):
    playbook = load_playbook(sourced)
    assert [(s.table, s.kind) for s in playbook.tables.sources] == [
        ("decisions", "parquet"),
        ("metrics", "parquet"),
        ("changes", "parquet"),
    ]
    # No --telemetry folder: every table has a source.
    with open_store(None, playbook.tables) as store:
        columns = [name for name, _ in store.columns("decisions")]
        assert {"prediction_id", "ts", "score"} <= set(columns)
        assert not {"request_id", "event_time", "risk_score"} & set(columns)
        rows = store.query(
            "SELECT count(*) AS n, min(prediction_id) AS first FROM decisions "
            "WHERE ts >= TIMESTAMPTZ '2026-03-02 00:00:00+00'"
        ).to_pylist()[0]
        assert rows == {"n": 24, "first": "p00024"}
        assert store.query("SELECT DISTINCT metric FROM metrics").to_pylist() == [
            {"metric": "fraud_decline_rate"}
        ]
        assert "data/decisions" in store.label("decisions")
        assert "telemetry.decisions" in store.label("decisions")


def test_telemetry_check_passes_without_a_folder(sourced, capsys):
    assert main(["telemetry", "check", "--playbook", str(sourced)]) == 0
    out = capsys.readouterr().out
    assert "decisions: 48 rows" in out
    assert "(telemetry.decisions)" in out


def test_a_mapping_to_a_missing_column_names_the_key_and_the_column(tmp_path, capsys):
    write_sources(tmp_path / "data")
    playbook = write_playbook(tmp_path, SOURCES.replace('"risk_score"', '"risk_scor"'))
    assert main(["telemetry", "check", "--playbook", str(playbook)]) == 2
    err = capsys.readouterr().err
    assert "telemetry.decisions.columns.score = 'risk_scor'" in err
    assert "no column 'risk_scor'" in err
    assert "did you mean 'risk_score'?" in err


def test_an_unmapped_source_breaks_the_contract_in_its_own_words(tmp_path, capsys):
    write_sources(tmp_path / "data")
    unmapped = (
        SOURCES.split("[telemetry.decisions.columns]")[0]
        + SOURCES.split('score = "risk_score"\n')[1]
    )
    playbook = write_playbook(tmp_path, unmapped)
    assert main(["telemetry", "check", "--playbook", str(playbook)]) == 2
    err = capsys.readouterr().err
    assert "missing required column prediction_id" in err
    assert "(telemetry.decisions)" in err


@pytest.mark.parametrize(
    ("declaration", "expected"),
    [
        ('source = "ftp://host/decisions.parquet"', "telemetry.decisions.source = 'ftp'://..."),
        ('source = "https://me:pw@host/d.parquet"', "credentials do not belong in the playbook"),
        ('source = "s3:///d.parquet"', "names no bucket"),
        ('source = "d.parquet"\nregion = "eu"', "telemetry.decisions.region: unknown key"),
        ('source = "d.parquet"\nview = "COPY (SELECT 1) TO \'x.csv\'"', "must be one SELECT"),
        ('source = "d.parquet"\nview = "SELECT 1; SELECT 2"', "must be one SELECT"),
        (
            'source = "d.parquet"\n[telemetry.decisions.columns]\nid = "x"',
            'columns.id: "id" is not a column',
        ),
        (
            'source = "d.parquet"\nview = "SELECT * FROM source"\ncolumns = { ts = "t" }',
            "either columns or view",
        ),  # fmt: skip
        ('source = "d.duckdb"\ntable = 3', "telemetry.decisions.table: expected a table name"),
        ('source = ""', "telemetry.decisions.source: must not be empty"),
    ],
)
def test_a_bad_declaration_is_a_playbook_problem_naming_the_key(tmp_path, declaration, expected):
    path = write_playbook(tmp_path, f"\n[telemetry.decisions]\n{declaration}\n")
    with pytest.raises(ConsoleError) as raised:
        load_playbook(path)
    assert expected in str(raised.value)


def test_unreadable_sources_are_one_error_each_naming_source_and_key(tmp_path, capsys):
    declared = """
[telemetry.decisions]
source = "nowhere/"
[telemetry.metrics]
source = "metrics.duckdb"
table = "series"
"""
    path = write_playbook(tmp_path, declared)
    incident = tmp_path / "incident"
    folder = tmp_path / "rest"
    folder.mkdir()
    pq.write_table(changes_table(), folder / "changes.parquet")
    code = main(["investigate", str(path), "--telemetry", str(folder),
                 "--incident-dir", str(incident), "--auto"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert f"telemetry.decisions.source = '{tmp_path / 'nowhere'}': no such file" in err
    assert f"telemetry.metrics.source = '{tmp_path / 'metrics.duckdb'}': no such file" in err
    assert not incident.exists()  # nothing half-written


def test_a_table_without_source_needs_the_folder(tmp_path, capsys):
    path = write_playbook(tmp_path, '\n[telemetry.decisions]\nsource = "d.parquet"\n')
    assert main(["telemetry", "check", "--playbook", str(path)]) == 2
    err = capsys.readouterr().err
    assert "no telemetry folder given" in err
    assert "metrics, changes" in err


def test_a_duckdb_table_and_the_folder_together(tmp_path):
    """metrics from a table of another name in a .duckdb file; the rest from the folder."""
    db = tmp_path / "series.duckdb"
    with duckdb.connect(str(db)) as con:
        con.register("incoming", metrics_table())
        con.execute("CREATE TABLE series AS SELECT * FROM incoming")
    folder = tmp_path / "tel"
    folder.mkdir()
    pq.write_table(decisions_table(), folder / "decisions.parquet")
    pq.write_table(changes_table(), folder / "changes.parquet")
    path = write_playbook(tmp_path, '\n[telemetry.metrics]\nsource = "series.duckdb"\n'
                                    'table = "series"\n')  # fmt: skip
    playbook = load_playbook(path)
    with open_store(folder, playbook.tables) as store:
        assert store.tables == ("decisions", "metrics", "changes")
        assert store.label("metrics") == f"{db} table series (telemetry.metrics)"
        n = store.query("SELECT count(*) AS n FROM metrics").column("n")[0].as_py()
        assert n == 48


def test_a_duckdb_tables_times_are_read_in_utc_whatever_the_machines_zone(tmp_path):
    """Rows read from a .duckdb file are captured as evidence: their times are typed in UTC on
    a machine in Asia/Kolkata too, so the captured file's bytes do not depend on the machine.
    A subprocess: DuckDB reads the machine's zone once per process."""
    db = tmp_path / "series.duckdb"
    with duckdb.connect(str(db)) as con:
        con.register("incoming", metrics_table())
        con.execute("CREATE TABLE series AS SELECT * FROM incoming")
    read = (
        "import sys; from pathlib import Path; "
        "from console.telemetry.sources.duckdb_file import DuckdbSpec, read_duckdb; "
        "from datetime import datetime, UTC; "
        "t = read_duckdb(DuckdbSpec('telemetry.metrics', Path(sys.argv[1]), 'series'), "
        "datetime.now(UTC), datetime.now(UTC)); print(t.schema.field('ts').type.tz)"
    )
    done = subprocess.run([sys.executable, "-c", read, str(db)], capture_output=True,
                          text=True, env={**os.environ, "TZ": "Asia/Kolkata"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "UTC"


def test_a_view_runs_under_the_read_only_store(tmp_path, capsys):
    """A playbook view may read only its source: a file function inside it is refused."""
    write_sources(tmp_path / "data")
    (tmp_path / "secret.csv").write_text("a\n1\n")
    view = f"SELECT * FROM source, read_csv('{tmp_path / 'secret.csv'}')"
    sources = SOURCES.replace("SELECT ts, name AS metric, value, labels FROM source", view)
    path = write_playbook(tmp_path, sources)
    before = tree_digest(tmp_path / "data")
    assert main(["telemetry", "check", "--playbook", str(path)]) == 2
    err = capsys.readouterr().err
    assert "telemetry.metrics.view: does not bind" in err
    assert "disabled by configuration" in err
    assert tree_digest(tmp_path / "data") == before


def test_sources_rows_are_captured_as_evidence_and_the_trail_verifies(tmp_path, capsys):
    """An investigation on sources keeps what it read; changing the source later does not
    change the evidence the trail names."""
    write_sources(tmp_path / "data")
    path = write_playbook(tmp_path)
    incident = tmp_path / "incident"
    # scenario.toml-style hints are not needed: the alert time is given.
    from console.engine.investigation import Investigation

    with Investigation.open(path, None, incident, alert_at=T_ALERT) as inv:
        opened = list(inv.trail.entries(steps=["session"]))
        assert inv.store.label("decisions").endswith(
            "captured as evidence/source-decisions.parquet"
        )
        n = inv.store.query("SELECT count(*) AS n FROM decisions").column("n")[0].as_py()
    entry = [e for e in opened if e.action == "open"][-1]
    refs = {e.path for e in entry.evidence}
    assert refs == {f"evidence/source-{t}.parquet" for t in ("decisions", "metrics", "changes")}
    captured = pq.read_table(incident / "evidence" / "source-decisions.parquet")
    assert captured.num_rows == n == 48  # every row is inside the windows' reach
    assert "prediction_id" in captured.schema.names  # kept in the contract's shape
    assert entry.params["sources"]["decisions"].endswith("(telemetry.decisions)")
    # The source changes after the incident: the trail still verifies.
    for part in (tmp_path / "data" / "decisions").rglob("*.parquet"):
        part.unlink()
    assert main(["trail", "verify", str(incident)]) == 0


T_ALERT = decisions_table()["ts"][40].as_py()


def test_capture_reads_only_the_windows_reach(tmp_path):
    """Rows before the baseline's start, but for one triage bucket (the first bucket of the
    triage grid may start before the baseline does), are not read into the incident folder."""
    write_sources(tmp_path / "data")
    path = write_playbook(
        tmp_path, SOURCES + '\n[windows]\nincident = "6h"\nbaseline = "12h"\nbaseline_gap = "1h"\n'
    )
    from console.engine.investigation import Investigation

    with Investigation.open(path, None, tmp_path / "incident", alert_at=T_ALERT):
        pass
    captured = pq.read_table(tmp_path / "incident" / "evidence" / "source-decisions.parquet")
    first = pc.min(captured["ts"]).as_py()
    # Hourly rows, alert at row 40: the baseline starts 6 + 1 + 12 hours earlier, at row 21,
    # and the capture one bucket ([triage] bucket, 1 h by default) before it.
    capture_start = 40 - 6 - 1 - 12 - 1
    assert first == decisions_table()["ts"][capture_start].as_py()
    assert captured.num_rows == 48 - capture_start


def test_bindings_are_checked_against_sources_without_a_folder(tmp_path):
    from console.telemetry.binding import check_bindings

    write_sources(tmp_path / "data")
    path = write_playbook(tmp_path, SOURCES.replace('prediction_id = "request_id"\n', ""))
    bad = PLAYBOOK.format(feature_expr="feat_log_amnt") + SOURCES
    (tmp_path / "bad.toml").write_text(bad)
    assert check_bindings(load_playbook(path), None) == []
    problems = check_bindings(load_playbook(tmp_path / "bad.toml"), None)
    assert len(problems) == 1
    assert "no column 'feat_log_amnt'" in problems[0]
    assert "(telemetry.decisions)" in problems[0]


def test_reopening_after_the_source_changed_keeps_both_copies(tmp_path):
    from console.engine.investigation import Investigation

    write_sources(tmp_path / "data")
    path = write_playbook(tmp_path)
    incident = tmp_path / "incident"
    with Investigation.open(path, None, incident, alert_at=T_ALERT):
        pass
    # A late change event lands in the source; the incident is opened again.
    late = pa.concat_tables([changes_table(), changes_table().slice(0, 1)])
    pq.write_table(late, tmp_path / "data" / "changes.parquet")
    with Investigation.open(path, None, incident, alert_at=T_ALERT) as inv:
        assert inv.store.query("SELECT count(*) AS n FROM changes").to_pylist() == [{"n": 2}]
    kept = sorted(p.name for p in (incident / "evidence").glob("source-changes*.parquet"))
    assert len(kept) == 2 and "source-changes.parquet" in kept
    assert pq.read_table(incident / "evidence" / "source-changes.parquet").num_rows == 1
    assert main(["trail", "verify", str(incident)]) == 0
