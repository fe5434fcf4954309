"""Report: a Markdown post-mortem draft at <incident>/report.md, built from the investigation.

docs/report.md is the format. This module builds the sections and writes the files; one idea
per module beside it: key times (report_times), people and roles (report_people), the timeline
(report_timeline), action items and their CSV/JSON (report_actions), communications
(report_comms), impact in business terms (report_impact), figures (report_figures), the HTML
page (report_html), the template (report_template), times in the chosen zone (report_clock)
and the one pass over the trail they share (report_trail).

The sections follow the Google SRE example post-mortem (title, status, summary, impact, root
causes, trigger, detection, resolution, action items, lessons learned - what went well, what
went wrong, where we got lucky - and a timeline in the chosen zone), followed by the causal
path from the sources through the root cause to the metric, the interventions (details in an
appendix), the blast radius, the figures, the investigation log and the trail's head hash and
entry count, so a reader can check the draft against `incident-console trail verify`.

Nothing is left as an empty heading: a section the investigation could not fill says
"Not determined" and why, and a step that failed says "Failed" with its error. The draft tells
what the engineer decided (a rejected playbook update is not an action item). Every piece of
data (notes, change-event summaries, actors, category values, node and column names, errors)
is escaped (console/text.py) so it reads as written and cannot inject Markdown or HTML; values
derived from a sensitive column are shown as the salted hashes the trail exports use. Up to
LOG_LIMIT entries the log lists every entry; past it, the engineer's decisions, marks, notes and
the failures, and a count of the rest by step and action. Written atomically.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from console.audit.export import Redactor, action_of, read_lines, recorded_sensitive
from console.audit.verification import TRAIL_FILE
from console.audit.vocabulary import STEPS, Action, ProposalDecision, Step, summary
from console.engine.context import read_scenario_hints
from console.engine.report_actions import (
    ACTIONS_CSV,
    ACTIONS_JSON,
    MARKDOWN,
    PLAIN,
    action_items,
    items_table,
    write_items,
)
from console.engine.report_clock import Clock
from console.engine.report_comms import comms_section
from console.engine.report_figures import FIGURES_DIR, Figure, draw_figures
from console.engine.report_html import HTML_FILE, to_html
from console.engine.report_impact import business_lines
from console.engine.report_people import people_section
from console.engine.report_template import render_template, template_for
from console.engine.report_timeline import timeline_rows, timeline_section
from console.engine.report_times import key_times, key_times_section, trigger_events
from console.engine.report_trail import TrailRead
from console.engine.results import BlastRadius, ChangeEvent, ReportResult
from console.files import atomic_write
from console.numbers import minutes_or_hours as _hours
from console.numbers import num as _num
from console.numbers import signed_pct
from console.playbook.graph import paths_from_sources
from console.text import md_cell, md_code, md_text

if TYPE_CHECKING:
    from console.engine.investigation import Investigation

REPORT_FILE = "report.md"
NOT_DETERMINED = "Not determined"
# Times outside the zoned sections (title, windows, alert, change events) in UTC, to the second.
_utc = Clock().at
# Up to this many trail entries the log lists them all; past it, it summarises them: a page
# or two of a document, beyond which a reader wants the export, not the table.
LOG_LIMIT = 60
# What the engineer decided or wrote, and what failed: always listed (the latest LOG_LIMIT).
DECISIVE = frozenset(
    {Action.DECIDE, Action.MARK_EDGE, Action.NOTE, Action.CORRECT, Action.ACCEPT_PROPOSAL,
     Action.REJECT_PROPOSAL, Action.FAILED, Action.EXPLAIN_FAILED}
)  # fmt: skip
WANTED = DECISIVE | {Action.POSTFIX}  # postfix: a validation proposes anew
# What Investigation.root_cause() gives: the edge marked broken or external, and its mark.
Cause = tuple[tuple[str, str], str]
Drawn = tuple[list[Figure], list[str]]  # the figures drawn, and why any other was not
Found = Cause | None


def write_report(inv: Investigation, tz: str | None = None) -> ReportResult:
    """report.md, and beside it the figures (figures/), report.html and the action items as
    report.actions.csv / .json (docs/report.md); tz: the zone of the key times, the people,
    the communications, the timeline and the log (default UTC)."""
    head = inv.trail.head()
    d = Draft(inv, head.count, Clock(tz))
    figures = draw_figures(inv, lambda value, edge: d.plain(value, d.about(edge)))
    markdown = render(inv, head.hash, head.count, d, figures)
    write_items(inv.incident_dir, action_items(inv, d.proposal_decision, inv.root_cause(), PLAIN))
    title = markdown.splitlines()[0].lstrip("# ") if markdown else REPORT_FILE
    atomic_write(inv.incident_dir / HTML_FILE, to_html(markdown, title, figures[0]))
    path = inv.incident_dir / REPORT_FILE
    atomic_write(path, markdown)
    return ReportResult(
        path=REPORT_FILE, markdown=markdown, trail_head=head.hash, trail_count=head.count
    )


class Draft:
    """What the report needs besides the investigation's state: the engineer's decisions read
    from the trail, and the redactor for values derived from sensitive columns."""

    def __init__(self, inv: Investigation, head_count: int, clock: Clock) -> None:
        folder = inv.incident_dir
        self.clock = clock
        self.read = TrailRead.read(folder, head_count)
        columns = recorded_sensitive(folder) | frozenset(inv.ctx.playbook.sensitive)
        self.redactor = Redactor.for_trail(folder, columns, None) if columns else None
        self.log: list[dict[str, Any]] = []
        self.others: Counter[str] = Counter()  # the entries not listed, by action
        self.proposal_decision: dict[str, Any] | None = None
        full = head_count <= LOG_LIMIT
        for number, line in enumerate(read_lines(folder), start=1):
            if number > head_count:
                break
            action = action_of(line)
            if not full and action is not None and action not in WANTED:
                self.others[action] += 1  # counted from the bytes, never parsed
                continue
            record = json.loads(line)
            self._note_decision(record)
            if full or record["action"] in DECISIVE:
                self.log.append(record)
            else:
                self.others[record["action"]] += 1
        if len(self.log) > LOG_LIMIT:
            self.others.update(record["action"] for record in self.log[:-LOG_LIMIT])
            self.log = self.log[-LOG_LIMIT:]

    def _note_decision(self, record: dict[str, Any]) -> None:
        # A validation proposes anew; an accept or reject decides the latest proposal.
        if (record["step"], record["action"]) == (Step.VALIDATE, Action.POSTFIX):
            self.proposal_decision = None
        elif ProposalDecision.from_entry(record) is not None:
            self.proposal_decision = record

    def about(self, edge: tuple[str, str] | list[str] | None) -> bool:
        return self.redactor is not None and self.redactor.about({"edge": list(edge or ())})

    def text(self, value: Any, about: bool = False) -> str:
        """Data as inline Markdown: hashed when about a sensitive column, scanned otherwise."""
        return md_text(self.plain(value, about))

    def plain(self, value: Any, about: bool = False) -> str:
        if self.redactor is None:
            return str(value)
        if about:
            return self.redactor.hash(value)
        return self.redactor.text(str(value))


def render(inv: Investigation, head_hash: str, head_count: int, d: Draft, figures: Drawn) -> str:
    """report.md: the sections, laid out by the team's template or the default."""
    sections = build_sections(inv, head_hash, head_count, d, figures)
    context = {"sections": sections, "zone": d.clock.name, "incident": inv.incident_dir.name}
    return render_template(template_for(inv.ctx.playbook.path), context)


