"""The Impact section's business terms: the blast radius and the metric change turned into the
playbook's [impact] unit, each with its formula and the figures it uses.

    changed decisions   flipped x per_flipped_decision
                        (flipped: the decisions of the incident window the counterfactual says
                        the fault changed)
    metric events       abs(incident - baseline) x decisions x per_metric_event
                        (the metric is read as a share of decisions - a click-through or decline
                        rate - so its change times the incident window's decisions is the number
                        of events gained or lost)

Without [impact], or without the blast radius or triage the formula needs, the line says what is
missing: the report gives counts only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from console.numbers import num
from console.text import md_text

if TYPE_CHECKING:
    from console.engine.investigation import Investigation


def money(value: float, unit: str) -> str:
    """An amount with thousands separators and two decimals, then its unit ('2,318.00 EUR')."""
    return f"{value:,.2f} {md_text(unit)}"


def business_lines(inv: Investigation) -> list[str]:
    impact = inv.ctx.playbook.impact
    if impact is None:
        return [
            "- In business terms: not stated: the playbook has no `[impact]` table "
            "(docs/report.md says how to add one); counts only."
        ]
    b = inv.blast_radius
    lines = []
    if impact.per_flipped_decision is not None:
        if b is None:
            lines.append(
                "- Cost of the changed decisions: not determined: no counterfactual was run."
            )
        else:
            cost = b.flipped * impact.per_flipped_decision
            lines.append(
                f"- Cost of the changed decisions: {money(cost, impact.unit)} = {b.flipped} "
                f"decisions changed x {num(impact.per_flipped_decision)} {md_text(impact.unit)} "
                f"({md_text(impact.flipped_meaning)})."
            )
    if impact.per_metric_event is not None:
        lines.append(_metric_line(inv, impact.per_metric_event, impact.unit, impact.metric_event))
    return lines


def _metric_line(inv: Investigation, per_event: float, unit: str, event: str) -> str:
    b, t = inv.blast_radius, inv.triage_result
    if t is None or t.baseline_value is None or t.incident_value is None:
        return f"- Value of the {md_text(event)}s: not determined: triage gave no metric values."
    if b is None:
        return (
            f"- Value of the {md_text(event)}s: not determined: the incident window's decision "
            "count comes from the counterfactual, which was not run."
        )
    change = t.incident_value - t.baseline_value
    events = abs(change) * b.total
    verb = "lost" if change < 0 else "gained"
    return (
        f"- Value of the {md_text(event)}s {verb}: {money(events * per_event, unit)} = "
        f"abs({num(t.incident_value)} - {num(t.baseline_value)}) x {b.total} decisions x "
        f"{num(per_event)} {md_text(unit)} per {md_text(event)} ({num(events)} "
        f"{md_text(event)}s {verb})."
    )
