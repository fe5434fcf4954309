"""Which change events count for an incident, and how much each one weighs.

A change event counts from the start of the lookback (Context.lookback: the playbook's
`[windows] lookback` before the incident, by default from the end of the baseline window) to
the end of the incident window.

Not every event in the lookback weighs the same: a deploy an hour before the window is a
better suspect than one three days before. An event in the window, or at most one incident
length before it, weighs 1; an older one weighs exp(-(age - L) / L), where age is how long
before the window it happened and L the incident's length (one more incident length back
weighs 0.37, two 0.14). Locate scales a change's points by this weight; the broken-versus-world
verdict (console.engine.verdict) uses it for events whose time it cannot check against the
shift's onset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from console.engine.context import Context
from console.engine.results import ChangeEvent


@dataclass(frozen=True)
class Weighed:
    event: ChangeEvent
    weight: float  # 0..1: 1 in or just before the window, less the older it is


def proximity(ctx: Context, event: ChangeEvent) -> float:
    """The weight of an event by how long before the incident window it happened."""
    length = ctx.incident.end - ctx.incident.start
    age = ctx.incident.start - event.ts
    if age <= length:
        return 1.0
    return math.exp(-(age - length) / max(length, timedelta(seconds=1)))


def weighed_changes(ctx: Context, node: str) -> list[Weighed]:
    """The change events on node in the lookback, oldest first, with their weights."""
    return [Weighed(c, proximity(ctx, c)) for c in ctx.changes_near(node)]


def describe_age(ctx: Context, event: ChangeEvent) -> str:
    """How long before the incident window an event happened, in words."""
    age = ctx.incident.start - event.ts
    if age <= timedelta(0):
        return "in the incident window"
    hours = age.total_seconds() / 3600
    return f"{hours:.1f} h before the incident window"