def build_sections(
    inv: Investigation, head_hash: str, head_count: int, d: Draft, figures: Drawn
) -> dict[str, str]:
    """Each section's body as escaped Markdown, by the name templates use."""
    ctx = inv.ctx
    pb = ctx.playbook
    hints = read_scenario_hints(inv.telemetry_dir)
    found = inv.root_cause()
    metric = pb.nodes[ctx.metric]
    title = (
        md_text(hints.title)
        if hints.title
        else f"{md_text(pb.model.name)}: {md_code(metric.id)} anomaly at {_utc(ctx.alert_at)}"
    )
    header = [
        f"- **Incident:** {md_text(ctx.incident_dir.resolve().name)}",
        f"- **Model:** {md_text(pb.model.name)} (owner {md_text(pb.model.owner)}; "
        f"on-call {md_text(pb.model.oncall)})",
        f"- **Alert:** {md_text(metric.id)} (series {md_code(metric.series)}) at "
        f"{_utc(ctx.alert_at)}",
        "- **Windows:** "
        + "; ".join(
            f"{md_text(w.name)} {_utc(w.start)} to {_utc(w.end)}" for w in ctx.windows.values()
        ),
        f"- **Drafted:** {_utc(datetime.now(UTC).replace(microsecond=0))} by "
        f"incident-console for {md_text(inv.trail.actor)}",
    ]
    audit = [
        f"- Entries: {head_count} (this report quotes entries 1 to {head_count}; the entry "
        "recording the report follows them)",
        f"- Head hash: `{head_hash}`",
        f"- Check it: {md_code(f'incident-console trail verify {ctx.incident_dir}')}",
    ]
    parts: dict[str, list[str]] = {
        "title": [title],
        "header": header,
        "status": [_status(inv, found)],
        "summary": [_summary(inv, d, found)],
        "key_times": key_times_section(key_times(inv, d.read, found), d.clock),
        "people": people_section(d.read, d.clock),
        "impact": _impact(inv, d),
        "root_causes": _root_causes(inv, d, found),
        "alternatives": _alternatives(inv, d),
        "trigger": [_trigger(inv, found)],
        "detection": [_detection(inv)],
        "resolution": [_resolution(inv, d, found)],
        "communications": comms_section(d.read, d.clock, d.plain),
        "action_items": _action_items(inv, d, found),
        "went_well": _bullets(_went_well(inv, found)),
        "went_wrong": _bullets(_went_wrong(inv, d, found)),
        "lucky": _bullets(_lucky(inv, found)),
        "timeline": timeline_section(timeline_rows(inv, d.read, _redact(d)), d.clock),
        "causal_path": _causal_path(inv, found),
        "interventions": _interventions(inv, d),
        "blast_radius": _blast(inv, d),
        "figures": _figures(figures),
        "log": _log(inv, d, head_count),
        "intervention_details": _intervention_details(inv, d),
        "audit_trail": audit,
    }
    return {name: "\n".join(lines) for name, lines in parts.items()}


