"""The incident's key times, each with its definition and source, and the durations between.

    started       the trigger's change event (the earliest change since the baseline ended on
                  the root cause or its direct causes), else the start of the incident window
    detected      the alert (the incident's alert_at)
    acknowledged  the incident opened: the trail's ("session", "open") entry
    identified    the root cause marked: the latest ("intervene", "mark_edge") entry marking the
                  root-cause edge broken or external
    mitigated     the fix's change event: the change event at the start of the post-fix window
    resolved      the validation that saw the metric recover: the latest ("validate",
                  "postfix") entry, when it says recovered

Durations: time to detect = detected - started; to acknowledge = acknowledged - detected; to
identify, to mitigate and to resolve are measured from detected (what the response controls).
Change events and the alert are in the telemetry's clock; acknowledged, identified and resolved
are when people acted (the trail's clock). A game day replays old telemetry, so there the
durations that mix the two clocks are the replay's, not the original incident's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from console.audit.entry import parse_ts
from console.audit.vocabulary import CAUSE_MARKS, Action, EdgeMark, Step
from console.engine.locate import root_node
from console.engine.report_clock import Clock, span
from console.engine.report_trail import TrailRead
from console.engine.results import ChangeEvent
from console.playbook.graph import causal_parents
from console.text import md_text

if TYPE_CHECKING:
    from console.engine.investigation import Investigation

Found = tuple[tuple[str, str], str] | None


@dataclass(frozen=True)
class KeyTime:
    name: str
    at: datetime | None
    source: str  # where the time comes from, or why it is not determined (report text)


def trigger_events(inv: Investigation, edge: tuple[str, str], mark: str) -> list[ChangeEvent]:
    """Change events since the baseline ended on the root cause and its direct causes: the
    baseline was healthy, so any of them may be the trigger (a memory limit lowered the
    evening before bites at the next peak)."""
    ctx = inv.ctx
    if mark == "external":
        nodes = set(edge)
    else:
        node = root_node(ctx, ctx.edge(*edge))
        nodes = {node, *causal_parents(ctx.graph, node)}
    return [c for c in ctx.changes() if c.node in nodes and ctx.baseline.end <= c.ts < inv.alert_at]


def fix_event(inv: Investigation) -> ChangeEvent | None:
    """The change event the post-fix window starts at, when validation ran from one."""
    v = inv.validation
    if v is None:
        return None
    return next((c for c in inv.ctx.changes() if c.ts == v.window.start), None)


def key_times(inv: Investigation, read: TrailRead, found: Found) -> list[KeyTime]:
    ctx = inv.ctx
    triggers = trigger_events(inv, *found) if found is not None else []
    if triggers:
        c = triggers[0]
        started = KeyTime("started", c.ts, f"the trigger: {md_text(c.kind)} on {md_text(c.node)}")
    else:
        started = KeyTime("started", ctx.incident.start, "the incident window starts (no trigger)")
    opened = next(
        (e for e in read.events if (e.step, e.action) == (Step.SESSION, Action.OPEN)), None
    )
    acknowledged = (
        KeyTime("acknowledged", parse_ts(opened.ts), f"entry {opened.seq} opens the incident")
        if opened is not None
        else KeyTime("acknowledged", None, "no entry opens the incident")
    )
    marks = [m for e in read.events if (m := EdgeMark.from_entry(e)) is not None]
    cause = [m for m in marks if found is not None and m.edge == found[0]]
    identified = (
        KeyTime("identified", parse_ts(cause[-1].ts), f"entry {cause[-1].seq} marks it")
        if cause and cause[-1].mark in CAUSE_MARKS
        else KeyTime("identified", None, "no edge was marked broken or external")
    )
    fix = fix_event(inv)
    mitigated = (
        KeyTime("mitigated", fix.ts, f"the fix: {md_text(fix.kind)} on {md_text(fix.node)}")
        if fix is not None
        else KeyTime("mitigated", None, "no post-fix window started at a change event")
    )
    postfix = [e for e in read.events if (e.step, e.action) == (Step.VALIDATE, Action.POSTFIX)]
    resolved = (
        KeyTime("resolved", parse_ts(postfix[-1].ts), f"entry {postfix[-1].seq}: recovered")
        if postfix and postfix[-1].result.get("recovered") is True
        else KeyTime("resolved", None, "no validation saw the metric recover")
    )
    return [
        started,
        KeyTime("detected", inv.alert_at, f"the alert on {md_text(ctx.metric)}"),
        acknowledged,
        identified,
        mitigated,
        resolved,
    ]


DEFINITIONS = (
    "Definitions: started is the trigger's change event (else the incident window's start); "
    "detected the alert; acknowledged the incident opened in the console; identified the root "
    "cause marked; mitigated the fix's change event; resolved the validation that saw the "
    "metric recover. Change events and the alert are telemetry times, the others the trail's; "
    "durations run from detected, but time to detect (from started)."
)
# (name, from, to): the durations the section lists.
DURATIONS = (
    ("time to detect", "started", "detected"),
    ("time to acknowledge", "detected", "acknowledged"),
    ("time to identify", "detected", "identified"),
    ("time to mitigate", "detected", "mitigated"),
    ("time to resolve", "detected", "resolved"),
)


def key_times_section(times: list[KeyTime], clock: Clock) -> list[str]:
    lines = ["| Key time | When | Source |", "|---|---|---|"]
    for t in times:
        when = clock.at(t.at) if t.at is not None else "Not determined"
        lines.append(f"| {t.name} | {when} | {t.source} |")
    by_name = {t.name: t.at for t in times}
    lines += ["", "| Duration | Value | Between |", "|---|---|---|"]
    for name, start, end in DURATIONS:
        a, b = by_name[start], by_name[end]
        value = span(b - a) if a is not None and b is not None else "Not determined"
        lines.append(f"| {name} | {value} | {start} to {end} |")
    lines += ["", DEFINITIONS]
    return lines
