"""An incident opened on the engineer's own stack, as the README shows: decisions and change
events in object storage (a real S3-compatible server, tests/s3_server.py), the metric series
in a real Prometheus (tests/prometheus_server.py), the alert time and metric from an
Alertmanager webhook, and no --telemetry folder at all. The investigation must give exactly
the answer and the numbers of the same scenario read from its local folder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from s3_server import environment, s3_server, upload
from test_intake_alerts import ALERTMANAGER

from console.cli import main

SCENARIO = Path(__file__).resolve().parents[1] / "sample_data" / "fraud-friday-noon"
SERIES = ("fraud_decline_rate", "fraud_error_rate", "fraud_latency_p99_ms")
# What a summary says about its own inputs and outputs, not what it found.
OWN_PATHS = ("playbook", "telemetry", "incident_dir", "report", "trail_head")

SOURCES = """[telemetry.decisions]
source = "s3://incidents/fraud/decisions.parquet"

[telemetry.changes]
source = "s3://incidents/fraud/changes.parquet"

[telemetry.metrics]
source = "prometheus"
url = "{prometheus}"
step = "1h"

[telemetry.metrics.queries]
{queries}
[[alerts.map]]
match = {{alertname = "FraudDeclineRateHigh"}}
metric = "decline_rate"
"""


def own_stack_playbook(folder: Path, prometheus: str) -> Path:
    """The scenario's playbook with [telemetry] replaced by sources and an alert route."""
    text = (SCENARIO / "playbook.toml").read_text()
    head, rest = text.split("[telemetry]\n", 1)
    rest = rest.split("\n\n", 1)[1]  # the file-name keys up to the next blank line
    queries = "".join(f'{series} = "{series}"\n' for series in SERIES)
    sources = SOURCES.format(prometheus=prometheus, queries=queries)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "playbook.toml"
    path.write_text(head + rest + "\n" + sources)
    return path


def summary(argv: list[str], out: Path) -> dict:
    assert main([*argv, "--auto", "--json", str(out)]) == 0
    # Evidence files are named after their entry's seq: the alert's entry moves them by one.
    text = re.sub(r"evidence/\d{4}-", "evidence/<seq>-", out.read_text())
    return {k: v for k, v in json.loads(text).items() if k not in OWN_PATHS}


@pytest.fixture()
def bucket(monkeypatch):
    with s3_server() as endpoint:
        upload(
            endpoint,
            "incidents",
            {
                f"fraud/{t}.parquet": (SCENARIO / f"{t}.parquet").read_bytes()
                for t in ("decisions", "changes")
            },
        )
        for name, value in environment(endpoint).items():
            monkeypatch.setenv(name, value)
        yield endpoint


def test_s3_prometheus_and_an_alertmanager_page_give_the_local_answer(
    bucket, prometheus_url, tmp_path
):
    local = summary(
        ["investigate", str(SCENARIO / "playbook.toml"), "--telemetry", str(SCENARIO),
         "--incident-dir", str(tmp_path / "local")],
        tmp_path / "local.json",
    )  # fmt: skip
    page = tmp_path / "alert.json"
    page.write_text(json.dumps(ALERTMANAGER))
    playbook = own_stack_playbook(tmp_path / "own", prometheus_url)
    own = summary(
        ["investigate", str(playbook), "--alert", str(page),
         "--incident-dir", str(tmp_path / "own-incident")],
        tmp_path / "own.json",
    )  # fmt: skip
    assert local["root_cause"]["edge"] == ["raw_card_age_days", "f_card_age"]
    assert own.pop("trail_count") == local.pop("trail_count") + 1  # the alert's entry
    assert own == local  # every number: triage, locate, interventions, blast radius
    entries = [
        json.loads(line)
        for line in (tmp_path / "own-incident" / "trail.jsonl").read_text().splitlines()
    ]
    opened = entries[0]["params"]
    assert opened["alert_at"] == "2026-11-13T16:05:00Z"
    assert [e["action"] for e in entries[:2]] == ["open", "alert"]
    assert main(["trail", "verify", str(tmp_path / "own-incident")]) == 0