# -- sections --------------------------------------------------------------------------------


def _failed(inv: Investigation, step: str) -> str | None:
    """The error of the step's latest failure, as report text, or None."""
    error = inv.failures.get(step)
    return None if error is None else f"Failed: the {step} step failed: {md_text(error)}"


def _status(inv: Investigation, found: Found) -> str:
    v = inv.validation
    failed = [s for s in STEPS if s in inv.failures]
    tail = f" Failed steps: {', '.join(failed)} (see below)." if failed else ""
    if (
        inv.triage_result is not None
        and inv.triage_result.verdict == "false_alarm"
        and found is None
    ):
        return (
            "Closed as a false alarm (draft for review): the decisions did not move; the "
            "metric series did." + tail
        )
    if v is not None:
        state = "recovered" if v.recovered else "not yet recovered"
        return f"Draft. Root cause identified; post-fix validation: {state}." + tail
    if found is not None:
        return "Draft. Root cause identified; the fix has not been validated yet." + tail
    return (
        f"Draft. Root cause {NOT_DETERMINED.lower()}: no edge was marked broken or external." + tail
    )


def _summary(inv: Investigation, d: Draft, found: Found) -> str:
    t = inv.triage_result
    if t is None:
        return _failed(inv, Step.TRIAGE) or (
            f"{NOT_DETERMINED}: triage was not run, so whether the anomaly was real is unknown."
        )
    change = signed_pct(t.relative_change)
    text = (
        f"The {md_code(t.metric)} alert fired at {_utc(inv.alert_at)}. Recomputed from the "
        f"decision records, {md_code(t.metric)} went from {_num(t.baseline_value)} (baseline) to "
        f"{_num(t.incident_value)} in the incident window ({change}; tier {md_text(t.tier)}); "
        f"triage verdict: {md_text(t.verdict.replace('_', ' '))}"
        + (
            f", classified as {md_text(t.classification.replace('_', ' '))}"
            if t.classification
            else ""
        )
        + "."
    )
    if found is not None:
        (source, target), mark = found
        text += f" Root cause: {_describe_cause(inv, (source, target), mark)}."
    elif t.verdict == "false_alarm":
        failed = [md_text(c.name.replace("_", " ")) for c in t.checks if not c.passed]
        text += (
            " The alert came from the metric series itself"
            + (f" ({', '.join(failed)})" if failed else "")
            + ", not from the model's decisions."
        )
    if inv.blast_radius is not None:
        b = inv.blast_radius
        text += (
            f" Correcting it would change {b.flipped} of {b.total} decisions in the incident "
            "window."
        )
    elif Step.COUNTERFACTUAL in inv.failures:
        text += f" The counterfactual failed: {md_text(inv.failures['counterfactual'])}"
    return text


