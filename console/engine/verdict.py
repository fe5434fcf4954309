"""Broken pipeline or changing world: the evidence table behind the call on a shifted node.

A distribution that moved says a node shifted, not why. Our pipeline may have broken (a vendor
sends another unit, a deploy writes a default, one client version garbles a field), or the
world may have changed (a storm, a holiday, a cup final). The change log is one piece of
evidence, not the verdict: vendors change things without telling anyone, innocent deploys
happen every hour, and the world changes on its own.

judge() measures each signal of SIGNALS on the node and sums its points per side; the node is
called broken only when the pipeline side outweighs the world side (a tie, or no evidence at
all, leaves it to the world: a shift with nothing wrong in it is the world moving until the
data says otherwise). Each finding is kept with its numbers, for and against, so the reasons
say which evidence decided. docs/engine.md's evidence table is tested against SIGNALS.

Change events are judged by time, not by presence: an event can have produced the shift only
if it happened before the shift began (its onset, console.engine.onset) and not long before
it. An event on the node or on a pipeline node that computes it supports "broken"; an event on
an external node upstream is a logged change of the world and supports "world".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from console.engine.change_events import proximity
from console.engine.context import Context
from console.engine.onset import Onset, measure_onset
from console.engine.plausibility import Plausibility, measure_plausibility
from console.engine.producers import Concentration, measure_concentration
from console.engine.results import ChangeEvent, Confidence, Result
from console.engine.screening import screen
from console.engine.triage import SMALL_EFFECT
from console.errors import ConsoleError
from console.playbook.graph import causes

Side = Literal["broken", "world"]


@dataclass(frozen=True)
class Signal:
    """One kind of evidence: the side it supports and the most points it earns (a change
    event earns them times how well its time fits the onset)."""

    key: str
    side: Side
    points: float
    meaning: str


SIGNALS: tuple[Signal, ...] = (
    Signal(
        "implausible_values", "broken", 2.0,
        "values a unit factor away (x10, x100, x1000, miles/km...), outside the node's "
        "declared valid range, or sentinels (0, -1, declared ones) standing in for missing",
    ),
    Signal(
        "one_producer", "broken", 2.0,
        "the shift is concentrated in one producer (segment, source, site, client version, "
        "shard, model version) while the others are unmoved",
    ),
    Signal(
        "reference_disagrees", "broken", 2.0,
        "served values disagree with the reference recomputed from raw inputs",
    ),
    Signal("missing_jump", "broken", 2.0, "missing values jumped (Cohen's h >= 0.2)"),
    Signal("new_categories", "broken", 1.0, "categories never seen in the baseline appear"),
    Signal(
        "change_fits", "broken", 2.0,
        "a change event on the node (or on a pipeline node that computes it) just before the "
        "shift's onset; x1.0 on the node itself, x0.75 upstream, times its time fit",
    ),
    Signal(
        "world_change_logged", "world", 2.0,
        "a change event on an external node upstream (a logged change of the world) just "
        "before the shift's onset, times its time fit",
    ),
    Signal(
        "siblings_moved", "world", 2.0,
        "other inputs under the same external node moved as well (effect size >= 0.2 for at "
        "least half of them)",
    ),
    Signal("spread", "world", 1.0, "the shift shows in most producers, not in one"),
    Signal(
        "plausible_values", "world", 0.5,
        "numeric values in range, in the same units and without sentinels",
    ),
    Signal(
        "no_fitting_change", "world", 0.5,
        "no change event on the node or its pipeline causes fits the onset (weak: vendors "
        "change things without telling anyone)",
    ),
)  # fmt: skip
SIGNAL = {s.key: s for s in SIGNALS}
# A change event upstream is one step removed from the shifted node.
UPSTREAM_FIT = 0.75
# A change event fits its shift when it comes before the end of the onset's bucket (the onset
# is the start of the first bucket that shows the shift, and its cause may land anywhere in
# that bucket) ...
# ... and its fit decays, one incident length at a time, the longer before the onset it came.
HIGH_CONFIDENCE = 3  # agreeing signals (with none against) for a high confidence


@dataclass(frozen=True)
class Finding(Result):
    key: str  # a Signal key
    side: Side
    points: float
    detail: str  # the numbers behind it, plain text


@dataclass(frozen=True)
class Judgement(Result):
    node: str
    call: Side
    broken_points: float
    world_points: float
    findings: list[Finding]
    onset: datetime | None
    external: str | None  # the external node the world evidence points to
    confidence: Confidence
    agreeing: int  # signals on the side of the call
    against: int  # signals on the other side
    notes: list[str] = field(default_factory=list)  # measurements that could not be made

    def reasons(self) -> list[str]:
        """The decision, then each finding for and against, with its numbers."""
        head = (
            f"{self.node}: {'a broken pipeline' if self.call == 'broken' else 'the world changed'}"
            f" (pipeline evidence {self.broken_points:.2f} vs world evidence "
            f"{self.world_points:.2f}; {self.agreeing} signal(s) for, {self.against} against; "
            f"confidence {self.confidence})"
        )
        lines = [head]
        for f in sorted(self.findings, key=lambda f: (f.side != self.call, -f.points)):
            stance = "for" if f.side == self.call else "against"
            lines.append(f"{stance}: {f.key} +{f.points:.2f} ({f.side}): {f.detail}")
        return lines + self.notes


def judge(ctx: Context, node_id: str) -> Judgement:
    """Weigh the evidence on a shifted node: our pipeline broke, or the world changed."""
    cache = ctx.cache.setdefault("judgements", {})
    if node_id in cache:
        cached: Judgement = cache[node_id]
        return cached
    findings: list[Finding] = []
    notes: list[str] = []
    onset = _measured(notes, "onset", lambda: measure_onset(ctx, node_id))
    plausible = _measured(notes, "plausibility", lambda: measure_plausibility(ctx, node_id))
    spread = _measured(notes, "producers", lambda: measure_concentration(ctx, node_id))
    findings += _value_findings(ctx, node_id, plausible)
    findings += _producer_findings(spread)
    findings += _screening_findings(ctx, node_id)
    at = onset.at if onset is not None else None
    findings += _change_findings(ctx, node_id, at, rise_start(onset))
    siblings, external = _siblings(ctx, node_id)
    findings += siblings
    broken = sum(f.points for f in findings if f.side == "broken")
    world = sum(f.points for f in findings if f.side == "world")
    call: Side = "broken" if broken > world else "world"
    agreeing = sum(1 for f in findings if f.side == call and f.points > 0)
    against = sum(1 for f in findings if f.side != call and f.points > 0)
    judgement = Judgement(
        node=node_id,
        call=call,
        broken_points=round(broken, 4),
        world_points=round(world, 4),
        findings=findings,
        onset=at,
        external=external if call == "world" else None,
        confidence=confidence(agreeing, against),
        agreeing=agreeing,
        against=against,
        notes=notes,
    )
    cache[node_id] = judgement
    return judgement


def confidence(agreeing: int, against: int) -> Confidence:
    """How many independent signals agree: high with HIGH_CONFIDENCE or more and none
    against; medium with at least two, outnumbering those against; low otherwise. One rule
    for a judgement and for the automatic run's conclusion (console.engine.auto)."""
    if agreeing >= HIGH_CONFIDENCE and against == 0:
        return "high"
    if agreeing >= 2 and agreeing > against:
        return "medium"
    return "low"


