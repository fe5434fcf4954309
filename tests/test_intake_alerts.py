"""`--alert`: Alertmanager, Grafana and PagerDuty webhooks pick alert_at and the metric through
[[alerts.map]]; the payload is kept as verifiable evidence, secrets removed; bad input exits 2
before anything is created."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest

from console.cli import main
from console.intake.alert_intake import read_alert
from console.paths import scenario_dir

SCENARIO = "fraud-friday-noon"

ROUTES = """
[[alerts.map]]
match = {alertname = "FraudDeclineRate*", severity = "page"}
metric = "decline_rate"

[[alerts.map]]
match = {alertname = "FraudLatencyHigh"}
metric = "latency_p99"

[[alerts.map]]
match = {service = "Card fraud scoring", urgency = "high"}
metric = "error_rate"
"""

# Alertmanager's webhook body (prometheus.io/docs/alerting/latest/configuration/#webhook_config:
# version "4", groupKey, truncatedAlerts, status, receiver, groupLabels, commonLabels,
# commonAnnotations, externalURL, alerts[] with status, labels, annotations, startsAt, endsAt,
# generatorURL, fingerprint). startsAt carries Go's nanoseconds.
ALERTMANAGER = {
    "version": "4",
    "groupKey": '{}:{alertname="FraudDeclineRateHigh"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "risk-oncall",
    "groupLabels": {"alertname": "FraudDeclineRateHigh"},
    "commonLabels": {"alertname": "FraudDeclineRateHigh", "severity": "page"},
    "commonAnnotations": {"summary": "decline rate above 6%"},
    "externalURL": "http://alertmanager.internal:9093",
    "alerts": [
        {
            "status": "resolved",
            "labels": {"alertname": "FraudLatencyHigh", "severity": "page"},
            "annotations": {},
            "startsAt": "2026-11-13T09:00:00.5Z",
            "endsAt": "2026-11-13T09:30:00Z",
            "generatorURL": "http://prometheus.internal:9090/graph?g0.expr=x",
            "fingerprint": "0f0e0d0c0b0a0908",
        },
        {
            "status": "firing",
            "labels": {"alertname": "FraudDeclineRateHigh", "severity": "page", "team": "risk"},
            "annotations": {"summary": "decline rate above 6%"},
            "startsAt": "2026-11-13T16:05:00.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://user:hunter2@prometheus.internal:9090/graph"
            "?g0.expr=fraud_decline_rate&access_token=SECRET-TOKEN#tab",
            "fingerprint": "a1b2c3d4e5f60718",
        },
    ],
}

# Grafana's webhook contact point body (grafana.com/docs/grafana/latest/alerting/
# configure-notifications/manage-contact-points/integrations/webhook-notifier/: receiver,
# status, orgId, alerts[] with labels, annotations, startsAt, endsAt, generatorURL,
# fingerprint, silenceURL, dashboardURL, panelURL, values; groupLabels, commonLabels,
# commonAnnotations, externalURL, version "1", groupKey, truncatedAlerts, title, state,
# message). startsAt is in the server's offset.
GRAFANA = {
    "receiver": "risk-webhook",
    "status": "firing",
    "orgId": 1,
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "FraudLatencyHigh", "team": "risk"},
            "annotations": {"summary": "p99 above 250 ms"},
            "startsAt": "2026-11-13T17:05:00.157076+01:00",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "https://grafana.example/alerting/grafana/abc/view?orgId=1",
            "fingerprint": "c6eadffa33fcdf37",
            "silenceURL": "https://grafana.example/alerting/silence/new?matchers=alertname%3DX",
            "dashboardURL": "",
            "panelURL": "",
            "values": {"B": 312.5, "C": 1},
        }
    ],
    "groupLabels": {"alertname": "FraudLatencyHigh"},
    "commonLabels": {"alertname": "FraudLatencyHigh", "team": "risk"},
    "commonAnnotations": {"summary": "p99 above 250 ms"},
    "externalURL": "https://grafana.example/",
    "version": "1",
    "groupKey": '{}:{alertname="FraudLatencyHigh"}',
    "truncatedAlerts": 0,
    "title": "[FIRING:1] FraudLatencyHigh",
    "state": "alerting",
    "message": "**Firing**",
}

# PagerDuty v3 webhook (developer.pagerduty.com, "Webhooks v3 overview", incident.triggered:
# event.id, event_type, resource_type, occurred_at, agent, client, data = the incident with
# id, type, self, html_url, number, status, incident_key, created_at, title, service,
# assignees, escalation_policy, teams, priority, urgency, conference_bridge).
PAGERDUTY = {
    "event": {
        "id": "5ac64822-4adc-4fda-ade0-410becf0de4f",
        "event_type": "incident.triggered",
        "resource_type": "incident",
        "occurred_at": "2026-11-13T16:05:02.000Z",
        "agent": {"id": "PLH1HKV", "type": "service_reference", "summary": "Card fraud scoring"},
        "client": {"name": "Prometheus"},
        "data": {
            "id": "PGR0VU2",
            "type": "incident",
            "self": "https://api.pagerduty.com/incidents/PGR0VU2",
            "html_url": "https://acme.pagerduty.com/incidents/PGR0VU2",
            "number": 2,
            "status": "triggered",
            "incident_key": "d3640fbd41094207a1c11e58e46b1662",
            "created_at": "2026-11-13T16:05:00Z",
            "title": "Fraud error rate high",
            "service": {
                "html_url": "https://acme.pagerduty.com/services/PF9KMXH",
                "id": "PF9KMXH",
                "self": "https://api.pagerduty.com/services/PF9KMXH",
                "summary": "Card fraud scoring",
                "type": "service_reference",
            },
            "assignees": [{"id": "PTUXL6G", "summary": "Risk on-call", "type": "user_reference"}],
            "escalation_policy": {
                "id": "PUS0KTE",
                "summary": "Risk",
                "type": "escalation_policy_reference",
            },
            "teams": [{"id": "PFCVPS0", "summary": "Risk", "type": "team_reference"}],
            "priority": {"id": "PSO75BM", "summary": "P1", "type": "priority_reference"},
            "urgency": "high",
            "conference_bridge": {
                "conference_number": "+1 555-0100,,,,123456#",
                "conference_url": "https://meet.example/abc?pwd=secret",
            },
            "resolve_reason": None,
        },
    }
}


@pytest.fixture(scope="module")
def playbook(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pb") / "playbook.toml"
    path.write_text((scenario_dir(SCENARIO) / "playbook.toml").read_text() + ROUTES)
    return path


def write(tmp_path: Path, payload, name: str = "alert.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(payload))
    return path


@pytest.mark.parametrize(
    ("payload", "kind", "alert_at", "metric", "route"),
    [
        # The resolved latency alert is older, but a firing alert wins.
        (
            ALERTMANAGER,
            "alertmanager",
            "2026-11-13T16:05:00+00:00",
            "decline_rate",
            "alerts.map[0]",
        ),
        (GRAFANA, "grafana", "2026-11-13T16:05:00+00:00", "latency_p99", "alerts.map[1]"),
        (PAGERDUTY, "pagerduty", "2026-11-13T16:05:00+00:00", "error_rate", "alerts.map[2]"),
    ],
    ids=["alertmanager", "grafana", "pagerduty"],
)
def test_each_kind_picks_alert_at_and_metric(
    tmp_path, playbook, payload, kind, alert_at, metric, route
):
    intake = read_alert(str(write(tmp_path, payload)), playbook, alert_at=None, metric=None)
    assert (intake.kind, intake.alert_at.isoformat(), intake.metric, intake.route_key) == (
        kind,
        alert_at,
        metric,
        route,
    )


def test_explicit_alert_at_and_metric_win(tmp_path, playbook):
    from console.telemetry.windows import parse_utc

    given = parse_utc("2026-11-13T15:00:00Z")
    intake = read_alert(
        str(write(tmp_path, GRAFANA)), playbook, alert_at=given, metric="error_rate"
    )
    assert (intake.alert_at, intake.metric, intake.route_key) == (given, "error_rate", "")


@pytest.fixture(scope="module")
def investigated(tmp_path_factory, playbook):
    """investigate --auto on the bundled scenario, opened from the Alertmanager payload
    instead of scenario.toml (not copied): alert_at and metric come from the alert."""
    folder = tmp_path_factory.mktemp("run")
    telemetry = folder / "telemetry"
    telemetry.mkdir()
    for name in ("decisions.parquet", "metrics.parquet", "changes.parquet"):
        shutil.copy(scenario_dir(SCENARIO) / name, telemetry / name)
    alert = write(folder, ALERTMANAGER, "page.json")
    summary = folder / "summary.json"
    argv = [
        "investigate",
        str(playbook),
        "--telemetry",
        str(telemetry),
        "--incident-dir",
        str(folder / "inc"),
        "--auto",
        "--alert",
        str(alert),
        "--json",
        str(summary),
    ]
    assert main(argv) == 0
    return folder


def test_investigation_from_the_alert_names_the_root_cause(investigated):
    summary = json.loads((investigated / "summary.json").read_text())
    assert summary["metric"] == "decline_rate"
    assert summary["root_cause"]["edge"] == ["raw_card_age_days", "f_card_age"]
    first = json.loads((investigated / "inc" / "trail.jsonl").read_text().splitlines()[0])
    assert first["params"]["alert_at"] == "2026-11-13T16:05:00Z"


def test_alert_evidence_is_redacted_recorded_and_verifies(investigated, capsys):
    incident = investigated / "inc"
    kept = incident / "evidence" / "alert.json"
    text = kept.read_text()
    assert "SECRET-TOKEN" not in text and "hunter2" not in text
    assert "http://prometheus.internal:9090/graph" in text
    assert json.loads(text)["alerts"][1]["labels"]["alertname"] == "FraudDeclineRateHigh"
    entries = [json.loads(line) for line in (incident / "trail.jsonl").read_text().splitlines()]
    [entry] = [e for e in entries if e["action"] == "alert"]
    assert entry["step"] == "session" and entry["params"]["metric"] == "decline_rate"
    assert entry["evidence"] == [
        {"path": "evidence/alert.json", "sha256": hashlib.sha256(kept.read_bytes()).hexdigest()}
    ]
    raw = (investigated / "page.json").read_bytes()
    assert entry["params"]["payload_sha256"] == hashlib.sha256(raw).hexdigest()
    assert main(["trail", "verify", str(incident)]) == 0
    capsys.readouterr()

    tampered = investigated / "tampered"
    shutil.copytree(incident, tampered)
    (tampered / "evidence" / "alert.json").write_text(text.replace("16:05", "15:05"))
    assert main(["trail", "verify", str(tampered)]) != 0
    assert "evidence/alert.json was changed" in capsys.readouterr().err


def test_pagerduty_conference_bridge_is_not_kept(tmp_path, playbook):
    intake = read_alert(str(write(tmp_path, PAGERDUTY)), playbook, alert_at=None, metric=None)
    kept = intake.kept.decode()
    assert "123456#" not in kept and "pwd=secret" not in kept and "conference" not in kept
    assert "https://acme.pagerduty.com/incidents/PGR0VU2" in kept


def _open_argv(playbook: Path, tmp_path: Path, alert: str) -> list[str]:
    telemetry = scenario_dir(SCENARIO)
    return [
        "investigate",
        str(playbook),
        "--telemetry",
        str(telemetry),
        "--incident-dir",
        str(tmp_path / "inc"),
        "--auto",
        "--alert",
        alert,
    ]


def test_alert_matching_no_metric_exits_2_naming_labels_and_key(tmp_path, playbook, capsys):
    other = {
        **ALERTMANAGER,
        "alerts": [{**ALERTMANAGER["alerts"][1], "labels": {"alertname": "DiskFull"}}],
    }
    alert = write(tmp_path, other)
    assert main(_open_argv(playbook, tmp_path, str(alert))) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"--alert {alert}: no [[alerts.map]] entry of {playbook}" in err
    assert '{"alertname": "DiskFull"}' in err and "alerts.map" in err
    assert not (tmp_path / "inc").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"version": "4", "alerts": [', "not valid JSON"),
        (b'{"receiver": "x", "status": "firing"}', "not an alert webhook this console reads"),
        (
            b'{"version": "4", "alerts": [{"labels": {"alertname": "X"}}]}',
            "alerts[0]: no time in startsAt",
        ),
        (
            b'{"event": {"event_type": "incident.triggered", "data": []}}',
            "event.data: expected a JSON object, got an array",
        ),
    ],
    ids=["truncated", "unknown-kind", "no-start", "pagerduty-data"],
)
def test_bad_alert_exits_2_before_anything_is_created(tmp_path, playbook, capsys, content, message):
    alert = tmp_path / "alert.json"
    alert.write_bytes(content)
    assert main(_open_argv(playbook, tmp_path, str(alert))) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(alert) in err and message in err
    assert not (tmp_path / "inc").exists()


def test_open_reads_the_alert_before_creating_anything(tmp_path, playbook, capsys):
    # `open` runs the console's UI once the investigation is open; a bad alert stops it first.
    other = {**GRAFANA, "alerts": [{**GRAFANA["alerts"][0], "labels": {"alertname": "Disk"}}]}
    argv = [
        "open",
        str(playbook),
        "--telemetry",
        str(scenario_dir(SCENARIO)),
        "--incident-dir",
        str(tmp_path / "inc"),
        "--alert",
        str(write(tmp_path, other)),
    ]
    assert main(argv) == 2
    assert '{"alertname": "Disk"}' in capsys.readouterr().err
    assert not (tmp_path / "inc").exists()


def test_alert_from_stdin_for_investigate_but_not_for_open(tmp_path, playbook, monkeypatch, capsys):
    raw = json.dumps(PAGERDUTY).encode()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw)))
    intake = read_alert("-", playbook, alert_at=None, metric=None)
    assert (intake.source, intake.metric) == ("stdin", "error_rate")
    assert intake.payload_sha256 == hashlib.sha256(raw).hexdigest()
    # The console's UI reads its keys from stdin: the payload must come from a file.
    argv = [
        "open",
        str(playbook),
        "--telemetry",
        str(scenario_dir(SCENARIO)),
        "--incident-dir",
        str(tmp_path / "inc"),
        "--alert",
        "-",
    ]
    assert main(argv) == 2
    assert "save the payload to a file" in capsys.readouterr().err
    assert not (tmp_path / "inc").exists()


def test_missing_alert_file_exits_2(tmp_path, playbook, capsys):
    assert main(_open_argv(playbook, tmp_path, str(tmp_path / "nope.json"))) == 2
    assert f"--alert {tmp_path / 'nope.json'}: no such file" in capsys.readouterr().err
    assert not (tmp_path / "inc").exists()
