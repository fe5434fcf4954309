"""Telemetry read from a real S3-compatible server (moto, tests/s3_server.py) on 127.0.0.1.

A bundled scenario uploaded as single files and as a hive-partitioned decisions dataset, and
again with the user's column names plus a mapping, must give the same `investigate --auto`
answer and numbers as the local folder; no credential reaches the incident folder; nothing is
written to the bucket; bad endpoints, keys and permissions are one error naming source and key.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from s3_server import CREDENTIALS, environment, objects, s3_server, upload

from console.cli import main
from console.engine.investigation import Investigation
from console.telemetry.windows import parse_utc

SCENARIO = Path(__file__).resolve().parents[1] / "sample_data" / "fraud-friday-noon"
TABLES = ("decisions", "metrics", "changes")
RENAMED = {"prediction_id": "request_id", "ts": "event_time", "score": "risk_score"}
# Where a run's summary names its own inputs and outputs, not what it found.
OWN_PATHS = ("playbook", "telemetry", "incident_dir", "report", "trail_head")


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def hive_files(table: pa.Table, folder: Path) -> dict[str, bytes]:
    """decisions as a hive-partitioned dataset (day=YYYY-MM-DD/...), keyed by relative path."""
    table = table.append_column("day", pc.strftime(table["ts"], format="%Y-%m-%d"))
    ds.write_dataset(
        table, folder, format="parquet", partitioning=["day"], partitioning_flavor="hive"
    )
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.parquet"))}


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    """The server, with the scenario uploaded three ways into bucket `tel`."""
    work = tmp_path_factory.mktemp("s3")
    decisions = pq.read_table(SCENARIO / "decisions.parquet")
    files = {f"flat/{t}.parquet": (SCENARIO / f"{t}.parquet").read_bytes() for t in TABLES}
    hive = hive_files(decisions, work / "hive")
    assert len(hive) > 7  # one file per day of the scenario
    files.update({f"hive/decisions/{key}": data for key, data in hive.items()})
    renamed = decisions.rename_columns([RENAMED.get(n, n) for n in decisions.schema.names])
    files["renamed/decisions.parquet"] = parquet_bytes(renamed)
    with s3_server() as endpoint:
        upload(endpoint, "tel", files, public=("flat/metrics.parquet",))
        yield endpoint


@pytest.fixture()
def aws(s3, monkeypatch):
    for name, value in environment(s3).items():
        monkeypatch.setenv(name, value)
    return s3


def scenario_playbook(folder: Path, sources: str) -> Path:
    """The scenario's playbook with its [telemetry] table replaced by `sources`."""
    text = (SCENARIO / "playbook.toml").read_text()
    head, rest = text.split("[telemetry]\n", 1)
    rest = rest.split("\n\n", 1)[1]  # the file-name keys up to the next blank line
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "playbook.toml"
    path.write_text(head + sources + "\n" + rest)
    return path