def _measured(notes: list[str], what: str, measure: Any) -> Any:
    """A measurement, or None with a note when the telemetry does not allow it."""
    try:
        return measure()
    except ConsoleError as exc:
        notes.append(f"{what} not measured: {exc}")
        return None


def _finding(key: str, detail: str, scale: float = 1.0) -> Finding:
    signal = SIGNAL[key]
    return Finding(key, signal.side, round(signal.points * scale, 4), detail)


# -- the values ------------------------------------------------------------------------------


def _value_findings(ctx: Context, node_id: str, p: Plausibility | None) -> list[Finding]:
    if p is None:
        return []
    if p.implausible:
        return [_finding("implausible_values", "; ".join(p.reasons))]
    if ctx.node(node_id).type == "numeric" and p.n_incident >= 30:
        return [_finding("plausible_values", "; ".join(p.reasons) or "nothing implausible")]
    return []


def _producer_findings(c: Concentration | None) -> list[Finding]:
    if c is None or not c.columns:
        return []
    if c.column is not None:
        detail = (
            f"{c.column} = {c.value!r} moved by effect size {_num(c.effect_in)} while its other "
            f"values moved at most {_num(c.effect_others)}"
        )
        return [_finding("one_producer", detail)]
    if c.spread:
        # The first reason is the headline; the rest detail each producer column.
        return [_finding("spread", c.reasons[0] if c.reasons else "it shows in most producers")]
    return []


def _screening_findings(ctx: Context, node_id: str) -> list[Finding]:
    screening = screen(ctx)
    out = []
    item = screening.get(node_id)
    mismatch = screening.get(f"mismatch:{node_id}")
    if mismatch is not None and mismatch.mean_incident is not None:
        base = mismatch.mean_baseline or 0.0
        if mismatch.mean_incident - base > 0.01:
            out.append(
                _finding(
                    "reference_disagrees",
                    f"served differs from the reference on {mismatch.mean_incident:.1%} of "
                    f"incident rows (baseline {base:.1%})",
                )
            )
    if item is not None and item.null_effect is not None and item.null_effect >= SMALL_EFFECT:
        out.append(
            _finding(
                "missing_jump",
                f"missing values {item.null_rate_baseline or 0:.1%} -> "
                f"{item.null_rate_incident or 0:.1%} (Cohen's h {item.null_effect:.2f})",
            )
        )
    if item is not None and item.kind == "categorical" and item.new_categories:
        shown = ", ".join(repr(c) for c in item.new_categories[:4])
        out.append(_finding("new_categories", f"never seen in the baseline: {shown}"))
    return out


# -- change events ----------------------------------------------------------------------------


