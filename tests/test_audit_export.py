"""Exports in each format: typed Parquet, CSV, JSON Lines, a Markdown timeline; privacy; --tz."""

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from console.audit import Trail
from console.audit.export import export
from console.errors import ConsoleError

ROOT = Path(__file__).resolve().parent.parent

CARD = "4111-1111-1111-1111"
IP = "203.0.113.77"
FORMATS = ("jsonl", "parquet", "csv", "md")


@pytest.fixture
def incident(tmp_path):
    folder = tmp_path / "inc-42"
    with Trail.open(folder, actor="alice@oncall", key=b"k") as trail:
        trail.append(
            "triage",
            "check_gaps",
            params={"metric": "decline_rate", "raw_card_hash": CARD},
            result={"gaps": 0, "verdict": "real"},
        )
        trail.append(
            "counterfactual",
            "drill_down",
            params={"rows": [{"raw_ip": IP, "score": 0.91}]},
            result={"flips": 1312, "nested": {"raw_card_hash": CARD}},
        )
        trail.note("feature store | owner paged")
    return folder


def test_every_format_carries_entries_and_head(incident, tmp_path):
    for fmt in FORMATS:
        out = tmp_path / f"trail.{fmt}"
        done = export(incident, fmt, out)
        assert done.count == 3 and done.report.ok
        assert done.head.signature  # the signed head travels with the export
        if fmt != "parquet":
            text = out.read_text()
            assert done.head.hash in text


def test_parquet_has_typed_columns(incident, tmp_path):
    out = tmp_path / "t.parquet"
    done = export(incident, "parquet", out)
    table = pq.read_table(out)
    assert table.schema.field("seq").type == pa.int64()
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("step").type == pa.string()
    assert table.column("seq").to_pylist() == [1, 2, 3]
    assert json.loads(table.column("result").to_pylist()[1])["flips"] == 1312
    meta = json.loads(table.schema.metadata[b"incident_console.trail_export"])
    assert meta["head"] == done.head.hash and meta["count"] == 3


def test_markdown_timeline(incident, tmp_path):
    out = tmp_path / "t.md"
    export(incident, "md", out)
    text = out.read_text()
    assert "# Audit trail: inc-42" in text and "Verification: verified" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 3
    assert "check\\_gaps" in rows[0] and "gaps=0, verdict=real" in rows[0]
    assert "feature store \\| owner paged" in rows[2]  # a pipe does not break the table


def test_sensitive_values_never_appear_raw(incident, tmp_path):
    hashed = []
    for fmt in FORMATS:
        out = tmp_path / f"s.{fmt}"
        export(incident, fmt, out, sensitive=["raw_card_hash", "raw_ip"])
        raw = out.read_bytes()
        assert CARD.encode() not in raw and IP.encode() not in raw, fmt
        if fmt == "jsonl":
            entries = [json.loads(line) for line in raw.splitlines()[1:]]
            hashed = [
                entries[0]["params"]["raw_card_hash"],
                entries[1]["result"]["nested"]["raw_card_hash"],
            ]
            assert entries[1]["params"]["rows"][0]["score"] == 0.91  # other keys untouched
    # Salted per incident, stable: equal values hash equally within the incident.
    assert hashed[0] == hashed[1] and hashed[0].startswith("salted-sha256:")
    salt = (incident / "export.salt").read_text()
    export(incident, "jsonl", tmp_path / "again.jsonl", sensitive=["raw_card_hash"])
    assert (incident / "export.salt").read_text() == salt
    assert hashed[0] in (tmp_path / "again.jsonl").read_text()


def test_tz_converts_times(incident, tmp_path):
    utc = tmp_path / "utc.csv"
    paris = tmp_path / "paris.csv"
    export(incident, "csv", utc)
    export(incident, "csv", paris, tz="Asia/Kolkata")
    u = list(csv.DictReader(io.StringIO(utc.read_text())))
    k = list(csv.DictReader(io.StringIO(paris.read_text())))
    from datetime import datetime

    assert u[0]["ts"].endswith("Z") and k[0]["ts"].endswith("+05:30")
    t_utc = datetime.fromisoformat(u[0]["ts"].replace("Z", "+00:00"))
    assert datetime.fromisoformat(k[0]["ts"]) == t_utc
    md = tmp_path / "k.md"
    export(incident, "md", md, tz="Asia/Kolkata")
    shown = t_utc.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Kolkata"))
    assert shown.strftime("%Y-%m-%d %H:%M:%S") in md.read_text()
    assert "Time (Asia/Kolkata)" in md.read_text()


def test_unknown_zone_is_a_clear_error(incident, tmp_path):
    with pytest.raises(ConsoleError, match="unknown time zone 'Mars/Olympus'"):
        export(incident, "md", tmp_path / "x.md", tz="Mars/Olympus")
    assert not (tmp_path / "x.md").exists()


def test_an_export_never_replaces_the_trail(incident):
    with pytest.raises(ConsoleError, match="refusing to export over"):
        export(incident, "jsonl", incident / "trail.jsonl")


def test_a_tampered_trail_is_not_exported(incident, tmp_path):
    path = incident / "trail.jsonl"
    path.write_bytes(path.read_bytes().replace(b'"flips":1312', b'"flips":12'))
    with pytest.raises(ConsoleError, match="entry 2: modified"):
        export(incident, "csv", tmp_path / "x.csv")


def test_cli_export_with_playbook_privacy(tmp_path):
    from console.playbook.loader import load_playbook

    playbook = ROOT / "playbooks" / "fraud.toml"
    sensitive = load_playbook(playbook).sensitive
    assert sensitive
    secrets = {key: f"secret-{i}-value" for i, key in enumerate(sensitive)}
    folder = tmp_path / "inc"
    with Trail.open(folder, actor="a") as trail:
        trail.append("counterfactual", "drill_down", params={"row": secrets}, result=secrets)
    for fmt in FORMATS:
        out = tmp_path / f"timeline.{fmt}"
        done = cli("export", folder, "--format", fmt, "--out", out, "--playbook", playbook)
        assert done.returncode == 0, done.stderr
        raw = out.read_bytes()
        assert not any(value.encode() in raw for value in secrets.values()), fmt
    assert "Sensitive columns shown as salted hashes" in (tmp_path / "timeline.md").read_text()
    done = cli("export", folder, "--format", "md", "--out", tmp_path / "x.md", "--tz", "No/Where")
    assert done.returncode == 2 and "unknown time zone" in done.stderr


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "console", "trail", *map(str, args)],
        capture_output=True,
        text=True,
    )