def _edge(edge: tuple[str, str] | list[str]) -> str:
    return f"{md_code(edge[0])} -> {md_code(edge[1])}"


def _describe_cause(inv: Investigation, edge: tuple[str, str], mark: str) -> str:
    pb = inv.ctx.playbook
    e = pb.edge(*edge)
    if mark == "external":
        return (
            f"an external shift on {_edge(edge)} "
            f"({md_text(pb.nodes[edge[0]].description.rstrip('.'))}): "
            "our pipeline computed every feature as designed"
        )
    return f"edge {_edge(edge)} is broken ({md_text(e.mechanism.rstrip('.'))})"


def _impact(inv: Investigation, d: Draft) -> list[str]:
    t = inv.triage_result
    lines = []
    if t is not None and t.baseline_value is not None and t.incident_value is not None:
        change = signed_pct(t.relative_change)
        lines.append(
            f"- {md_code(t.metric)}: {_num(t.baseline_value)} -> {_num(t.incident_value)} "
            f"({change}) over the incident window, tier {md_text(t.tier)}."
        )
    b = inv.blast_radius
    if b is not None:
        share = b.flipped / b.total if b.total else 0.0
        lines.append(
            f"- {b.flipped} of {b.total} decisions in the incident window ({share:.1%}) would "
            f"have been decided differently with the corrected value "
            f"({d.text(b.correction, d.about(b.edge))})."
        )
        for s in b.segments[:3]:
            lines.append(
                f"- Segment {md_code(s.column)} = {d.text(s.value)}: {s.flipped} of {s.total} "
                "decisions flipped."
            )
    failed = _failed(inv, Step.COUNTERFACTUAL)
    if not lines:
        why = (
            "triage was not run"
            if t is None
            else "the metric could not be computed and no blast radius was run"
        )
        lines.append(_failed(inv, Step.TRIAGE) or f"{NOT_DETERMINED}: {why}.")
        if failed:
            lines.append(f"- {failed}")
    elif b is None:
        if failed:
            lines.append(f"- Decisions affected: {failed}")
        else:
            why = (
                "a false alarm changes no decision"
                if t is not None and t.verdict == "false_alarm"
                else "no counterfactual was run (it needs an edge marked broken)"
            )
            lines.append(f"- Decisions affected: {NOT_DETERMINED.lower()}; {why}.")
    return lines + business_lines(inv)