def hints_folder(folder: Path) -> Path:
    """A --telemetry folder holding only the scenario's scenario.toml (its alert time)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SCENARIO / "scenario.toml", folder / "scenario.toml")
    return folder


def investigate(playbook: Path, telemetry: Path, incident: Path) -> dict:
    out = incident.parent / f"{incident.name}.json"
    args = ["investigate", str(playbook), "--telemetry", str(telemetry)]
    assert main([*args, "--incident-dir", str(incident), "--auto", "--json", str(out)]) == 0
    summary = json.loads(out.read_text())
    return {k: v for k, v in summary.items() if k not in OWN_PATHS}


@pytest.fixture(scope="session")
def local(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("local")
    return investigate(SCENARIO / "playbook.toml", SCENARIO, work / "incident")


HIVE = """
[telemetry.decisions]
source = "s3://tel/hive/decisions/"
[telemetry.metrics]
source = "s3://tel/flat/metrics.parquet"
[telemetry.changes]
source = "s3://tel/flat/changes.parquet"
"""


def test_hive_dataset_and_single_files_give_the_local_answer(aws, local, tmp_path):
    before = objects(aws, "tel")
    playbook = scenario_playbook(tmp_path, HIVE)
    incident = tmp_path / "incident"
    remote = investigate(playbook, hints_folder(tmp_path / "hints"), incident)
    assert remote["root_cause"] == local["root_cause"]
    assert remote == local  # every number: triage, locate, interventions, blast radius
    # What was read is evidence in the incident folder, named in the trail's open entry.
    assert sorted(p.name for p in (incident / "evidence").glob("source-*.parquet")) == [
        "source-changes.parquet",
        "source-decisions.parquet",
        "source-metrics.parquet",
    ]
    # No credential anywhere in the incident folder (trail, evidence, report, exports).
    secrets = [
        CREDENTIALS["AWS_ACCESS_KEY_ID"].encode(),
        CREDENTIALS["AWS_SECRET_ACCESS_KEY"].encode(),
    ]
    files = [p for p in incident.rglob("*") if p.is_file()]
    assert len(files) > 5
    for path in files:
        data = path.read_bytes()
        assert not any(secret in data for secret in secrets), path
    # Read-only: the bucket holds the same objects, unchanged.
    assert objects(aws, "tel") == before
    # The source changes after the incident; the trail still verifies against the evidence.
    changed = {
        "flat/changes.parquet": parquet_bytes(pq.read_table(SCENARIO / "changes.parquet")[:1])
    }
    upload(aws, "tel", changed)
    try:
        assert main(["trail", "verify", str(incident)]) == 0
    finally:
        upload(aws, "tel", {"flat/changes.parquet": (SCENARIO / "changes.parquet").read_bytes()})


MAPPED = """
[telemetry.decisions]
source = "s3://tel/renamed/decisions.parquet"
[telemetry.decisions.columns]
prediction_id = "request_id"
ts = "event_time"
score = "risk_score"
[telemetry.metrics]
source = "{endpoint}/tel/flat/metrics.parquet"
[telemetry.changes]
source = "s3://tel/flat/changes.parquet"
"""


def test_renamed_columns_with_a_mapping_give_the_local_answer(aws, local, tmp_path):
    """The mapped decisions from S3, and metrics as one file over plain HTTP."""
    playbook = scenario_playbook(tmp_path, MAPPED.format(endpoint=aws))
    remote = investigate(playbook, hints_folder(tmp_path / "hints"), tmp_path / "incident")
    assert remote == local


def test_no_telemetry_folder_when_every_table_has_a_source(aws, local, tmp_path):
    playbook = scenario_playbook(tmp_path, HIVE)
    alert = parse_utc("2026-11-13T16:05:00Z")  # scenario.toml's alert_at
    with Investigation.open(playbook, None, tmp_path / "incident", alert_at=alert) as inv:
        triage = inv.triage()
    assert triage.verdict == local["triage"]["verdict"]
    assert triage.relative_change == local["triage"]["relative_change"]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("s3://tel/flat/nothing.parquet", "no such file or prefix"),
        ("s3://tel/nothing/", "no such file or prefix"),
        ("s3://no-such-bucket/metrics.parquet", "no such file or prefix"),
        ("s3://tel/flat/changes.parquet.missing", "no such file or prefix"),
    ],
)
def test_a_missing_key_or_bucket_names_source_and_key(aws, tmp_path, capsys, source, expected):
    playbook = scenario_playbook(tmp_path, HIVE.replace("s3://tel/flat/metrics.parquet", source))
    incident = tmp_path / "incident"
    assert main(["investigate", str(playbook), "--incident-dir", str(incident), "--auto"]) == 2
    err = capsys.readouterr().err
    assert f"telemetry.metrics.source = '{source}': {expected}" in err
    assert not incident.exists()  # nothing half-written


def test_an_unreachable_endpoint_names_source_and_key(aws, tmp_path, capsys, monkeypatch):
    from s3_server import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    playbook = scenario_playbook(tmp_path, HIVE)
    incident = tmp_path / "incident"
    assert main(["telemetry", "check", "--playbook", str(playbook)]) == 2
    assert main(["investigate", str(playbook), "--incident-dir", str(incident), "--auto"]) == 2
    err = capsys.readouterr().err
    assert "telemetry.decisions.source = 's3://tel/hive/decisions/': cannot read" in err
    assert "Could not connect" in err or "NETWORK_CONNECTION" in err
    assert not incident.exists()


def test_a_bucket_without_permission_names_source_and_key(tmp_path, capsys, monkeypatch):
    # Two requests are let through (create the bucket, put the file); then moto checks the
    # credentials, and refuses the fake ones.
    with s3_server(open_actions=2) as endpoint:
        upload(endpoint, "locked", {"m.parquet": (SCENARIO / "metrics.parquet").read_bytes()})
        for name, value in environment(endpoint).items():
            monkeypatch.setenv(name, value)
        playbook = scenario_playbook(tmp_path, HIVE.replace("tel/flat/metrics", "locked/m"))
        assert main(["telemetry", "check", "--playbook", str(playbook)]) == 2
    err = capsys.readouterr().err
    assert "telemetry.metrics.source = 's3://locked/m.parquet': cannot read" in err
    assert "ACCESS_DENIED" in err
    assert CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in err