def rise_start(onset: Onset | None) -> datetime | None:
    """Where the shift may have begun: the first bucket of the unbroken run of buckets that
    deviate in the shift's direction and end at the onset. The onset is where a move became
    detectable; a move that builds up (overnight, as traffic grows) began earlier, and nothing
    says where before the last bucket that did not lean its way at all."""
    if onset is None or onset.at is None:
        return None
    devs = dict(onset.buckets)
    sign = math.copysign(1.0, devs.get(onset.at) or 1.0)
    start = onset.at
    for ts, dev in sorted((b for b in onset.buckets if b[0] < onset.at), reverse=True):
        if dev is None or dev * sign <= 0:
            break
        start = ts
    return start


def time_fit(
    ctx: Context, event: ChangeEvent, onset: datetime | None, since: datetime | None = None
) -> float:
    """How well an event's time fits the shift: 0 from the end of the onset's bucket (the
    shift had begun: it cannot have caused it), 1 from one bucket before the shift's rise
    (`since`, rise_start; the onset when not given) up to then, less the longer before it
    came. Without an onset, its proximity to the incident window
    (console.engine.change_events)."""
    if onset is None:
        return proximity(ctx, event)
    bucket = ctx.playbook.triage.bucket
    if event.ts >= onset + bucket:
        return 0.0
    gap = min(since or onset, onset) - bucket - event.ts
    if gap <= timedelta(0):
        return 1.0
    length = ctx.incident.end - ctx.incident.start
    return math.exp(-gap / max(length, timedelta(seconds=1)))


def _change_findings(
    ctx: Context, node_id: str, onset: datetime | None, since: datetime | None
) -> list[Finding]:
    graph = ctx.causal()
    upstream = causes(graph, node_id)  # the node and everything that causes it
    best: dict[str, tuple[float, str]] = {}
    for event in ctx.changes():
        if event.node not in upstream or event.node not in ctx.playbook.nodes:
            continue
        if not ctx.lookback().start <= event.ts < ctx.incident.end:
            continue
        fit = time_fit(ctx, event, onset, since)
        external = ctx.node(event.node).kind == "external"
        key = "world_change_logged" if external else "change_fits"
        scale = fit * (1.0 if external or event.node == node_id else UPSTREAM_FIT)
        when = _when(event, onset)
        detail = (
            f"{event.kind} on {event.node} at {event.ts:%Y-%m-%d %H:%M}Z ({when}, fit "
            f"{fit:.2f}): {event.summary}"
        )
        if scale > best.get(key, (-1.0, ""))[0]:
            best[key] = (scale, detail)
    out = [_finding(key, detail, scale) for key, (scale, detail) in best.items() if scale > 0]
    if best.get("change_fits", (0.0, ""))[0] <= 0:
        late = best.get("change_fits")
        detail = "no change event on it or its pipeline causes in the lookback"
        if late is not None:
            detail = f"the nearest change came after the shift began: {late[1]}"
        out.append(_finding("no_fitting_change", detail))
    return out


def _when(event: ChangeEvent, onset: datetime | None) -> str:
    if onset is None:
        return "onset not measured"
    hours = (event.ts - onset).total_seconds() / 3600
    if hours >= 0:
        return f"{hours:.1f} h after the onset at {onset:%Y-%m-%d %H:%M}Z"
    return f"{-hours:.1f} h before the onset at {onset:%Y-%m-%d %H:%M}Z"


# -- the graph --------------------------------------------------------------------------------


def _siblings(ctx: Context, node_id: str) -> tuple[list[Finding], str | None]:
    """Whether the other observed children of the node's external causes moved too, and the
    external node the evidence points to (the one with the most other children moving with
    it, then the largest share of them; a logged change on it breaking ties)."""
    graph = ctx.causal()
    screening = screen(ctx)
    externals = [n for n in causes(graph, node_id) if ctx.node(n).kind == "external"]
    best: tuple[float, str, list[tuple[str, float]]] | None = None
    for ext in externals:
        children = [
            c
            for c in graph.successors(ext)
            if c != node_id and c in screening and ctx.node(c).kind != "external"
        ]
        moved = [(c, screening[c].magnitude) for c in children]
        together = [m for m in moved if m[1] >= SMALL_EFFECT]
        logged = bool(ctx.changes_near(ext))
        share = len(together) / len(moved) if moved else 0.0
        # More inputs moving together is stronger evidence than a larger share of fewer; a
        # logged change of that world, and being a direct cause, break ties.
        score = len(together) + share + (0.5 if logged else 0.0)
        score += 0.01 if node_id in graph.successors(ext) else 0.0
        if best is None or score > best[0]:
            best = (score, ext, moved)
    if best is None:
        return [], None
    _, ext, moved = best
    together = [m for m in moved if m[1] >= SMALL_EFFECT]
    if moved and together and len(together) * 2 >= len(moved):
        shown = ", ".join(f"{c} {m:.2f}" for c, m in sorted(together, key=lambda t: -t[1]))
        detail = f"under {ext}, {len(together)} of {len(moved)} other inputs moved: {shown}"
        return [_finding("siblings_moved", detail)], ext
    return [], ext


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