def _root_causes(inv: Investigation, d: Draft, found: Found) -> list[str]:
    if found is None:
        t = inv.triage_result
        if t is not None and t.verdict == "false_alarm":
            return [
                "No fault in the model or its inputs. The reported metric series is defective:",
                *[f"- {md_text(c.name)}: {md_text(c.detail)}" for c in t.checks if not c.passed],
            ]
        failed = [_failed(inv, s) for s in (Step.LOCATE, Step.INTERVENE) if s in inv.failures]
        return [
            f"{NOT_DETERMINED}: no edge was marked broken or external during the investigation.",
            *[f"- {f}" for f in failed],
        ]
    edge, mark = found
    pb = inv.ctx.playbook
    e = pb.edge(*edge)
    tested = inv.interventions.get(edge)
    sensitive = d.about(edge)
    lines = [
        f"- **{'External shift' if mark == 'external' else 'Broken edge'}:** {_edge(edge)} "
        f"(status before the incident: {md_text(e.status)}).",
        f"- **Mechanism:** {md_text(e.mechanism)}",
        f"- **Owner:** {md_text(pb.nodes[edge[0]].owner)} ({md_code(edge[0])}); "
        f"{md_text(pb.nodes[edge[1]].owner)} ({md_code(edge[1])}).",
    ]
    if tested is not None:
        reasons = "; ".join(d.plain(r, sensitive) for r in tested.reasons)
        lines.append(f"- **Shown by:** {md_text(tested.type)}: {md_text(reasons)}")
    c = inv.conclusion
    if c is not None and c.edge == edge:
        if c.explained is not None:
            lines.append(
                f"- **Explains:** {c.explained:.0%} of the model's move since the baseline "
                f"(by {md_text(c.explained_by)}; see Blast radius)."
            )
        lines.append(
            f"- **Confidence:** {md_text(c.confidence)}: {len(c.signals_for)} signal(s) agree, "
            f"{len(c.signals_against)} disagree."
        )
        lines += [f"  - For: {d.text(s)}" for s in c.signals_for]
        lines += [f"  - Against: {d.text(s)}" for s in c.signals_against]
    note = inv.marks.get(edge, ("", ""))[1]
    if note:
        lines.append(f"- **Engineer's note:** {d.text(note, sensitive)}")
    return lines


def _alternatives(inv: Investigation, d: Draft) -> list[str]:
    """The causes the automatic run considered and rejected, with why."""
    c = inv.conclusion
    if c is None:
        return [
            f"{NOT_DETERMINED}: only the automatic run (`investigate --auto`) records the "
            "alternatives it rejected; the Interventions section lists every edge tested."
        ]
    lines = [
        f"{len(c.alternatives)} alternative(s) considered "
        f"(conclusion: {md_text(c.kind.replace('_', ' '))}).",
    ]
    if c.gaps:
        lines += ["", *[f"- Graph gap: {d.text(g)}" for g in c.gaps]]
    if c.alternatives:
        lines += ["", "| Node | Edge | Outcome | Why not |", "|---|---|---|---|"]
        lines += [
            f"| {md_code(a.node)} | {md_cell(a.edge[0] + ' -> ' + a.edge[1])} | "
            f"{md_cell(a.outcome.replace('_', ' '))} | {md_cell(d.plain(a.why, d.about(a.edge)))} |"
            for a in c.alternatives
        ]
    return lines


def _change(c: ChangeEvent) -> str:
    return (
        f"{md_text(c.kind)} on {md_code(c.node)} at {_utc(c.ts)}: {md_text(c.summary)} "
        f"({md_text(c.actor)})"
    )


def _trigger(inv: Investigation, found: Found) -> str:
    if found is None:
        t = inv.triage_result
        if t is not None and t.verdict == "false_alarm":
            events = [
                c
                for c in inv.ctx.changes()
                if inv.ctx.lookback().start <= c.ts < inv.alert_at and c.node == t.metric
            ]
            if events:
                return "; ".join(_change(c) for c in events)
        return f"{NOT_DETERMINED}: no root cause was marked, so no change event can be tied to it."
    edge, mark = found
    events = trigger_events(inv, edge, mark)
    if not events:
        where = f"{md_code(edge[0])}, {md_code(edge[1])} or their causes"
        if mark == "external":
            return (
                f"{NOT_DETERMINED} in our change log: no change event on {where} since the "
                "baseline window ended; the cause came from outside our systems."
            )
        return (
            f"{NOT_DETERMINED}: no change event on {where} since the baseline window ended; the "
            "change that broke the edge is missing from the change log."
        )
    return "; ".join(_change(c) for c in events)


def _detection(inv: Investigation) -> str:
    node = inv.ctx.playbook.nodes[inv.ctx.metric]
    t = inv.triage_result
    text = (
        f"The {md_code(node.id)} alert (series {md_code(node.series)}) "
        f"fired at {_utc(inv.alert_at)}, {_hours(inv.alert_at - inv.ctx.incident.start)} "
        "after the start of the incident window."
    )
    if t is not None:
        passed = [md_text(c.name) for c in t.checks if c.passed]
        failed = [md_text(c.name) for c in t.checks if not c.passed]
        text += (
            f" Triage checks passed: {', '.join(passed) or 'none'}; "
            f"failed: {', '.join(failed) or 'none'}."
        )
    return text


