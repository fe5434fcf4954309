"""`open --alert` and `investigate --alert`: the alert time and the metric from the page, and
the page kept as evidence in the incident's trail.

read_alert runs before anything is created (a bad payload, or one that matches no metric,
ends with one message and no incident folder); keep_alert runs once the investigation is open
and writes evidence/alert.json, then a triage note entry that points at it with its sha256,
so `trail verify` proves the page the incident was opened from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from console.audit.vocabulary import Action, Step
from console.errors import ConsoleError
from console.files import atomic_write, file_sha256
from console.intake.alerts import parse_alert, redacted, route
from console.intake.payload import read_payload
from console.playbook.loader import load_playbook
from console.telemetry.windows import format_utc

EVIDENCE_DIR = "evidence"
EVIDENCE_NAME = "alert"


@dataclass(frozen=True)
class AlertIntake:
    source: str  # the file as given, or "stdin"
    kind: str  # alertmanager, grafana, pagerduty
    alert_at: datetime
    metric: str
    labels: dict[str, str]
    route_key: str  # the [[alerts.map]] entry that chose the metric; "" when --metric did
    payload_sha256: str  # of the bytes received, before redaction
    kept: bytes  # the redacted payload, as written to the evidence file


def read_alert(
    name: str, playbook_path: Path, *, alert_at: datetime | None, metric: str | None
) -> AlertIntake:
    """The alert's time and metric; an explicit alert_at or metric wins over the alert's."""
    payload = read_payload(name, "--alert")
    alerts = parse_alert(payload)
    playbook = load_playbook(playbook_path)
    try:
        routed = route(alerts, playbook.intake.alert_routes, payload.source, str(playbook_path))
        alert, chosen_metric, key = routed.alert, routed.route.metric, routed.route.key
    except ConsoleError:
        if metric is None:
            raise
        # The metric was given: the alert only dates the incident (its earliest firing one).
        alert = min((a for a in alerts if a.firing), default=alerts[0], key=lambda a: a.starts_at)
        chosen_metric, key = metric, ""
    kept = json.dumps(redacted(payload.data), indent=2, sort_keys=True, ensure_ascii=False)
    return AlertIntake(
        source=payload.source,
        kind=alert.kind,
        # To the second: alert rules evaluate every few seconds at best, and whole-second
        # windows read better in every step's output than Alertmanager's nanoseconds.
        alert_at=alert_at or alert.starts_at.replace(microsecond=0),
        metric=metric or chosen_metric,
        labels=alert.labels,
        route_key="" if metric else key,
        payload_sha256=hashlib.sha256(payload.raw).hexdigest(),
        kept=(kept + "\n").encode("utf-8"),
    )


Record = Callable[..., Any]  # Investigation.record(step, action, params, result, evidence)


def keep_alert(intake: AlertIntake, incident_dir: Path, record: Record) -> dict[str, str]:
    """Write the redacted payload to evidence/alert.json (never over a different one: a
    second page of a resumed incident is kept as alert-<12 hex>.json) and record it."""
    digest = hashlib.sha256(intake.kept).hexdigest()
    folder = Path(incident_dir) / EVIDENCE_DIR
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConsoleError(f"cannot write evidence into {folder}: {exc.strerror or exc}") from None
    target = folder / f"{EVIDENCE_NAME}.json"
    if target.exists() and file_sha256(target) != digest:
        target = folder / f"{EVIDENCE_NAME}-{digest[:12]}.json"
    if not target.exists():
        atomic_write(target, intake.kept)
    ref = {"path": str(PurePosixPath(EVIDENCE_DIR, target.name)), "sha256": digest}
    record(
        Step.SESSION,
        Action.ALERT,
        {
            "kind": intake.kind,
            "source": intake.source,
            "labels": intake.labels,
            "alert_at": format_utc(intake.alert_at),
            "metric": intake.metric,
            "route": intake.route_key,
            "payload_sha256": intake.payload_sha256,
        },
        {},
        [ref],
    )
    return ref
