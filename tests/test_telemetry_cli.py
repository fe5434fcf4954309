"""`incident-console telemetry check`, run as a person would, in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
from test_telemetry_helpers import decisions_table, write_store

PLAYBOOK = """\
[model]
name = "fraud-detector"
owner = "risk-ml"
oncall = "#risk-oncall"

[[nodes]]
id = "raw_amount"
kind = "source"
type = "numeric"
owner = "payments"
description = "Amount as received."
expr = "raw_amount"

[[nodes]]
id = "f_log_amount"
kind = "feature"
type = "numeric"
owner = "features"
description = "log(1 + amount)."
expr = "{feature_expr}"
reference = "ln(1 + raw_amount)"

[[nodes]]
id = "decline_rate"
kind = "metric"
type = "numeric"
owner = "risk-ml"
description = "Share declined."
expr = "avg(CASE WHEN decision = 'decline' THEN 1.0 ELSE 0.0 END)"
series = "fraud_decline_rate"

[[edges]]
from = "raw_amount"
to = "f_log_amount"
mechanism = "log(1 + amount)"
intervention = {{ type = "shadow_recompute" }}

[triage]
metric = "decline_rate"

[scorer]
type = "logistic"
[scorer.weights]
f_log_amount = 0.5
"""


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "console", *args], capture_output=True, text=True, timeout=120
    )


def write_playbook(folder: Path, feature_expr: str = "feat_log_amount") -> Path:
    path = folder / "fraud.toml"
    path.write_text(PLAYBOOK.format(feature_expr=feature_expr))
    return path


def test_check_passes_with_a_summary(tmp_path):
    folder = write_store(tmp_path / "tel")
    done = run(
        "telemetry",
        "check",
        "--playbook",
        str(write_playbook(tmp_path)),
        "--telemetry",
        str(folder),
    )
    assert done.returncode == 0, done.stderr
    assert "decisions: 48 rows, 2026-03-01T00:00:00Z to 2026-03-02T23:00:00Z" in done.stdout
    assert "metrics: 48 rows" in done.stdout
    assert "changes: 1 rows" in done.stdout


def test_check_lists_every_problem_and_exits_2(tmp_path):
    decisions = decisions_table()
    as_text = pa.array([str(t) for t in decisions.column("ts").to_pylist()])
    decisions = decisions.set_column(decisions.schema.get_field_index("ts"), "ts", as_text)
    folder = write_store(tmp_path / "tel", decisions=decisions, skip=("changes",))
    playbook = write_playbook(tmp_path, feature_expr="feat_log_amout")
    done = run("telemetry", "check", "--playbook", str(playbook), "--telemetry", str(folder))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "(3 problems)" in done.stderr
    assert "changes.parquet: file missing" in done.stderr
    assert "decisions.parquet: column ts is VARCHAR, the contract needs TIMESTAMPTZ" in done.stderr
    assert "did you mean 'feat_log_amount'?" in done.stderr


def test_check_help_has_an_example():
    done = run("telemetry", "check", "--help")
    assert done.returncode == 0
    assert "example:" in done.stdout
    assert "incident-console telemetry check --playbook" in done.stdout