def _resolution(inv: Investigation, d: Draft, found: Found) -> str:
    v = inv.validation
    decided = _proposal_decided(d)
    if v is not None:
        base = (
            f"Post-fix window {_utc(v.window.start)} to {_utc(v.window.end)}: "
            f"{md_text(v.intervention.type)} on {_edge(v.edge)} is "
            f"{md_text(v.intervention.verdict)}; {md_code(inv.ctx.metric)} baseline "
            f"{_num(v.metric_baseline)}, incident {_num(v.metric_incident)}, post-fix "
            f"{_num(v.metric_postfix)}: {'recovered' if v.recovered else 'not recovered'}."
        )
        fix = [c for c in inv.ctx.changes() if c.ts == v.window.start]
        if fix:
            base = f"{_change(fix[0])}. " + base
        return base + (f" {decided}" if decided else "")
    failed = _failed(inv, Step.VALIDATE)
    if failed:
        return failed
    t = inv.triage_result
    if t is not None and t.verdict == "false_alarm" and found is None:
        return (
            "No change to the model or its inputs is needed; the metrics pipeline must be "
            "repaired (see action items)."
        )
    return (
        f"{NOT_DETERMINED}: the fix was not validated in this investigation (no post-fix check "
        "was run)."
    )


def _proposal_decided(d: Draft) -> str:
    """The engineer's decision on the proposed playbook update, in words ("" when none)."""
    r = ProposalDecision.from_entry(d.proposal_decision) if d.proposal_decision else None
    if r is None:
        return ""
    proposed = md_code(r.proposed or "the proposal")
    if not r.accepted:
        return f"The proposed playbook update {proposed} was rejected by {md_text(r.actor)}."
    return (
        f"The proposed playbook update {proposed} was accepted by {md_text(r.actor)} "
        f"into {md_code(r.authored)}."
    )


def _action_items(inv: Investigation, d: Draft, found: Found) -> list[str]:
    items = action_items(inv, d.proposal_decision, found, MARKDOWN)
    if not items:
        return [
            f"{NOT_DETERMINED}: no root cause was established, so no corrective action can be "
            "named yet."
        ]
    return [
        *items_table(items),
        "",
        f"The same items, plain, for a tracker: [{ACTIONS_CSV}]({ACTIONS_CSV}), "
        f"[{ACTIONS_JSON}]({ACTIONS_JSON}) (fill the ticket field there or here).",
    ]


def _went_well(inv: Investigation, found: Found) -> list[str]:
    out = []
    t = inv.triage_result
    if t is not None:
        out.append(
            f"Triage recomputed {md_code(t.metric)} from the decision records and ran "
            f"{len(t.checks)} checks on the series before anyone acted."
        )
    if found is not None and inv.locate_result is not None:
        ranked = [tuple(c.edge) for c in inv.locate_result.candidates]
        edge, mark = found
        if tuple(edge) in ranked:
            out.append(
                f"The ranking put the root cause's edge at position "
                f"{ranked.index(tuple(edge)) + 1} of {len(ranked)}."
            )
    if inv.interventions:
        out.append(
            f"{len(inv.interventions)} intervention(s) ran read-only on captured telemetry, "
            "each with its evidence kept."
        )
    return out or [f"{NOT_DETERMINED}: no step of the investigation was completed."]


def _went_wrong(inv: Investigation, d: Draft, found: Found) -> list[str]:
    out = []
    if found is not None:
        edge, mark = found
        e = inv.ctx.playbook.edge(*edge)
        if e.status != "verified":
            out.append(
                f"The edge {_edge(edge)} was {md_text(e.status)}: its mechanism had never been "
                "tested."
            )
        for c in trigger_events(inv, edge, mark):
            out.append(
                f'The change "{md_text(c.summary)}" ({md_text(c.actor)}, {_utc(c.ts)}) '
                f"reached production with no check of its effect on {md_code(edge[1])}."
            )
        if mark == "external":
            out.append(
                "The model has no input that tells it about the external event, so it could "
                "not adapt."
            )
    t = inv.triage_result
    if t is not None:
        out += [
            f"The metric series failed the {md_text(c.name)} check: {md_text(c.detail)}"
            for c in t.checks
            if not c.passed
        ]
    out += [_failed(inv, s) or "" for s in STEPS if s in inv.failures]
    return out or [f"{NOT_DETERMINED}: no failure was identified beyond the alert itself."]


