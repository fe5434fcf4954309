"""The playbook's intake mappings: which node a change event touches, which metric an alert is
about. docs/intake.md is the format; console/intake reads these to import change events and
alerts.

    [changes.map]                     # name (or glob) -> node id; the first entry that
    "fraud-scorer" = "model_server"   # matches one of an event's names wins
    "payments/feature-*" = "f_amount"

    [[alerts.map]]                    # the first entry whose labels all match wins
    match = {alertname = "DeclineRateHigh"}
    metric = "decline_rate"

Kept apart from loader.py (which only calls `intake_config`) so the intake format has one home.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from console.playbook.values import ProblemLog, describe, quote, suggestion

CHANGES_KEYS = ("map",)
ALERTS_KEYS = ("map",)
ALERT_ROUTE_KEYS = ("match", "metric")


class _NodeLike(Protocol):
    @property
    def kind(self) -> str: ...


@dataclass(frozen=True)
class AlertRoute:
    """One [[alerts.map]] entry: the labels an alert must carry (each value exact or a glob)
    and the metric node it points at."""

    match: tuple[tuple[str, str], ...]
    metric: str
    key: str  # its playbook key, for messages: alerts.map[0]


@dataclass(frozen=True)
class IntakeConfig:
    # (name or glob, node id) in the playbook's order: the order is the priority.
    change_map: tuple[tuple[str, str], ...] = ()
    alert_routes: tuple[AlertRoute, ...] = ()


def intake_config(
    log: ProblemLog, data: Mapping[str, Any], nodes: Mapping[str, _NodeLike]
) -> IntakeConfig:
    """[changes] and [alerts] of a parsed playbook, with every problem in log."""
    return IntakeConfig(
        change_map=_change_map(log, data.get("changes", {}), nodes),
        alert_routes=_alert_routes(log, data.get("alerts", {}), nodes),
    )


def _node_problem(node: str, nodes: Mapping[str, _NodeLike]) -> str | None:
    if node in nodes or not nodes:  # no valid node at all: that is reported already
        return None
    return f"unknown node {quote(node)}{suggestion(node, nodes)}"


def _change_map(
    log: ProblemLog, value: Any, nodes: Mapping[str, _NodeLike]
) -> tuple[tuple[str, str], ...]:
    table = log.table(value, "changes") or {}
    log.known_keys(table, "changes", CHANGES_KEYS)
    mapping = log.table(table.get("map", {}), "changes.map") or {}
    entries: list[tuple[str, str]] = []
    for name, node in mapping.items():
        where = f"changes.map.{quote(name)}"
        if not name.strip():
            log.add(f"{where}: the name must not be empty")
        elif not isinstance(node, str):
            log.add(f"{where}: expected a node id, got {describe(node)}")
        elif problem := _node_problem(node, nodes):
            log.add(f"{where} = {quote(node)}: {problem}")
        else:
            entries.append((name, node))
    return tuple(entries)


def _alert_routes(
    log: ProblemLog, value: Any, nodes: Mapping[str, _NodeLike]
) -> tuple[AlertRoute, ...]:
    table = log.table(value, "alerts") or {}
    log.known_keys(table, "alerts", ALERTS_KEYS)
    items = table.get("map", [])
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        log.add(f"alerts.map: expected an array of tables ([[alerts.map]]), got {describe(items)}")
        return ()
    routes: list[AlertRoute] = []
    for index, item in enumerate(items):
        where = f"alerts.map[{index}]"
        log.known_keys(item, where, ALERT_ROUTE_KEYS)
        metric = log.string(item, "metric", where, required=True, non_empty=True)
        if "match" not in item:
            log.add(f"{where}.match: required key is missing")
            continue
        match = log.table(item["match"], f"{where}.match")
        if match is None:
            continue
        pairs = [(k, v) for k, v in match.items() if isinstance(v, str)]
        for k, v in match.items():
            if not isinstance(v, str):
                log.add(f"{where}.match.{k}: expected a string, got {describe(v)}")
        if not match:
            log.add(f"{where}.match: must name at least one label (an empty match takes all)")
        if metric and (problem := _node_problem(metric, nodes)):
            log.add(f"{where}.metric = {quote(metric)}: {problem}")
        elif metric in nodes and nodes[metric].kind != "metric":
            log.add(
                f"{where}.metric = {quote(metric)}: must name a node of kind metric, "
                f"not {nodes[metric].kind}"
            )
        elif metric:
            routes.append(AlertRoute(tuple(pairs), metric, where))
    return tuple(routes)
