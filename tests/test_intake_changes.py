"""`incident-console changes import`: each tool's JSON, shaped as the tool emits it, into the
changes contract; the playbook's [changes.map]; unmapped events listed; bad input exits 2."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from console.cli import main
from console.paths import scenario_dir
from console.playbook.loader import load_playbook

SCENARIO = "fraud-friday-noon"

MAPPING = """
[changes.map]
"risk/velocity-job" = "raw_txn_count_1h"
"card-profile-ingest" = "raw_card_age_days"
"acme/card-profile-ingest" = "raw_card_age_days"
"service:merchant-catalog" = "raw_merchant_category"
"device-intel/*" = "raw_ip_risk"
"card-profile-*" = "raw_card_age_days"
"""

# Shaped as `kubectl get events -A -o json` prints a core/v1 EventList (Kubernetes API
# reference, "Event v1 core": involvedObject, reason, message, source, firstTimestamp,
# lastTimestamp, count, type, eventTime, reportingComponent, reportingInstance).
K8S_EVENTS = {
    "apiVersion": "v1",
    "items": [
        {
            "apiVersion": "v1",
            "count": 1,
            "eventTime": None,
            "firstTimestamp": "2026-11-13T12:30:00Z",
            "involvedObject": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": "velocity-job",
                "namespace": "risk",
                "resourceVersion": "88123",
                "uid": "5c1d1f7e-4b8a-4f43-9d0c-1c2b3a4d5e6f",
            },
            "kind": "Event",
            "lastTimestamp": "2026-11-13T12:30:04Z",
            "message": "Scaled up replica set velocity-job-6f7c9d8b5 to 1",
            "metadata": {
                "creationTimestamp": "2026-11-13T12:30:00Z",
                "name": "velocity-job.1797a0b3c2d4e5f6",
                "namespace": "risk",
                "resourceVersion": "88125",
                "uid": "0a1b2c3d-0000-4000-8000-000000000001",
            },
            "reason": "ScalingReplicaSet",
            "reportingComponent": "deployment-controller",
            "reportingInstance": "",
            "source": {"component": "deployment-controller"},
            "type": "Normal",
        },
        {
            "apiVersion": "v1",
            "count": 3,
            "eventTime": None,
            "firstTimestamp": "2026-11-13T12:30:09Z",
            "involvedObject": {
                "apiVersion": "v1",
                "fieldPath": "spec.containers{velocity}",
                "kind": "Pod",
                "name": "velocity-job-6f7c9d8b5-x2x4q",
                "namespace": "risk",
            },
            "kind": "Event",
            "lastTimestamp": "2026-11-13T12:31:09Z",
            "message": 'Container image "registry/velocity:3.8.1" already present on machine',
            "metadata": {"name": "velocity-job-6f7c9d8b5-x2x4q.1797a0", "namespace": "risk"},
            "reason": "Pulled",
            "source": {"component": "kubelet", "host": "node-7"},
            "type": "Normal",
        },
        {
            "apiVersion": "v1",
            "count": 1,
            "eventTime": None,
            "firstTimestamp": "2026-11-13T13:00:00Z",
            "involvedObject": {"kind": "Deployment", "name": "checkout\x1b[2J", "namespace": "web"},
            "kind": "Event",
            "lastTimestamp": "2026-11-13T13:00:00Z",
            "message": "Scaled up replica set checkout-5d to 2",
            "metadata": {"name": "checkout.1797", "namespace": "web"},
            "reason": "ScalingReplicaSet",
            "source": {"component": "deployment-controller"},
            "type": "Normal",
        },
    ],
    "kind": "List",
    "metadata": {"resourceVersion": ""},
}

# Argo CD's Application object (`argocd app get card-profile-ingest -o json`): the deployment
# history `argocd app history` prints is status.history, []RevisionHistory (Argo CD API
# reference, v1alpha1.RevisionHistory: id, revision, deployedAt, deployStartedAt, source,
# initiatedBy).
ARGOCD_APP = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Application",
    "metadata": {"name": "card-profile-ingest", "namespace": "argocd"},
    "spec": {"project": "risk", "source": {"repoURL": "https://git.example/risk.git"}},
    "status": {
        "history": [
            {
                "deployStartedAt": "2026-11-13T18:58:40Z",
                "deployedAt": "2026-11-13T19:00:00Z",
                "id": 41,
                "initiatedBy": {"username": "oncall-card-platform"},
                "revision": "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432",
                "source": {
                    "path": "deploy/card-profile-ingest",
                    "repoURL": "https://git.example/risk.git",
                    "targetRevision": "v2.14.0",
                },
            }
        ]
    },
}

# GitHub REST API "List deployments" (GET /repos/{owner}/{repo}/deployments), the response
# schema of docs.github.com/en/rest/deployments/deployments: url, id, node_id, sha, ref, task,
# payload, original_environment, environment, description, creator, created_at, updated_at,
# statuses_url, repository_url, transient_environment, production_environment.
GITHUB_DEPLOYMENTS = [
    {
        "url": "https://api.github.com/repos/acme/card-profile-ingest/deployments/1",
        "id": 1,
        "node_id": "MDEwOkRlcGxveW1lbnQx",
        "sha": "a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d",
        "ref": "v2.14.0",
        "task": "deploy",
        "payload": {},
        "original_environment": "production",
        "environment": "production",
        "description": "read lifecycle.opened_on (v5) with fallback",
        "creator": {"login": "octocat", "id": 1, "type": "User", "site_admin": False},
        "created_at": "2026-11-13T19:00:00Z",
        "updated_at": "2026-11-13T19:02:00Z",
        "statuses_url": "https://api.github.com/repos/acme/card-profile-ingest/deployments/1/statuses",
        "repository_url": "https://api.github.com/repos/acme/card-profile-ingest",
        "transient_environment": False,
        "production_environment": True,
    }
]


def annotation(ident: int, ts: str, tags: list[str], text: str, **extra) -> dict:
    """One annotation as Grafana's HTTP API GET /api/annotations returns it (Grafana docs,
    "Annotations HTTP API", find annotations: id, alertId, dashboardId, dashboardUID, panelId,
    userId, newState, prevState, created, updated, time, timeEnd, text, tags, login, email,
    avatarUrl, data)."""
    ms = int(datetime.fromisoformat(ts).timestamp() * 1000)
    return {
        "id": ident,
        "alertId": 0,
        "alertName": "",
        "dashboardId": 12,
        "dashboardUID": "risk-declines",
        "panelId": 0,
        "userId": 3,
        "newState": "",
        "prevState": "",
        "created": ms,
        "updated": ms,
        "time": ms,
        "timeEnd": ms,
        "text": text,
        "tags": tags,
        "login": "risk-bot",
        "email": "risk-bot@example.com",
        "avatarUrl": "/avatar/0",
        "data": {},
        **extra,
    }


@pytest.fixture(scope="module")
def playbook(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pb")
    path = folder / "playbook.toml"
    path.write_text((scenario_dir(SCENARIO) / "playbook.toml").read_text() + MAPPING)
    return path


def run_import(tmp_path: Path, tool: str, payload, playbook: Path, *extra: str) -> Path:
    source = tmp_path / f"{tool}.json"
    source.write_text(json.dumps(payload))
    out = tmp_path / "changes.parquet"
    argv = ["changes", "import", "--from", tool, str(source), "--playbook", str(playbook)]
    assert main([*argv, "--out", str(out), *extra]) == 0
    return out


def rows(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_k8s_events_rollouts_mapped_pods_skipped_unmapped_listed(tmp_path, playbook, capsys):
    out = run_import(tmp_path, "k8s-events", K8S_EVENTS, playbook)
    assert rows(out) == [
        {
            "ts": utc("2026-11-13T12:30:00+00:00"),
            "kind": "deploy",
            "node": "raw_txn_count_1h",
            "summary": "Deployment risk/velocity-job: ScalingReplicaSet: "
            "Scaled up replica set velocity-job-6f7c9d8b5 to 1",
            "actor": "deployment-controller",
        }
    ]
    printed = capsys.readouterr().out
    assert "1 change event(s) written" in printed
    assert "skipped 1 Pod events (not a change)" in printed
    # The unmapped deployment is named (its control character escaped), with its count.
    assert "not written: 1 event(s) on 1 name(s)" in printed
    assert "web/checkout\\x1b[2J (1)" in printed
    assert "\x1b" not in printed


def test_argocd_application_history(tmp_path, playbook):
    out = run_import(tmp_path, "argocd", ARGOCD_APP, playbook)
    [row] = rows(out)
    assert row["ts"] == utc("2026-11-13T19:00:00+00:00")
    assert (row["kind"], row["node"], row["actor"]) == (
        "deploy",
        "raw_card_age_days",
        "oncall-card-platform",
    )
    assert "card-profile-ingest" in row["summary"] and "v2.14.0 (9f8e7d6c5b4a)" in row["summary"]


def test_argocd_bare_history_needs_the_app_name_to_map(tmp_path, playbook, capsys):
    history = ARGOCD_APP["status"]["history"]
    # Without --app only the source's path and repo name the entry: nothing maps them.
    out = run_import(tmp_path, "argocd", history, playbook)
    assert rows(out) == []
    assert "deploy/card-profile-ingest (1)" in capsys.readouterr().out
    out = run_import(tmp_path, "argocd", history, playbook, "--app", "card-profile-ingest")
    assert [r["node"] for r in rows(out)] == ["raw_card_age_days"]


def test_github_deployments(tmp_path, playbook):
    out = run_import(tmp_path, "github-deployments", GITHUB_DEPLOYMENTS, playbook)
    assert rows(out) == [
        {
            "ts": utc("2026-11-13T19:00:00+00:00"),
            "kind": "deploy",
            "node": "raw_card_age_days",
            "summary": "acme/card-profile-ingest v2.14.0 (a84d88e7554f) to production: "
            "read lifecycle.opened_on (v5) with fallback",
            "actor": "octocat",
        }
    ]


def test_grafana_annotations_kind_from_tags_alert_annotations_skipped(tmp_path, playbook, capsys):
    payload = [
        annotation(
            1,
            "2026-11-13T06:00:00+00:00",
            ["service:merchant-catalog", "kind:config"],
            "cashback launch",
        ),
        annotation(
            2, "2026-11-13T08:00:00+00:00", ["device-intel/ip-feed", "data_source"], "SpamTrap feed"
        ),
        annotation(3, "2026-11-13T09:00:00+00:00", [], "High decline rate", alertId=7),
    ]
    out = run_import(tmp_path, "grafana-annotations", payload, playbook)
    assert [(r["ts"], r["kind"], r["node"], r["summary"], r["actor"]) for r in rows(out)] == [
        (
            utc("2026-11-13T06:00:00+00:00"),
            "config",
            "raw_merchant_category",
            "cashback launch",
            "risk-bot",
        ),
        (
            utc("2026-11-13T08:00:00+00:00"),
            "data_source",
            "raw_ip_risk",
            "SpamTrap feed",
            "risk-bot",
        ),
    ]
    assert "skipped 1 alert state annotations (not a change)" in capsys.readouterr().out


def test_first_mapping_entry_wins_in_playbook_order(tmp_path, playbook):
    # "card-profile-ingest" (exact, 2nd entry) and "card-profile-*" (6th) both match.
    payload = [annotation(1, "2026-11-13T12:00:00+00:00", ["card-profile-ingest"], "x")]
    assert rows(run_import(tmp_path, "grafana-annotations", payload, playbook))[0]["node"] == (
        "raw_card_age_days"
    )
    assert load_playbook(playbook).intake.change_map[1] == (
        "card-profile-ingest",
        "raw_card_age_days",
    )


def test_round_trip_imported_changes_pass_check_and_find_the_same_root_cause(tmp_path, playbook):
    """The bundled scenario's change events, re-expressed as Grafana annotations (one per
    event, its node's name as a tag, its kind as a kind: tag), imported, then checked and
    investigated in place of the bundled changes.parquet."""
    bundled = scenario_dir(SCENARIO)
    telemetry = tmp_path / "telemetry"
    telemetry.mkdir()
    for name in ("decisions.parquet", "metrics.parquet", "scenario.toml"):
        shutil.copy(bundled / name, telemetry / name)
    original = rows(bundled / "changes.parquet")
    payload = [
        annotation(
            i,
            c["ts"].isoformat(),
            [f"node:{c['node']}", f"kind:{c['kind']}"],
            c["summary"],
            login=c["actor"],
        )
        for i, c in enumerate(original)
    ]
    mapped = tmp_path / "mapped.toml"
    nodes = sorted({c["node"] for c in original})
    mapped.write_text(
        (bundled / "playbook.toml").read_text()
        + "\n[changes.map]\n"
        + "".join(f'"{n}" = "{n}"\n' for n in nodes)
    )
    out = run_import(tmp_path, "grafana-annotations", payload, mapped)
    shutil.move(out, telemetry / "changes.parquet")
    imported = rows(telemetry / "changes.parquet")
    assert imported == sorted(original, key=lambda c: c["ts"])

    check = ["telemetry", "check", "--playbook", str(mapped), "--telemetry", str(telemetry)]
    assert main(check) == 0
    summary = tmp_path / "summary.json"
    argv = [
        "investigate",
        str(mapped),
        "--telemetry",
        str(telemetry),
        "--incident-dir",
        str(tmp_path / "inc"),
        "--auto",
        "--json",
        str(summary),
    ]
    assert main(argv) == 0
    root = json.loads(summary.read_text())["root_cause"]
    assert (root["node"], root["edge"]) == (
        "raw_card_age_days",
        ["raw_card_age_days", "f_card_age"],
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"items": [', "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (
            json.dumps(GITHUB_DEPLOYMENTS).encode(),
            "(document): expected a JSON object, got an array",
        ),
        (
            b'{"kind": "List", "items": [{"involvedObject": null}]}',
            "items[0].involvedObject: expected a JSON object, got null",
        ),
        (
            b'{"kind": "List", "items": [{"involvedObject": {"kind": "Deployment", "name": "a"}}]}',
            "items[0]: no time in eventTime",
        ),
    ],
    ids=["truncated", "not-utf8", "wrong-tool", "null-object", "no-time"],
)
def test_bad_input_is_one_message_naming_file_and_key_and_writes_nothing(
    tmp_path, playbook, capsys, content, message
):
    source = tmp_path / "events.json"
    source.write_bytes(content)
    out = tmp_path / "changes.parquet"
    argv = ["changes", "import", "--from", "k8s-events", str(source), "--playbook", str(playbook)]
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(source) in err
    assert message in err
    assert list(tmp_path.iterdir()) == [source]  # no changes.parquet, no temp file


def test_missing_file_and_unmapped_node_in_playbook_exit_2(tmp_path, playbook, capsys):
    out = tmp_path / "changes.parquet"
    argv = ["changes", "import", "--from", "argocd", str(tmp_path / "nope.json")]
    assert main([*argv, "--playbook", str(playbook), "--out", str(out)]) == 2
    assert f"FILE {tmp_path / 'nope.json'}: no such file" in capsys.readouterr().err

    bad = tmp_path / "bad.toml"
    bad.write_text(playbook.read_text() + '"svc" = "raw_card_age"\n')
    assert main([*argv, "--playbook", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert 'changes.map."svc" = "raw_card_age": unknown node "raw_card_age"' in err
    assert 'did you mean "raw_card_age_days"?' in err
    assert not out.exists()