def _lucky(inv: Investigation, found: Found) -> list[str]:
    out = []
    v = inv.validation
    if v is not None and v.recovered and found is not None and found[1] == "external":
        out.append("The external shift ended on its own within the post-fix window.")
    t = inv.triage_result
    if t is not None and t.tier == "minor":
        out.append(
            "The anomaly stayed minor: it was caught before it crossed the critical threshold."
        )
    if (
        inv.blast_radius is not None
        and inv.blast_radius.total
        and inv.blast_radius.flipped / inv.blast_radius.total < 0.05
    ):
        out.append("Fewer than 5% of the incident's decisions were affected.")
    return out or [
        f"{NOT_DETERMINED}: nothing in the data shows luck either way; the author should add "
        "what they know."
    ]


def _causal_path(inv: Investigation, found: Found) -> list[str]:
    ctx = inv.ctx
    if found is None:
        return [f"{NOT_DETERMINED}: {_no_cause(inv)}, so there is no path to draw."]
    edge, _ = found
    paths = [p for p in paths_from_sources(ctx.graph, ctx.metric) if _contains(p, edge)]
    if not paths:
        return [f"{_edge(edge)} (not on a causal path to {md_code(ctx.metric)} in the playbook)"]
    lines = []
    for p in paths[:3]:
        shown = [f"**{md_code(n)}**" if n in edge else md_code(n) for n in p]
        lines.append("- " + " -> ".join(shown))
    return lines


def _contains(path: list[str], edge: tuple[str, str]) -> bool:
    return any(a == edge[0] and b == edge[1] for a, b in zip(path, path[1:], strict=False))


def _interventions(inv: Investigation, d: Draft) -> list[str]:
    """One short row per intervention; its reasons and evidence are in the appendix."""
    failed = _failed(inv, Step.INTERVENE)
    if not inv.interventions:
        return [failed or f"{NOT_DETERMINED}: no intervention was run ({_no_cause(inv)})."]
    lines = [
        "| # | Edge | Intervention | Verdict | Rows |",
        "|---|---|---|---|---|",
    ]
    for number, (edge, r) in enumerate(inv.interventions.items(), start=1):
        rows = ", ".join(f"{md_cell(k)} {v}" for k, v in r.rows.items())
        lines.append(
            f"| I{number} | {_edge(edge)} | {md_cell(r.type)} | {md_cell(r.verdict)} | {rows} |"
        )
    lines += ["", "Each one's numbers and evidence files: Appendix, by #."]
    if failed:
        lines += ["", failed]
    return lines


def _intervention_details(inv: Investigation, d: Draft) -> list[str]:
    """Each intervention's reasons (its numbers in words) and evidence files."""
    if not inv.interventions:
        return ["No intervention was run."]
    lines: list[str] = []
    for number, (edge, r) in enumerate(inv.interventions.items(), start=1):
        sensitive = d.about(edge)
        lines += [f"**I{number}**: {md_text(r.type)} on {_edge(edge)}: {md_text(r.verdict)}.", ""]
        lines += [f"- {d.text(x, sensitive)}" for x in r.reasons]
        lines += [f"- Evidence: {md_code(e['path'])}" for e in r.evidence]
        lines.append("")
    return lines[:-1]


def _figures(figures: Drawn) -> list[str]:
    """Where the figures are: PNG to paste into a document, SVG, and report.html with them."""
    drawn, skipped = figures
    lines = [
        f"- {md_text(f.title)}: [{FIGURES_DIR}/{f.name}.png]({FIGURES_DIR}/{f.name}.png) "
        f"([SVG]({FIGURES_DIR}/{f.name}.svg))"
        for f in drawn
    ]
    lines += [f"- Not drawn: {md_text(why)}" for why in skipped]
    lines += ["", f"[{HTML_FILE}]({HTML_FILE}) holds this report with the figures, in one file."]
    return lines


