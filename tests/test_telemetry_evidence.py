"""Evidence snapshots: the rows kept, their sha256, and detection of any later change."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_telemetry_helpers import T0, decisions_table, write_store

from console.errors import ConsoleError
from console.playbook.model import TelemetryTables
from console.telemetry.evidence import EvidenceRef, read_evidence, snapshot, verify_evidence
from console.telemetry.store import open_store

SQL = "SELECT prediction_id, score FROM decisions WHERE ts >= $start AND ts < $end ORDER BY 1"
PARAMS = {"start": T0, "end": T0 + timedelta(hours=5)}


def test_snapshot_round_trip_survives_the_source_changing(tmp_path):
    folder = write_store(tmp_path / "tel")
    incident = tmp_path / "incident"
    with open_store(folder, TelemetryTables()) as store:
        ref = snapshot(store, SQL, PARAMS, incident, "shadow_recompute-f_log_amount")
        seen = store.query(SQL, PARAMS)
    assert ref.path == "evidence/shadow_recompute-f_log_amount.parquet"
    assert ref.rows == 5
    assert verify_evidence(incident, ref) is None
    # The trail keeps {"path", "sha256"}; a reference read back from it verifies the same.
    stored = ref.to_dict()
    assert stored == {"path": ref.path, "sha256": ref.sha256}
    assert EvidenceRef.from_dict(stored) == ref
    # The telemetry is rewritten (a backfill); the evidence still holds what was seen.
    write_store(folder, decisions=store_with_other_scores())
    with open_store(folder, TelemetryTables()) as store:
        now_seen = store.query(SQL, PARAMS)
    assert now_seen.column("score") != seen.column("score")
    kept = read_evidence(incident, ref)
    assert kept.equals(seen.replace_schema_metadata(kept.schema.metadata))
    metadata = pq.read_schema(incident / ref.path).metadata
    assert metadata[b"incident_console.sql"] == SQL.encode()
    assert b"2026-03-01" in metadata[b"incident_console.params"]
    # No temporary file is left behind.
    assert [p.name for p in (incident / "evidence").iterdir()] == [
        "shadow_recompute-f_log_amount.parquet"
    ]


def store_with_other_scores() -> pa.Table:
    table = decisions_table()
    index = table.schema.get_field_index("score")
    return table.set_column(index, "score", pa.array([0.0] * table.num_rows))


def test_evidence_is_never_overwritten(tmp_path):
    folder = write_store(tmp_path / "tel")
    incident = tmp_path / "incident"
    with open_store(folder, TelemetryTables()) as store:
        first = snapshot(store, SQL, PARAMS, incident, "rows")
        again = snapshot(store, SQL, PARAMS, incident, "rows")
        other = snapshot(store, "SELECT 1 AS x", None, incident, "rows")
    assert again == first
    assert other.path == f"evidence/rows-{other.sha256[:12]}.parquet"
    assert verify_evidence(incident, first) is None
    assert verify_evidence(incident, other) is None


def test_changed_or_missing_evidence_is_detected(tmp_path):
    folder = write_store(tmp_path / "tel")
    incident = tmp_path / "incident"
    with open_store(folder, TelemetryTables()) as store:
        ref = snapshot(store, SQL, PARAMS, incident, "rows")
    path = incident / ref.path
    path.write_bytes(path.read_bytes() + b"\0")
    problem = verify_evidence(incident, ref)
    assert problem.startswith("evidence evidence/rows.parquet changed: sha256 ")
    with pytest.raises(ConsoleError, match="changed"):
        read_evidence(incident, ref)
    path.unlink()
    assert "is missing" in verify_evidence(incident, ref)
    escaping = EvidenceRef("../elsewhere.parquet", ref.sha256)
    assert "outside the incident folder" in verify_evidence(incident, escaping)


def test_bad_names_and_references(tmp_path):
    folder = write_store(tmp_path / "tel")
    with open_store(folder, TelemetryTables()) as store, pytest.raises(ConsoleError, match="name"):
        snapshot(store, SQL, PARAMS, tmp_path / "incident", "../escape")
    with pytest.raises(ConsoleError, match="lacks 'sha256'"):
        EvidenceRef.from_dict({"path": "evidence/x.parquet"})


def test_the_same_rows_in_another_order_give_the_same_evidence(tmp_path):
    folder = write_store(tmp_path / "tel")
    shuffled = SQL.replace("ORDER BY 1", "ORDER BY 2 DESC")
    with open_store(folder, TelemetryTables()) as store:
        first = snapshot(store, SQL, PARAMS, tmp_path / "a", "rows")
        second = snapshot(store, shuffled, PARAMS, tmp_path / "b", "rows")
    assert read_evidence(tmp_path / "a", first).equals(read_evidence(tmp_path / "b", second))
