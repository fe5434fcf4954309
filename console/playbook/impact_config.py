"""The playbook's [impact] table: what the business loses per decision the fault changed and per
event the metric counts, so the report can state the impact in money (or any unit) with its
formula. docs/report.md ("Impact in business terms") is the format; the report's Impact section
reads it (console/engine/report_impact.py). Optional: without it the report gives counts only.

    [impact]
    unit = "EUR"
    per_flipped_decision = 38.0          # what one decision the fault changed costs
    flipped_meaning = "a wrong decline"  # how the report names such a decision
    per_metric_event = 0.02              # what one event the metric counts is worth (a click)
    metric_event = "click"

Kept apart from loader.py (which only calls `impact_config`) so the format has one home.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from console.playbook.values import ProblemLog

IMPACT_KEYS = (
    "unit",
    "per_flipped_decision",
    "flipped_meaning",
    "per_metric_event",
    "metric_event",
)


@dataclass(frozen=True)
class ImpactConfig:
    unit: str
    per_flipped_decision: float | None = None
    flipped_meaning: str = "a decision the fault changed"
    per_metric_event: float | None = None
    metric_event: str = "event"


def impact_config(log: ProblemLog, data: Mapping[str, Any]) -> ImpactConfig | None:
    """[impact] of a parsed playbook (None when absent), with every problem in log."""
    if "impact" not in data:
        return None
    table = log.table(data["impact"], "impact")
    if table is None:
        return None
    log.known_keys(table, "impact", IMPACT_KEYS)
    unit = log.string(table, "unit", "impact", required=True, non_empty=True)
    flipped = _value(log, table, "per_flipped_decision")
    event = _value(log, table, "per_metric_event")
    if flipped is None and event is None:
        log.add("impact: give per_flipped_decision, per_metric_event or both")
    return ImpactConfig(
        unit=unit,
        per_flipped_decision=flipped,
        flipped_meaning=log.string(
            table, "flipped_meaning", "impact", default=ImpactConfig.flipped_meaning,
            non_empty=True,
        ),
        per_metric_event=event,
        metric_event=log.string(
            table, "metric_event", "impact", default=ImpactConfig.metric_event, non_empty=True
        ),
    )  # fmt: skip


def _value(log: ProblemLog, table: Mapping[str, Any], key: str) -> float | None:
    """A money value per item, >= 0; None when the key is absent."""
    if key not in table:
        return None
    return float(log.number(table, key, "impact", 0.0, minimum=0.0))
