"""`incident-console playbook check|graph`: exit codes, stdout summary, problems on stderr."""

import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from console.cli import main

DOCS = Path(__file__).resolve().parents[1] / "docs" / "playbooks.md"


@pytest.fixture
def example(tmp_path):
    path = tmp_path / "fraud.toml"
    path.write_text(re.search(r"```toml\n(.*?)```", DOCS.read_text(), re.S).group(1))
    return path


def write_telemetry(
    folder: Path, feature_column: str = "feat_log_amount", producer: str = "seg_gateway"
) -> Path:
    """A one-row store with the columns the docs example reads."""
    folder.mkdir()
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    stamp = pa.timestamp("us", tz="UTC")
    decisions = {
        "prediction_id": pa.array(["p1"]),
        "ts": pa.array([now], stamp),
        "model_version": pa.array(["v1"]),
        "score": pa.array([0.2]),
        "decision": pa.array(["approve"]),
        "raw_amount": pa.array([12.5]),
        "raw_merchant_category": pa.array(["Grocery"]),
        "raw_card_country": pa.array(["FR"]),
        "raw_ip_country": pa.array(["FR"]),
        "raw_ip_lookup_ts": pa.array([now], stamp),
        "raw_card_hash": pa.array(["h"]),
        "raw_ip": pa.array(["10.0.0.1"]),
        producer: pa.array(["gw-eu-1"]),
        feature_column: pa.array([2.6]),
        "feat_merchant_category": pa.array(["grocery"]),
        "feat_country_mismatch": pa.array([0.0]),
        "feat_txn_count_1h": pa.array([1.0]),
    }
    pq.write_table(pa.table(decisions), folder / "decisions.parquet")
    series = ["fraud_decline_rate", "fraud_latency_p99_ms", "fraud_error_rate"]
    metrics = {
        "ts": pa.array([now] * 3, stamp),
        "metric": pa.array(series),
        "value": pa.array([0.1, 80.0, 0.0]),
        "labels": pa.array(["{}"] * 3),
    }
    pq.write_table(pa.table(metrics), folder / "metrics.parquet")
    changes = {
        "ts": pa.array([now], stamp),
        "kind": pa.array(["deploy"]),
        "node": pa.array(["fraud_score"]),
        "summary": pa.array(["v1"]),
        "actor": pa.array(["ci"]),
    }
    pq.write_table(pa.table(changes), folder / "changes.parquet")
    return folder


def test_check_valid_playbook_prints_one_line_summary(example, capsys):
    assert main(["playbook", "check", str(example)]) == 0
    out, err = capsys.readouterr()
    assert out == (
        f"{example}: valid; model fraud-detector, 12 nodes, 12 edges (5 verified, 1 feedback), "
        "triage metric decline_rate, logistic scorer\n"
    )
    assert err == ""


def test_check_broken_playbook_exits_2_with_every_problem(example, capsys):
    example.write_text(
        example.read_text()
        .replace('to = "f_log_amount"', 'to = "f_log_amout"')
        .replace('status = "tentative"', 'status = "tentatve"', 1)
    )
    assert main(["playbook", "check", str(example)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "playbook is not valid (2 problems)" in err
    assert 'edges[0].to = "f_log_amout": no such node; did you mean "f_log_amount"?' in err
    assert 'edges[2].status = "tentatve": unknown edge status' in err
    assert "Traceback" not in err


def test_check_runs_as_a_real_command(example, tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("[model\n")
    done = subprocess.run(
        [sys.executable, "-m", "console", "playbook", "check", str(broken)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert f"{broken}: " in done.stderr and "(at line 1, column" in done.stderr
    ok = subprocess.run(
        [sys.executable, "-m", "console", "playbook", "check", str(example)],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0 and "valid" in ok.stdout


def test_check_with_telemetry_binds_every_expression(example, tmp_path, capsys):
    store = write_telemetry(tmp_path / "telemetry")
    assert main(["playbook", "check", str(example), "--telemetry", str(store)]) == 0
    assert f"binds against {store}" in capsys.readouterr().out


def test_check_with_telemetry_names_the_missing_column(example, tmp_path, capsys):
    store = write_telemetry(tmp_path / "telemetry", feature_column="feat_log_amt")
    assert main(["playbook", "check", str(example), "--telemetry", str(store)]) == 2
    err = capsys.readouterr().err
    assert "f_log_amount" in err and "feat_log_amount" in err


def test_check_with_telemetry_names_a_producer_that_is_not_a_column(example, tmp_path, capsys):
    # Fails on the code before [evidence]: `evidence: unknown key` instead.
    store = write_telemetry(tmp_path / "telemetry", producer="seg_gateways")
    assert main(["playbook", "check", str(example), "--telemetry", str(store)]) == 2
    err = capsys.readouterr().err
    assert (
        "evidence.producers[0] names column 'seg_gateway', not in "
        f"{store / 'decisions.parquet'} (did you mean 'seg_gateways'?)"
    ) in err


def test_graph_shows_every_planned_intervention_in_order(example, capsys):
    # Fails on the code before `interventions`: the label showed one type at most.
    assert main(["playbook", "graph", str(example), "--node", "fraud_score"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "  <- f_country_mismatch (feature) [unverified, null_rate + default_rate]" in lines
    for fmt in ("mermaid", "dot"):
        assert (
            main(["playbook", "graph", str(example), "--node", "fraud_score", "--format", fmt]) == 0
        )
        assert "unverified, null_rate + default_rate" in capsys.readouterr().out


def test_graph_defaults_to_walking_back_from_the_triage_metric(example, capsys):
    assert main(["playbook", "graph", str(example)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["decline_rate (metric)", "  <- decision (decision) [verified]"]


@pytest.mark.parametrize(("fmt", "start"), [("mermaid", "flowchart LR"), ("dot", "digraph ")])
def test_graph_formats(example, capsys, fmt, start):
    assert main(["playbook", "graph", str(example), "--node", "fraud_score", "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert out.startswith(start)
    assert "decline_rate" not in out  # only the walk back from fraud_score


def test_graph_unknown_node_exits_2(example, capsys):
    assert main(["playbook", "graph", str(example), "--node", "fraud_scor"]) == 2
    assert 'did you mean "fraud_score"?' in capsys.readouterr().err


def test_missing_file_exits_2(tmp_path, capsys):
    assert main(["playbook", "check", str(tmp_path / "nope.toml")]) == 2
    assert "no such playbook file" in capsys.readouterr().err
