"""Report: a Markdown post-mortem draft at <incident>/report.md, built from the investigation.

The sections follow the Google SRE example post-mortem (title, status, summary, impact, root
causes, trigger, detection, resolution, action items, lessons learned - what went well, what
went wrong, where we got lucky - and a timeline in UTC), followed by the causal path from the
sources through the root cause to the metric, the interventions with their numbers, the blast
radius, the investigation log (every trail entry, in order) and the trail's head hash and entry
count, so a reader can check the draft against `incident-console trail verify`.

Nothing is left as an empty heading: a section the investigation could not fill says
"Not determined" and why. The file is written atomically (temp file, fsync, rename).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from console.engine.context import read_scenario_hints
from console.engine.locate import root_node
from console.engine.results import ReportResult
from console.files import atomic_write
from console.playbook.graph import paths_from_sources
from console.telemetry.windows import format_utc

if TYPE_CHECKING:
    from console.engine.investigation import Investigation

REPORT_FILE = "report.md"
NOT_DETERMINED = "Not determined"


def write_report(inv: Investigation) -> ReportResult:
    head = inv.trail.head()
    markdown = render(inv, head.hash, head.count)
    path = inv.incident_dir / REPORT_FILE
    atomic_write(path, markdown)
    return ReportResult(
        path=REPORT_FILE, markdown=markdown, trail_head=head.hash, trail_count=head.count
    )


def render(inv: Investigation, head_hash: str, head_count: int) -> str:
    ctx = inv.ctx
    pb = ctx.playbook
    hints = read_scenario_hints(inv.telemetry_dir)
    found = inv.root_cause()
    metric = pb.nodes[ctx.metric]
    title = hints.title or f"{pb.model.name}: {metric.id} anomaly at {format_utc(ctx.alert_at)}"
    out: list[str] = [f"# Post-mortem draft: {title}", ""]
    out += [
        f"- **Incident:** {ctx.incident_dir.resolve().name}",
        f"- **Model:** {pb.model.name} (owner {pb.model.owner}; on-call {pb.model.oncall})",
        f"- **Alert:** {metric.id} (series `{metric.series}`) at {format_utc(ctx.alert_at)}",
        "- **Windows:** "
        + "; ".join(
            f"{w.name} {format_utc(w.start)} to {format_utc(w.end)}" for w in ctx.windows.values()
        ),
        f"- **Drafted:** {format_utc(datetime.now(UTC).replace(microsecond=0))} by incident-console for {inv.trail.actor}",
        "",
        "## Status",
        "",
        _status(inv, found),
        "",
        "## Summary",
        "",
        _summary(inv, found),
        "",
        "## Impact",
        "",
        *_impact(inv),
        "",
        "## Root causes",
        "",
        *_root_causes(inv, found),
        "",
        "## Trigger",
        "",
        _trigger(inv, found),
        "",
        "## Detection",
        "",
        _detection(inv),
        "",
        "## Resolution",
        "",
        _resolution(inv, found),
        "",
        "## Action items",
        "",
        *_action_items(inv, found),
        "",
        "## Lessons learned",
        "",
        "### What went well",
        "",
        *_bullets(_went_well(inv, found)),
        "",
        "### What went wrong",
        "",
        *_bullets(_went_wrong(inv, found)),
        "",
        "### Where we got lucky",
        "",
        *_bullets(_lucky(inv, found)),
        "",
        "## Timeline (UTC)",
        "",
        *_timeline(inv, found),
        "",
        "## Causal path",
        "",
        *_causal_path(inv, found),
        "",
        "## Interventions",
        "",
        *_interventions(inv),
        "",
        "## Blast radius",
        "",
        *_blast(inv),
        "",
        "## Investigation log (audit trail)",
        "",
        *_log(inv),
        "",
        "## Audit trail",
        "",
        f"- Entries: {head_count} (this report quotes entries 1 to {head_count}; the entry "
        "recording the report follows them)",
        f"- Head hash: `{head_hash}`",
        f"- Check it: `incident-console trail verify {ctx.incident_dir}`",
        "",
    ]
    return "\n".join(out)


# -- sections --------------------------------------------------------------------------------


def _status(inv: Investigation, found) -> str:
    v = inv.validation
    if (
        inv.triage_result is not None
        and inv.triage_result.verdict == "false_alarm"
        and found is None
    ):
        return "Closed as a false alarm (draft for review): the decisions did not move; the metric series did."
    if v is not None:
        state = "recovered" if v.recovered else "not yet recovered"
        return f"Draft. Root cause identified; post-fix validation: {state}."
    if found is not None:
        return "Draft. Root cause identified; the fix has not been validated yet."
    return f"Draft. Root cause {NOT_DETERMINED.lower()}: no edge was marked broken or external."


def _summary(inv: Investigation, found) -> str:
    t = inv.triage_result
    if t is None:
        return f"{NOT_DETERMINED}: triage was not run, so whether the anomaly was real is unknown."
    change = "n/a" if t.relative_change is None else f"{t.relative_change:+.1%}"
    text = (
        f"The {t.metric} alert fired at {format_utc(inv.alert_at)}. Recomputed from the decision "
        f"records, {t.metric} went from {_num(t.baseline_value)} (baseline) to "
        f"{_num(t.incident_value)} in the incident window ({change}; tier {t.tier}); triage "
        f"verdict: {t.verdict.replace('_', ' ')}"
        + (f", classified as {t.classification.replace('_', ' ')}" if t.classification else "")
        + "."
    )
    if found is not None:
        (source, target), mark = found
        text += f" Root cause: {_describe_cause(inv, (source, target), mark)}."
    elif t.verdict == "false_alarm":
        failed = [c.name.replace("_", " ") for c in t.checks if not c.passed]
        text += (
            " The alert came from the metric series itself"
            + (f" ({', '.join(failed)})" if failed else "")
            + ", not from the model's decisions."
        )
    if inv.blast_radius is not None:
        b = inv.blast_radius
        text += f" Correcting it would change {b.flipped} of {b.total} decisions in the incident window."
    return text


def _describe_cause(inv: Investigation, edge: tuple[str, str], mark: str) -> str:
    pb = inv.ctx.playbook
    e = pb.edge(*edge)
    if mark == "external":
        return (
            f"an external shift on {edge[0]} -> {edge[1]} ({pb.nodes[edge[0]].description.rstrip('.')}): "
            "our pipeline computed every feature as designed"
        )
    return f"edge {edge[0]} -> {edge[1]} is broken ({e.mechanism.rstrip('.')})"


def _impact(inv: Investigation) -> list[str]:
    t = inv.triage_result
    lines = []
    if t is not None and t.baseline_value is not None and t.incident_value is not None:
        lines.append(
            f"- {t.metric}: {_num(t.baseline_value)} -> {_num(t.incident_value)} "
            f"({t.relative_change:+.1%}) over the incident window, tier {t.tier}."
        )
    b = inv.blast_radius
    if b is not None:
        share = b.flipped / b.total if b.total else 0.0
        lines.append(
            f"- {b.flipped} of {b.total} decisions in the incident window ({share:.1%}) would have "
            f"been decided differently with the corrected value ({b.correction})."
        )
        for s in b.segments[:3]:
            lines.append(
                f"- Segment {s.column} = {s.value}: {s.flipped} of {s.total} decisions flipped."
            )
    if not lines:
        why = (
            "triage was not run"
            if t is None
            else "the metric could not be computed and no blast radius was run"
        )
        lines.append(f"{NOT_DETERMINED}: {why}.")
    elif b is None:
        why = (
            "a false alarm changes no decision"
            if t is not None and t.verdict == "false_alarm"
            else "no counterfactual was run (it needs an edge marked broken)"
        )
        lines.append(f"- Decisions affected: {NOT_DETERMINED.lower()}; {why}.")
    return lines


def _root_causes(inv: Investigation, found) -> list[str]:
    if found is None:
        t = inv.triage_result
        if t is not None and t.verdict == "false_alarm":
            return [
                "No fault in the model or its inputs. The reported metric series is defective:",
                *[f"- {c.name}: {c.detail}" for c in t.checks if not c.passed],
            ]
        return [
            f"{NOT_DETERMINED}: no edge was marked broken or external during the investigation."
        ]
    edge, mark = found
    pb = inv.ctx.playbook
    e = pb.edge(*edge)
    tested = inv.interventions.get(edge)
    lines = [
        f"- **{'External shift' if mark == 'external' else 'Broken edge'}:** {edge[0]} -> {edge[1]} "
        f"(status before the incident: {e.status}).",
        f"- **Mechanism:** {e.mechanism}",
        f"- **Owner:** {pb.nodes[edge[0]].owner} ({edge[0]}); {pb.nodes[edge[1]].owner} ({edge[1]}).",
    ]
    if tested is not None:
        lines.append(f"- **Shown by:** {tested.type}: " + "; ".join(tested.reasons))
    note = inv.marks.get(edge, ("", ""))[1]
    if note:
        lines.append(f"- **Engineer's note:** {note}")
    return lines


def _trigger(inv: Investigation, found) -> str:
    if found is None:
        t = inv.triage_result
        if t is not None and t.verdict == "false_alarm":
            events = [
                c
                for c in inv.ctx.changes()
                if inv.ctx.lookback().start <= c.ts < inv.alert_at and c.node == t.metric
            ]
            if events:
                return "; ".join(
                    f"{c.kind} on {c.node} at {format_utc(c.ts)}: {c.summary} ({c.actor})"
                    for c in events
                )
        return f"{NOT_DETERMINED}: no root cause was marked, so no change event can be tied to it."
    edge, mark = found
    events = _trigger_events(inv, edge, mark)
    if not events:
        where = f"{edge[0]}, {edge[1]} or their causes"
        if mark == "external":
            return (
                f"{NOT_DETERMINED} in our change log: no change event on {where} since the "
                "baseline window ended; the cause came from outside our systems."
            )
        return (
            f"{NOT_DETERMINED}: no change event on {where} since the baseline window ended; the "
            "change that broke the edge is missing from the change log."
        )
    return "; ".join(
        f"{c.kind} on {c.node} at {format_utc(c.ts)}: {c.summary} ({c.actor})" for c in events
    )


def _trigger_events(inv: Investigation, edge: tuple[str, str], mark: str):
    """Change events since the baseline ended on the root cause and its direct causes: the
    baseline was healthy, so any of them may be the trigger (a memory limit lowered the
    evening before bites at the next peak)."""
    ctx = inv.ctx
    if mark == "external":
        nodes = set(edge)
    else:
        node = root_node(ctx, ctx.edge(*edge))
        parents = [
            p for p in ctx.graph.predecessors(node) if not ctx.graph.edges[p, node]["edge"].feedback
        ]
        nodes = {node, *parents}
    return [c for c in ctx.changes() if c.node in nodes and ctx.baseline.end <= c.ts < inv.alert_at]


def _detection(inv: Investigation) -> str:
    pb = inv.ctx.playbook
    t = inv.triage_result
    text = (
        f"The {pb.nodes[inv.ctx.metric].id} alert (series `{pb.nodes[inv.ctx.metric].series}`) "
        f"fired at {format_utc(inv.alert_at)}, {_hours(inv.alert_at - inv.ctx.incident.start)} "
        "after the start of the incident window."
    )
    if t is not None:
        passed = [c.name for c in t.checks if c.passed]
        failed = [c.name for c in t.checks if not c.passed]
        text += f" Triage checks passed: {', '.join(passed) or 'none'}; failed: {', '.join(failed) or 'none'}."
    return text


def _resolution(inv: Investigation, found) -> str:
    v = inv.validation
    if v is not None:
        base = (
            f"Post-fix window {format_utc(v.window.start)} to {format_utc(v.window.end)}: "
            f"{v.intervention.type} on {v.edge[0]} -> {v.edge[1]} is {v.intervention.verdict}; "
            f"{inv.ctx.metric} baseline {_num(v.metric_baseline)}, incident {_num(v.metric_incident)}, "
            f"post-fix {_num(v.metric_postfix)}: {'recovered' if v.recovered else 'not recovered'}."
        )
        fix = [c for c in inv.ctx.changes() if c.ts == v.window.start]
        if fix:
            base = (
                f"{fix[0].kind} at {format_utc(fix[0].ts)}: {fix[0].summary} ({fix[0].actor}). "
                + base
            )
        return base
    t = inv.triage_result
    if t is not None and t.verdict == "false_alarm" and found is None:
        return "No change to the model or its inputs is needed; the metrics pipeline must be repaired (see action items)."
    return f"{NOT_DETERMINED}: the fix was not validated in this investigation (no post-fix check was run)."


def _action_items(inv: Investigation, found) -> list[str]:
    pb = inv.ctx.playbook
    rows: list[tuple[str, str, str]] = []
    t = inv.triage_result
    metric = pb.nodes[inv.ctx.metric]
    if found is None and t is not None and t.verdict == "false_alarm":
        rows.append(
            (
                f"Repair the pipeline that writes `{metric.series}` ({', '.join(c.name for c in t.checks if not c.passed)})",
                "mitigate",
                metric.owner,
            )
        )
        rows.append(
            (
                f"Alert on gaps, clock skew and duplicates of `{metric.series}` before alerting on its value",
                "prevent",
                metric.owner,
            )
        )
    if found is not None:
        edge, mark = found
        e = pb.edge(*edge)
        kind = e.intervention.type if e.intervention else ""
        if mark == "external":
            rows.append(
                (
                    f"Annotate the dashboards with the external event behind {edge[1]} and agree how long to wait before acting",
                    "process",
                    pb.nodes[edge[0]].owner,
                )
            )
            rows.append(
                (
                    f"Add a playbook intervention on {edge[0]} -> {edge[1]} (e.g. distribution_shift) so the next shift is tested, not inferred",
                    "prevent",
                    pb.model.owner,
                )
            )
        else:
            monitor = {
                "shadow_recompute": f"Run the shadow recompute of {edge[1]} continuously and alert when the mismatch rate exceeds its max_mismatch_rate",
                "null_rate": f"Alert on the missing-value rate of {edge[0]}",
                "freshness": f"Alert on the age of {edge[0]} when served",
                "distribution_shift": f"Contract test on the values of {edge[0]} (new or redefined categories) before they reach {edge[1]}",
                "model_version": f"Alert on rows without a score and on re-score mismatches of {edge[1]}",
            }.get(kind, f"Add a check for {edge[0]} -> {edge[1]}")
            rows.append(
                (
                    monitor,
                    "prevent",
                    pb.nodes[edge[1]].owner
                    if kind == "shadow_recompute"
                    else pb.nodes[edge[0]].owner,
                )
            )
            rows.append(
                (
                    f"Keep the fix of {edge[0]} -> {edge[1]} in place and document it",
                    "mitigate",
                    pb.nodes[edge[0]].owner,
                )
            )
    if inv.proposal is not None:
        rows.append(
            (
                f"Review `{inv.proposal.path}` ({inv.proposal.description}) and merge it into {pb.path.name}",
                "process",
                pb.model.owner,
            )
        )
    if not rows:
        return [
            f"{NOT_DETERMINED}: no root cause was established, so no corrective action can be named yet."
        ]
    lines = ["| Action | Type | Owner | Status |", "|---|---|---|---|"]
    lines += [f"| {a} | {k} | {o} | open |" for a, k, o in rows]
    return lines


def _went_well(inv: Investigation, found) -> list[str]:
    out = []
    t = inv.triage_result
    if t is not None:
        out.append(
            f"Triage recomputed {t.metric} from the decision records and ran {len(t.checks)} checks on the series before anyone acted."
        )
    if found is not None and inv.locate_result is not None:
        ranked = [c.edge for c in inv.locate_result.candidates]
        edge, mark = found
        if edge in ranked:
            out.append(
                f"The ranking put the root cause's edge at position {ranked.index(edge) + 1} of {len(ranked)}."
            )
    if inv.interventions:
        out.append(
            f"{len(inv.interventions)} intervention(s) ran read-only on captured telemetry, "
            "each with its evidence kept."
        )
    return out or [f"{NOT_DETERMINED}: no step of the investigation was completed."]


def _went_wrong(inv: Investigation, found) -> list[str]:
    out = []
    if found is not None:
        edge, mark = found
        e = inv.ctx.playbook.edge(*edge)
        if e.status != "verified":
            out.append(
                f"The edge {edge[0]} -> {edge[1]} was {e.status}: its mechanism had never been tested."
            )
        for c in _trigger_events(inv, edge, mark):
            out.append(
                f'The change "{c.summary}" ({c.actor}, {format_utc(c.ts)}) reached production with no check of its effect on {edge[1]}.'
            )
        if mark == "external":
            out.append(
                "The model has no input that tells it about the external event, so it could not adapt."
            )
    t = inv.triage_result
    if t is not None:
        out += [
            f"The metric series failed the {c.name} check: {c.detail}"
            for c in t.checks
            if not c.passed
        ]
    return out or [f"{NOT_DETERMINED}: no failure was identified beyond the alert itself."]


def _lucky(inv: Investigation, found) -> list[str]:
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
        f"{NOT_DETERMINED}: nothing in the data shows luck either way; the author should add what they know."
    ]


def _timeline(inv: Investigation, found) -> list[str]:
    ctx = inv.ctx
    events: list[tuple[datetime, str]] = [
        (c.ts, f"{c.kind} on `{c.node}`: {c.summary} ({c.actor})")
        for c in ctx.changes()
        if ctx.lookback().start <= c.ts < ctx.incident.end
        or (inv.validation and c.ts == inv.validation.window.start)
    ]
    events.append((ctx.incident.start, "incident window starts"))
    events.append((ctx.alert_at, f"alert on {ctx.metric}"))
    if inv.validation is not None:
        events.append((inv.validation.window.start, "post-fix window starts"))
    events.sort(key=lambda e: e[0])
    return [f"- {format_utc(ts)}: {text}" for ts, text in events]


def _causal_path(inv: Investigation, found) -> list[str]:
    ctx = inv.ctx
    if found is None:
        return [f"{NOT_DETERMINED}: {_no_cause(inv)}, so there is no path to draw."]
    edge, _ = found
    paths = [p for p in paths_from_sources(ctx.graph, ctx.metric) if _contains(p, edge)]
    if not paths:
        return [f"{edge[0]} -> {edge[1]} (not on a causal path to {ctx.metric} in the playbook)"]
    lines = []
    for p in paths[:3]:
        shown = [f"**{n}**" if n in edge else n for n in p]
        lines.append("- " + " -> ".join(shown))
    return lines


def _contains(path: list[str], edge: tuple[str, str]) -> bool:
    return any(a == edge[0] and b == edge[1] for a, b in zip(path, path[1:], strict=False))


def _interventions(inv: Investigation) -> list[str]:
    if not inv.interventions:
        return [f"{NOT_DETERMINED}: no intervention was run ({_no_cause(inv)})."]
    lines = [
        "| Edge | Intervention | Verdict | Numbers | Rows | Evidence |",
        "|---|---|---|---|---|---|",
    ]
    for edge, r in inv.interventions.items():
        rows = ", ".join(f"{k} {v}" for k, v in r.rows.items())
        evidence = ", ".join(f"`{e['path']}`" for e in r.evidence)
        lines.append(
            f"| {edge[0]} -> {edge[1]} | {r.type} | {r.verdict} | {'; '.join(r.reasons).replace('|', '/')} | {rows} | {evidence} |"
        )
    return lines


def _blast(inv: Investigation) -> list[str]:
    b = inv.blast_radius
    if b is None:
        why = _no_cause(inv) if inv.root_cause() is None else "it needs an edge marked broken"
        return [f"{NOT_DETERMINED}: the counterfactual re-scoring was not run ({why})."]
    d = b.score_delta
    lines = [
        f"- Correction: {b.correction}.",
        f"- Decisions flipped: {b.flipped} of {b.total}.",
        f"- Score change: mean {d.get('mean', 0):+.4f}, p05 {d.get('p05', 0):+.4f}, "
        f"p50 {d.get('p50', 0):+.4f}, p95 {d.get('p95', 0):+.4f}, max |change| {d.get('max_abs', 0):.4f}.",
    ]
    if b.segments:
        lines += ["", "| Segment | Value | Flipped | Total |", "|---|---|---|---|"]
        lines += [f"| {s.column} | {s.value} | {s.flipped} | {s.total} |" for s in b.segments]
    return lines


def _log(inv: Investigation) -> list[str]:
    lines = ["| # | Time (UTC) | Actor | Step | Action | Result |", "|---|---|---|---|---|---|"]
    for entry in inv.trail.entries():
        lines.append(
            f"| {entry.seq} | {entry.ts} | {entry.actor} | {entry.step} | {entry.action} | "
            f"{_entry_summary(entry.result, entry.params).replace('|', '/')} |"
        )
    return lines


def _entry_summary(result: dict[str, Any], params: dict[str, Any]) -> str:
    if "verdict" in result and "tier" in result:
        return f"{result['verdict']}, tier {result['tier']}, classification {result.get('classification')}"
    if "candidates" in result:
        top = [c["node"] for c in result["candidates"][:3]]
        return f"{len(result['candidates'])} candidates; first: {', '.join(top)}"
    if "verdict" in result and "type" in result:
        return f"{result['type']} on {' -> '.join(result['edge'])}: {result['verdict']}"
    if "attributions" in result:
        top = result["attributions"][0]["feature"] if result["attributions"] else "none"
        return (
            f"explained {result['prediction_id']}: score {result['score']:.3g}, top feature {top}"
        )
    if "flipped" in result:
        return f"{result['flipped']} of {result['total']} decisions flip"
    if "recovered" in result:
        return "recovered" if result["recovered"] else "not recovered"
    if "mark" in params:
        return f"marked {' -> '.join(params['edge'])} {params['mark']}"
    if "text" in params:
        return str(params["text"])[:120]
    if "verdict" in params:
        return f"decided {params['verdict']}"
    if "error" in result:
        return f"failed: {result['error']}"[:200]
    return ", ".join(f"{k}" for k in list(params)[:4]) or "-"


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


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _hours(delta) -> str:
    minutes = delta.total_seconds() / 60
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"
