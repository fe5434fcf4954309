"""Validate: after the fix, re-run the confirming intervention and watch the metric recover.

The post-fix window starts, by default, at the first change event after the alert on either end
of the root-cause edge (the fix: a rollback, a pin, a config revert) and lasts [windows]
postfix. Without such an event (an external shift has no fix, only an end) it is the newest
stretch of that length in the data, never starting before the alert: is it back now?

`recovered` is true when the confirming intervention no longer finds the edge broken in the
post-fix window and the metric is back: its change against the baseline (the same hours of the
day) is under [triage] minor in the bad direction, or it has come back at least half of the way
from the incident value to the baseline value.

The graph update is proposed through console.playbook.writeback: an edge proven broken gains
`status = "verified"` and a `proven_by` entry naming the intervention, its one-line result and
its evidence. An external shift proposes nothing (the edge into the external node has no
intervention to record); the validation's reasons say so.
"""

from __future__ import annotations

from datetime import UTC, datetime

from console.engine.context import SAME_HOURS, Context, same_hours_span
from console.engine.interventions import Outcome, run_intervention
from console.engine.results import InterventionResult, Proposal, ValidationResult, Window
from console.engine.triage import bad_change, relative_change
from console.errors import ConsoleError
from console.numbers import num as _fmt
from console.playbook import writeback
from console.playbook.model import Edge
from console.telemetry.windows import format_utc


def fix_time(ctx: Context, edge: Edge) -> datetime | None:
    """The first change event after the alert on either end of the edge."""
    for change in ctx.changes():
        if change.ts >= ctx.alert_at and change.node in (edge.source, edge.target):
            return change.ts
    return None


def latest_window_start(ctx: Context) -> datetime:
    """Without a fix event: the newest post-fix-long stretch of data (is it back now?), never
    starting before the alert."""
    newest: datetime | None = (
        ctx.run("SELECT max(ts) AS newest FROM decisions").column("newest")[0].as_py()
    )
    if newest is None:
        return ctx.alert_at
    return max(ctx.alert_at, newest.astimezone(UTC) - ctx.playbook.windows.postfix)


def postfix_check(
    ctx: Context, edge: Edge, start: datetime | None
) -> tuple[Outcome, Window, dict[str, float | None]]:
    if start is None:
        start = fix_time(ctx, edge) or latest_window_start(ctx)
    if start.tzinfo is None:
        raise ConsoleError(f"post-fix start {start} has no time zone")
    start = start.astimezone(UTC)
    window = Window("postfix", start, start + ctx.playbook.windows.postfix)
    outcome = run_intervention(ctx, edge, window)
    return outcome, window, metric_values(ctx, window)


def metric_values(ctx: Context, postfix: Window) -> dict[str, float | None]:
    """The metric over the incident and post-fix windows, and over the baseline rows at the
    post-fix window's hours of the day."""
    node = ctx.node(ctx.metric)
    # The baseline at the post-fix window's hours (not the incident's, as SIDE_CASE has it).
    sql = (
        "SELECT CASE WHEN ts >= $p_start AND ts < $p_end THEN 'postfix' "
        "WHEN ts >= $i_start AND ts < $i_end THEN 'incident' ELSE 'baseline' END AS w, "
        f"{node.expr} AS value FROM decisions WHERE (ts >= $i_start AND ts < $i_end) "
        f"OR (ts >= $p_start AND ts < $p_end) OR (ts >= $b_start AND ts < $b_end AND "
        f"{SAME_HOURS.replace('$i_start', '$p_start')}) GROUP BY w"
    )
    params = {
        "b_start": ctx.baseline.start,
        "b_end": ctx.baseline.end,
        "i_start": ctx.incident.start,
        "i_end": ctx.incident.end,
        "p_start": postfix.start,
        "p_end": postfix.end,
        "span": same_hours_span(ctx.baseline, postfix),
    }
    found = {r["w"]: r["value"] for r in ctx.run(sql, params).to_pylist()}
    return {
        w: (None if found.get(w) is None else float(found[w]))
        for w in ("baseline", "incident", "postfix")
    }


def recovered(
    ctx: Context, intervention: InterventionResult, metrics: dict[str, float | None]
) -> tuple[bool, list[str]]:
    base, inc, post = metrics["baseline"], metrics["incident"], metrics["postfix"]
    reasons = [
        f"{ctx.metric}: baseline {_fmt(base)} (same hours of the day), incident {_fmt(inc)}, "
        f"post-fix {_fmt(post)}"
    ]
    if post is None or base is None:
        return False, reasons + ["the post-fix window holds no rows to judge the metric"]
    bad = bad_change(relative_change(base, post), ctx.playbook.triage.direction)
    back = bad is not None and bad < ctx.playbook.triage.minor
    halfway = inc is not None and inc != base and abs(post - base) <= 0.5 * abs(inc - base)
    metric_ok = back or halfway
    if back:
        reasons.append(
            f"the metric is within minor ({ctx.playbook.triage.minor:.0%}) of the baseline"
        )
    elif halfway:
        reasons.append(
            "the metric came back at least half of the way from the incident to the baseline"
        )
    else:
        reasons.append("the metric has not come back")
    still = intervention.verdict == "broken"
    reasons.append(
        f"the {intervention.type} intervention on {intervention.edge[0]} -> {intervention.edge[1]} "
        f"is {intervention.verdict} in the post-fix window"
    )
    return metric_ok and not still, reasons


def propose_update(
    ctx: Context,
    edge: Edge,
    mark: str,
    incident_result: InterventionResult | None,
    postfix_result: InterventionResult | None,
) -> tuple[Proposal | None, writeback.Proposal | None]:
    """The playbook update the incident taught, written into the incident folder."""
    if mark != "broken" or incident_result is None or incident_result.verdict != "broken":
        return None, None
    summary = incident_result.reasons[0] if incident_result.reasons else incident_result.verdict
    if postfix_result is not None:
        summary += f"; post-fix: {postfix_result.verdict}"
    proof = writeback.Proof(
        source=edge.source,
        target=edge.target,
        incident=ctx.incident_dir.resolve().name,
        intervention=incident_result.type,
        at=datetime.now(UTC),
        result=summary[:300],
        evidence=tuple(e["path"] for e in incident_result.evidence),
    )
    made = writeback.propose(
        ctx.playbook.path, writeback.GraphUpdate(verify=(proof,)), ctx.incident_dir
    )
    diff = made.diff.read_text(encoding="utf-8")
    proposal = Proposal(
        description="; ".join(made.changes),
        path=str(made.proposed.relative_to(ctx.incident_dir)),
        diff=diff,
    )
    return proposal, made


def validation_result(
    ctx: Context,
    edge: tuple[str, str],
    window: Window,
    intervention: InterventionResult,
    metrics: dict[str, float | None],
    proposal: Proposal | None,
) -> ValidationResult:
    ok, reasons = recovered(ctx, intervention, metrics)
    if proposal is None:
        reasons.append(
            "no playbook update proposed: only an edge marked broken and proven by its "
            "intervention is recorded as verified"
        )
    reasons.append(f"post-fix window {format_utc(window.start)} to {format_utc(window.end)}")
    return ValidationResult(
        edge=edge,
        window=window,
        intervention=intervention,
        metric_baseline=metrics["baseline"],
        metric_incident=metrics["incident"],
        metric_postfix=metrics["postfix"],
        recovered=ok,
        proposal=proposal,
        reasons=reasons,
    )