def _redact(d: Draft) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The entry with its sensitive values hashed (as is when the incident has none)."""
    redactor = d.redactor
    if redactor is None:
        return lambda record: record
    return redactor.record


def _blast(inv: Investigation, d: Draft) -> list[str]:
    b = inv.blast_radius
    if b is None:
        failed = _failed(inv, Step.COUNTERFACTUAL)
        if failed:
            return [failed]
        why = _no_cause(inv) if inv.root_cause() is None else "it needs an edge marked broken"
        return [f"{NOT_DETERMINED}: the counterfactual re-scoring was not run ({why})."]
    delta = b.score_delta
    lines = [
        f"- Correction: {d.text(b.correction, d.about(b.edge))}.",
        f"- Decisions flipped: {b.flipped} of {b.total}.",
        f"- Explains: {_explained(b)}",
        f"- Score change: mean {delta.get('mean', 0):+.3g}, p05 {delta.get('p05', 0):+.3g}, "
        f"p50 {delta.get('p50', 0):+.3g}, p95 {delta.get('p95', 0):+.3g}, max |change| "
        f"{delta.get('max_abs', 0):.3g}.",
    ]
    if b.segments:
        lines += ["", "| Segment | Value | Flipped | Total |", "|---|---|---|---|"]
        lines += [
            f"| {md_code(s.column)} | {md_cell(d.plain(s.value))} | {s.flipped} | {s.total} |"
            for s in b.segments
        ]
    return lines


def _explained(b: BlastRadius) -> str:
    """How much of the model's move the correction takes back, with the figures."""
    o = b.outputs
    if b.explained is None:
        return "not determined: the model's output did not move enough since the baseline to tell."
    measure = "rate" if b.explained_by == "decisions" else "score"
    what = "positive-decision rate" if measure == "rate" else "mean score"
    return (
        f"{b.explained:.0%} of the model's move: {what} baseline "
        f"{_num(o.get(f'baseline_{measure}'))}, live {_num(o.get(f'live_{measure}'))}, "
        f"corrected {_num(o.get(f'corrected_{measure}'))} "
        "(explained = (live - corrected) / (live - baseline))."
    )


def _log(inv: Investigation, d: Draft, head_count: int) -> list[str]:
    lines = []
    if head_count > LOG_LIMIT:
        listed = len(d.log)
        counts = ", ".join(f"{md_text(action)} {n}" for action, n in d.others.most_common())
        lines += [
            f"The trail holds {head_count} entries, more than the {LOG_LIMIT} this draft lists. "
            f"Below: the {listed} latest decisions, marks, notes and failures; the other "
            f"{head_count - listed} entries by action: {counts or 'none'}. The full log "
            f"is [{TRAIL_FILE}]({TRAIL_FILE}) in the incident folder; "
            f"{md_code(f'incident-console trail export {inv.incident_dir} --format md --out trail.md')}"
            " writes it as a readable timeline.",
            "",
        ]
    lines += [
        f"| # | Time ({d.clock.name}) | Actor | Step | Action | What |",
        "|---|---|---|---|---|---|",
    ]
    for record in d.log:
        shown = d.redactor.record(record) if d.redactor else record
        what = summary(shown)
        lines.append(
            f"| {record['seq']} | {d.clock.entry(record['ts'])} | {md_cell(record['actor'])} | "
            f"{md_cell(record['step'])} | {md_cell(record['action'])} | {md_cell(what)} |"
        )
    return lines


def _no_cause(inv: Investigation) -> str:
    t = inv.triage_result
    if t is not None and t.verdict == "false_alarm":
        return "triage ended the investigation as a false alarm: the decisions did not move"
    if inv.root_cause() is None and inv.interventions:
        return "no planned intervention found a broken edge and no edge was marked"
    return "no root cause edge was marked"


# -- small helpers ---------------------------------------------------------------------------


def _bullets(items: list[str]) -> list[str]:
    return [f"- {item}" for item in items]
