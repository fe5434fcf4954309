"""The page that opened the incident: an alert webhook's JSON -> the alert time and the metric.

One parser per webhook kind in ALERT_KINDS, each with the test that recognises its shape:

- Alertmanager webhook (version "4"): alerts[] with labels and startsAt;
- Grafana alerting webhook (unified alerting): the same alerts[], plus orgId / state / title;
- PagerDuty v3 webhook: event.data is the incident (created_at, title, service, urgency).
  PagerDuty carries no labels, so the incident's fields are given as labels: service,
  title, urgency, priority, event_type, incident_key.

`route(alerts, config)` picks the alert and its metric through [[alerts.map]]. What is kept
as evidence is `redacted(payload)`: the JSON with the query string and fragment of every URL
and any user:password in it removed, and PagerDuty's conference bridge dropped, since those
carry tokens and dial-in codes; the raw payload's sha256 is recorded beside it so whoever
holds the original webhook body can still show it is the same page. docs/intake.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from console.errors import ConsoleError
from console.intake.payload import Payload, Reader
from console.playbook.intake_config import AlertRoute


@dataclass(frozen=True)
class Alert:
    kind: str  # a key of ALERT_KINDS
    starts_at: datetime
    labels: dict[str, str]
    firing: bool


def _alert_list(payload: Payload, what: str, kind: str) -> list[Alert]:
    r = Reader(payload.source, what)
    root = r.obj(payload.data, "(document)")
    alerts = []
    for i, item in enumerate(r.items(root.get("alerts"), "alerts")):
        key = f"alerts[{i}]"
        labels = r.obj(item.get("labels") or {}, f"{key}.labels")
        values = {k: r.text(labels, k, f"{key}.labels") for k in labels}
        firing = r.text(item, "status", key, default="firing") == "firing"
        alerts.append(Alert(kind, r.time(item, ("startsAt",), key), values, firing))
    if not alerts:
        raise r.fail("alerts", "holds no alert")
    return alerts


def alertmanager(payload: Payload) -> list[Alert]:
    return _alert_list(payload, "an Alertmanager webhook (version 4)", "alertmanager")


def grafana(payload: Payload) -> list[Alert]:
    return _alert_list(payload, "a Grafana alerting webhook", "grafana")


def pagerduty(payload: Payload) -> list[Alert]:
    r = Reader(payload.source, "a PagerDuty v3 webhook")
    event = r.obj(r.obj(payload.data, "(document)").get("event"), "event")
    incident = r.obj(event.get("data"), "event.data")
    service = r.obj(incident.get("service") or {}, "event.data.service")
    priority = r.obj(incident.get("priority") or {}, "event.data.priority")
    labels = {
        "service": r.text(service, "summary", "event.data.service"),
        "title": r.text(incident, "title", "event.data"),
        "urgency": r.text(incident, "urgency", "event.data"),
        "priority": r.text(priority, "summary", "event.data.priority"),
        "event_type": r.text(event, "event_type", "event"),
        "incident_key": r.text(incident, "incident_key", "event.data"),
    }
    starts = r.time(incident, ("created_at",), "event.data")
    firing = r.text(incident, "status", "event.data") != "resolved"
    return [Alert("pagerduty", starts, {k: v for k, v in labels.items() if v}, firing)]


def _is_alertmanager(data: Mapping[str, Any]) -> bool:
    return data.get("version") == "4" and "alerts" in data and "orgId" not in data


def _is_grafana(data: Mapping[str, Any]) -> bool:
    return "alerts" in data and "orgId" in data


def _is_pagerduty(data: Mapping[str, Any]) -> bool:
    event = data.get("event")
    return isinstance(event, Mapping) and "event_type" in event and "data" in event


# kind -> (recognises the payload's shape, parses it)
ALERT_KINDS: dict[
    str, tuple[Callable[[Mapping[str, Any]], bool], Callable[[Payload], list[Alert]]]
] = {
    "alertmanager": (_is_alertmanager, alertmanager),
    "grafana": (_is_grafana, grafana),
    "pagerduty": (_is_pagerduty, pagerduty),
}


def parse_alert(payload: Payload) -> list[Alert]:
    """The alerts of a webhook payload, its kind told by its shape."""
    data = payload.data
    if isinstance(data, Mapping):
        for _kind, (recognises, parse) in ALERT_KINDS.items():
            if recognises(data):
                return parse(payload)
    keys = ", ".join(sorted(map(str, data))[:8]) if isinstance(data, Mapping) else "not an object"
    raise ConsoleError(
        f"--alert {payload.source}: not an alert webhook this console reads (top-level keys: "
        f'{keys}); expected an Alertmanager webhook (version "4", alerts), a Grafana alerting '
        "webhook (orgId, alerts) or a PagerDuty v3 webhook (event.event_type, event.data)"
    )


@dataclass(frozen=True)
class Routed:
    alert: Alert
    route: AlertRoute


def _matches(route: AlertRoute, labels: Mapping[str, str]) -> bool:
    return all(name in labels and fnmatchcase(labels[name], want) for name, want in route.match)


def route(
    alerts: list[Alert], routes: tuple[AlertRoute, ...], source: str, playbook: str
) -> Routed:
    """The earliest firing alert that an [[alerts.map]] entry matches (the first entry in
    playbook order), with that entry; a resolved alert counts only when none is firing."""
    firing = [a for a in alerts if a.firing] or alerts
    for alert in sorted(firing, key=lambda a: a.starts_at):
        for candidate in routes:
            if _matches(candidate, alert.labels):
                return Routed(alert, candidate)
    shown = "; ".join(json.dumps(a.labels, sort_keys=True) for a in firing[:5])
    raise ConsoleError(
        f"--alert {source}: no [[alerts.map]] entry of {playbook} matches the alert's labels "
        f"{shown} (add one under the playbook key alerts.map, or give --metric and --alert-at)"
    )


def redacted(data: Any) -> Any:
    """The payload with secrets removed (module docstring): URLs lose their query string,
    fragment and user:password; PagerDuty's conference_bridge is dropped."""
    if isinstance(data, Mapping):
        return {k: redacted(v) for k, v in data.items() if k != "conference_bridge"}
    if isinstance(data, list):
        return [redacted(v) for v in data]
    if isinstance(data, str) and data.startswith(("http://", "https://")):
        try:
            parts = urlsplit(data)
            host = parts.hostname or ""
            port = f":{parts.port}" if parts.port else ""
        except ValueError:  # not a URL after all (a bad port): keep nothing of it
            return "(redacted: not a URL)"
        return urlunsplit((parts.scheme, host + port, parts.path, "", ""))
    return data
