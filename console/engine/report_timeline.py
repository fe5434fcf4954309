"""The report's timeline: what happened to the system and what people did, in one list.

Change events (from the lookback to the end of the incident window, and the fix), the start of
the incident window, the alert and the post-fix window are merged with the entries people made
(the incident opened, roles, calls on the anomaly and on edges, notes, corrections, proposals,
validations, failures), sorted by time and shown in the chosen zone to the second. Telemetry
times and trail times are both UTC instants, so the merge is chronological even when a game day
replays old telemetry (its people's entries then all come after the alert).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.audit.entry import parse_ts
from console.audit.vocabulary import Action, Step, View, summary
from console.engine.report_clock import Clock
from console.engine.report_trail import TrailRead
from console.text import md_cell, md_code

if TYPE_CHECKING:
    from console.engine.investigation import Investigation

# A stored entry as a dict -> the same entry with its sensitive values hashed.
Redact = Callable[[dict[str, Any]], dict[str, Any]]
Row = tuple[datetime, str, str]  # when, who, what (report text)


def timeline_rows(inv: Investigation, read: TrailRead, redact: Redact) -> list[Row]:
    ctx = inv.ctx
    v = inv.validation
    rows: list[Row] = [
        (c.ts, md_cell(c.actor), f"{md_cell(c.kind)} on {md_code(c.node)}: {md_cell(c.summary)}")
        for c in ctx.changes()
        if ctx.lookback().start <= c.ts < ctx.incident.end or (v and c.ts == v.window.start)
    ]
    rows.append((ctx.incident.start, "-", "incident window starts"))
    rows.append((ctx.alert_at, "-", f"alert on {md_code(ctx.metric)}"))
    if v is not None:
        rows.append((v.window.start, "-", "post-fix window starts"))
    for e in read.events:
        if (e.step, e.action) == (Step.SESSION, Action.ALERT):
            continue  # the alert itself is listed at alert_at
        where = "" if e.step in (Step.SESSION, Step.NOTE) else f"{md_cell(e.step)}: "
        rows.append((parse_ts(e.ts), md_cell(e.actor), where + md_cell(_what(e, redact))))
    rows.sort(key=lambda r: r[0])  # stable: at equal times, system events come first
    return rows


def _what(e: View, redact: Redact) -> str:
    """What the entry did; the incident's opening and a validation in words a reader wants
    (the trail's summary of them lists every parameter)."""
    if (e.step, e.action) == (Step.SESSION, Action.OPEN):
        return "opened the incident in the console"
    if (e.step, e.action) == (Step.VALIDATE, Action.POSTFIX):
        recovered = e.result.get("recovered") is True
        return "post-fix validation: the metric " + (
            "recovered" if recovered else "did not recover"
        )
    return summary(redact(e._asdict()))


def timeline_section(rows: list[Row], clock: Clock) -> list[str]:
    lines = [f"| Time ({clock.name}) | Who | What |", "|---|---|---|"]
    lines += [f"| {clock.at(ts)} | {who} | {what} |" for ts, who, what in rows]
    return lines
