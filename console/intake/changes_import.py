"""Change events from the tools that record them, into the changes contract (docs/telemetry.md).

One parser per tool in IMPORTERS; each reads exactly the JSON the tool emits and returns
RawChange records: when, what kind of change, the names the event is known by (most specific
first) and the words. `map_changes` then picks each event's node through the playbook's
[changes.map]; an event no entry matches is not written (the contract's node is required and
an event on no node is evidence of nothing) and is listed by name, so nothing is dropped
silently. docs/intake.md says what each tool's fields become.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from console.files import atomic_write
from console.intake.payload import Payload, Reader


@dataclass(frozen=True)
class RawChange:
    ts: datetime
    kind: str  # one of the contract's kinds
    names: tuple[str, ...]  # what the playbook's [changes.map] may name, most specific first
    summary: str
    actor: str


@dataclass(frozen=True)
class Parsed:
    changes: list[RawChange]
    # Records of the payload that are not change events (pod lifecycle, alert state
    # annotations): reason -> count, reported by the command.
    skipped: Counter[str] = field(default_factory=Counter)


Importer = Callable[[Payload, Mapping[str, str]], Parsed]

# k8s involvedObject kinds whose events are changes to the pipeline (a rollout, a config
# edit). Pods, ReplicaSets and nodes report their life (scheduled, pulled, killed,
# rescaled), which follows from a change rather than being one.
K8S_CHANGE_KINDS = {
    "Deployment": "deploy",
    "StatefulSet": "deploy",
    "DaemonSet": "deploy",
    "CronJob": "deploy",
    "ConfigMap": "config",
    "Secret": "config",
}
CONTRACT_KINDS = ("deploy", "config", "data_source", "schema", "model")


def k8s_events(payload: Payload, options: Mapping[str, str]) -> Parsed:
    """`kubectl get events -o json`: a List of core/v1 Event (involvedObject, reason, message,
    firstTimestamp...), or of events.k8s.io/v1 Event (regarding, note, eventTime...)."""
    r = Reader(payload.source, "the output of `kubectl get events -o json`")
    root = r.obj(payload.data, "(document)")
    changes: list[RawChange] = []
    skipped: Counter[str] = Counter()
    for i, event in enumerate(r.items(root.get("items"), "items")):
        key = f"items[{i}]"
        target_key = "involvedObject" if "involvedObject" in event else "regarding"
        target = r.obj(event.get(target_key), f"{key}.{target_key}")
        object_kind = r.text(target, "kind", f"{key}.{target_key}")
        kind = K8S_CHANGE_KINDS.get(object_kind)
        if kind is None:
            skipped[f"{object_kind or 'unknown'} events (not a change)"] += 1
            continue
        name = r.text(target, "name", f"{key}.{target_key}")
        namespace = r.text(target, "namespace", f"{key}.{target_key}")
        meta = r.obj(event.get("metadata", {}), f"{key}.metadata")
        # The first occurrence is when the change happened; a repeated event (count > 1)
        # only says it went on happening.
        times = ("eventTime", "firstTimestamp", "deprecatedFirstTimestamp", "lastTimestamp")
        ts = r.time({**meta, **event}, (*times, "creationTimestamp"), key)
        reason = r.text(event, "reason", key)
        message = r.text(event, "message", key) or r.text(event, "note", key)
        source = r.obj(event.get("source") or {}, f"{key}.source")
        actor = (
            r.text(event, "reportingController", key)
            or r.text(event, "reportingComponent", key)
            or r.text(source, "component", f"{key}.source")
            or "kubernetes"
        )
        qualified = f"{namespace}/{name}" if namespace else name
        summary = f"{object_kind} {qualified}: {reason}: {message}"
        names = (qualified, name, namespace)
        changes.append(RawChange(ts, kind, _present(names), summary, actor))
    return Parsed(changes, skipped)


def argocd_history(payload: Payload, options: Mapping[str, str]) -> Parsed:
    """Argo CD deployment history: the Application's status.history entries (RevisionHistory:
    id, revision, deployedAt, deployStartedAt, source, initiatedBy). Accepted as the array
    itself (`argocd app history APP -o json` in the versions that print JSON) with --app
    naming the application, or as a whole Application object (`argocd app get APP -o json`,
    `kubectl get application APP -o json`), whose metadata.name is the application."""
    r = Reader(payload.source, "Argo CD application history")
    app = options.get("app", "")
    entries: Any = payload.data
    if isinstance(payload.data, Mapping):
        root = r.obj(payload.data, "(document)")
        app = app or r.text(r.obj(root.get("metadata", {}), "metadata"), "name", "metadata")
        entries = r.obj(root.get("status", {}), "status").get("history", [])
        prefix = "status.history"
    else:
        prefix = "(document)"
    changes = []
    for i, entry in enumerate(r.items(entries, prefix)):
        key = f"{prefix}[{i}]"
        ts = r.time(entry, ("deployedAt", "deployStartedAt"), key)
        sources = [r.obj(entry["source"], f"{key}.source")] if entry.get("source") else []
        sources += r.items(entry.get("sources") or [], f"{key}.sources")  # multi-source apps
        source_names: list[str] = []
        for j, src in enumerate(sources):
            where = f"{key}.source" if j == 0 and entry.get("source") else f"{key}.sources"
            source_names += [
                r.text(src, "chart", where),
                r.text(src, "path", where),
                r.text(src, "repoURL", where),
            ]
        revision = r.text(entry, "revision", key) or ", ".join(
            str(rev) for rev in entry.get("revisions") or [] if isinstance(rev, str)
        )
        target = r.text(sources[0], "targetRevision", f"{key}.source") if sources else ""
        initiated = r.obj(entry.get("initiatedBy") or {}, f"{key}.initiatedBy")
        actor = r.text(initiated, "username", f"{key}.initiatedBy") or (
            "argocd (automated)" if initiated.get("automated") else "argocd"
        )
        what = f"{target} ({revision[:12]})" if target and revision else target or revision
        summary = f"Argo CD sync of {app or 'application'} to {what} (history id {entry.get('id')})"
        changes.append(RawChange(ts, "deploy", _present((app, *source_names)), summary, actor))
    return Parsed(changes)


def github_deployments(payload: Payload, options: Mapping[str, str]) -> Parsed:
    """GitHub REST "List deployments" (GET /repos/{owner}/{repo}/deployments): an array of
    deployments (id, sha, ref, task, environment, description, creator, created_at,
    repository_url, ...). The time is created_at, when the deployment was requested."""
    r = Reader(payload.source, "a GitHub list-deployments response")
    changes = []
    for i, dep in enumerate(r.items(payload.data, "(document)")):
        key = f"[{i}]"
        ts = r.time(dep, ("created_at",), key)
        repo_url = r.text(dep, "repository_url", key)
        # https://api.github.com/repos/OWNER/REPO -> OWNER/REPO
        full = "/".join(repo_url.rstrip("/").split("/")[-2:]) if "/repos/" in repo_url else ""
        repo = full.split("/")[-1] if full else ""
        environment = r.text(dep, "environment", key)
        creator = r.obj(dep.get("creator") or {}, f"{key}.creator")
        ref, sha = r.text(dep, "ref", key), r.text(dep, "sha", key)
        description = r.text(dep, "description", key)
        summary = f"{full or 'deployment'} {ref} ({sha[:12]}) to {environment or '?'}" + (
            f": {description}" if description else ""
        )
        names = (f"{full}@{environment}", full, repo, environment) if environment else (full, repo)
        actor = r.text(creator, "login", f"{key}.creator") or "github"
        changes.append(RawChange(ts, "deploy", _present(names), summary, actor))
    return Parsed(changes)


def grafana_annotations(payload: Payload, options: Mapping[str, str]) -> Parsed:
    """Grafana HTTP API GET /api/annotations: an array of annotations (id, alertId,
    dashboardUID, panelId, time and timeEnd in epoch ms, tags, text, login, ...). Alert state
    annotations (alertId not 0) are alert history, not changes, and are skipped. The kind is
    the first tag that names a contract kind (`deploy`, or `kind:config`), else deploy."""
    r = Reader(payload.source, "a Grafana annotations API response")
    changes = []
    skipped: Counter[str] = Counter()
    for i, ann in enumerate(r.items(payload.data, "(document)")):
        key = f"[{i}]"
        if ann.get("alertId") not in (None, 0):
            skipped["alert state annotations (not a change)"] += 1
            continue
        ts = r.epoch_ms(ann, "time", key)
        tags = ann.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise r.fail(f"{key}.tags", "expected an array of strings")
        kind = next(
            (t.removeprefix("kind:") for t in tags if t.removeprefix("kind:") in CONTRACT_KINDS),
            "deploy",
        )
        # A "service:fraud-scorer" tag is known by its value too.
        names = [n for t in tags for n in (t, t.split(":", 1)[1] if ":" in t else "")]
        names.append(r.text(ann, "dashboardUID", key))
        actor = r.text(ann, "login", key) or r.text(ann, "email", key) or "grafana"
        changes.append(RawChange(ts, kind, _present(names), r.text(ann, "text", key), actor))
    return Parsed(changes, skipped)


IMPORTERS: dict[str, Importer] = {
    "k8s-events": k8s_events,
    "argocd": argocd_history,
    "github-deployments": github_deployments,
    "grafana-annotations": grafana_annotations,
}


def _present(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n for n in names if n))


@dataclass(frozen=True)
class Mapped:
    rows: list[dict[str, Any]]  # the contract's columns
    unmapped: Counter[str]  # the event's most specific name -> events not written


def map_changes(changes: list[RawChange], change_map: tuple[tuple[str, str], ...]) -> Mapped:
    """Each event's node: the first [changes.map] entry (in playbook order) whose name or
    glob matches any of the event's names."""
    rows: list[dict[str, Any]] = []
    unmapped: Counter[str] = Counter()
    for change in changes:
        node = next(
            (
                node
                for pattern, node in change_map
                if any(fnmatchcase(name, pattern) for name in change.names)
            ),
            None,
        )
        if node is None:
            unmapped[change.names[0] if change.names else "(no name)"] += 1
            continue
        rows.append(
            {
                "ts": change.ts,
                "kind": change.kind,
                "node": node,
                "summary": change.summary,
                "actor": change.actor,
            }
        )
    rows.sort(key=lambda row: row["ts"])
    return Mapped(rows, unmapped)


def write_changes(rows: list[dict[str, Any]], out: Path) -> None:
    """The rows as a changes.parquet (docs/telemetry.md), written atomically."""
    # pyarrow is imported here, not at the top: every CLI launch (the console's too) imports
    # this module to list the importers, and pyarrow costs 0.1-0.3 s before the first frame.
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("ts", pa.timestamp("us", tz="UTC")),
            ("kind", pa.string()),
            ("node", pa.string()),
            ("summary", pa.string()),
            ("actor", pa.string()),
        ]
    )
    table = pa.Table.from_pylist(rows, schema=schema)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    atomic_write(out, sink.getvalue())
