"""The report's action items, trackable: an id, a priority, the action, its type, its owner (the
playbook's owner of the node concerned), its status and an empty ticket field for the tracker's
key; listed in report.md and written beside it as report.actions.csv and report.actions.json
(the same items, plain text) for import into a tracker.

Priority follows the type: mitigate P1 (keeps the incident from coming back now), prevent P2
(catches the next one), process P3 (how we work). Items are built once per format: names and
free text go through `Fmt`, Markdown code spans and escaped cells for report.md, plain text for
the exports (where console.text.csv_cell guards the CSV against formulas).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from console.audit.vocabulary import STEPS, Action
from console.engine.interventions import kind_for
from console.files import atomic_write
from console.playbook.intervention_types import DEFAULT_PLANS
from console.text import csv_cell, md_cell, md_code

if TYPE_CHECKING:
    from console.engine.investigation import Investigation

ACTIONS_CSV = "report.actions.csv"
ACTIONS_JSON = "report.actions.json"
PRIORITY = {"mitigate": "P1", "prevent": "P2", "process": "P3"}
COLUMNS = ("id", "priority", "action", "type", "owner", "status", "ticket", "edge", "incident")
Cause = tuple[tuple[str, str], str]


class Fmt(NamedTuple):
    code: Callable[[Any], str]  # a name: node, series, file
    cell: Callable[[Any], str]  # free text from data


MARKDOWN = Fmt(md_code, md_cell)
PLAIN = Fmt(str, str)


@dataclass(frozen=True)
class ActionItem:
    id: str
    priority: str
    action: str
    type: str
    owner: str
    status: str
    ticket: str
    edge: str
    incident: str


Raw = tuple[str, str, str, str, str]  # action, type, owner, status, edge


def action_items(
    inv: Investigation, decision: dict[str, Any] | None, found: Cause | None, f: Fmt
) -> list[ActionItem]:
    """decision: the trail entry accepting or rejecting the latest proposal, None if undecided."""
    pb = inv.ctx.playbook
    rows: list[Raw] = []
    t = inv.triage_result
    metric = pb.nodes[inv.ctx.metric]
    if found is None and t is not None and t.verdict == "false_alarm":
        failed = ", ".join(f.cell(c.name) for c in t.checks if not c.passed)
        series = f.code(metric.series)
        rows.append(
            (f"Repair the pipeline that writes {series} ({failed})", "mitigate",
             f.cell(metric.owner), "open", "")
        )  # fmt: skip
        rows.append(
            (f"Alert on gaps, clock skew and duplicates of {series} before alerting on its "
             "value", "prevent", f.cell(metric.owner), "open", "")
        )  # fmt: skip
    if found is not None:
        rows += _cause_items(inv, found, f)
    for step in STEPS:
        if step in inv.failures:
            rows.append(
                (f"Fix what made the {step} step fail and run it again: "
                 f"{f.cell(inv.failures[step])}", "process", f.cell(pb.model.owner), "open", "")
            )  # fmt: skip
    rows += _proposal_items(inv, decision, f)
    incident = inv.incident_dir.resolve().name
    return [
        ActionItem(f"A{i}", PRIORITY[kind], action, kind, owner, status, "", edge, incident)
        for i, (action, kind, owner, status, edge) in enumerate(rows, start=1)
    ]


def _cause_items(inv: Investigation, found: Cause, f: Fmt) -> list[Raw]:
    pb = inv.ctx.playbook
    edge, mark = found
    e = pb.edge(*edge)
    a, b = f.code(edge[0]), f.code(edge[1])
    owner_a, owner_b = f.cell(pb.nodes[edge[0]].owner), f.cell(pb.nodes[edge[1]].owner)
    named = f"{edge[0]} -> {edge[1]}"
    if mark == "external":
        return [
            (f"Annotate the dashboards with the external event behind {b} and agree how long "
             "to wait before acting", "process", owner_a, "open", named),
            (f"Add a playbook intervention on {a} -> {b} (e.g. {f.cell(DEFAULT_PLANS['source_feature'])}) "
             "so the next shift is tested, not inferred", "prevent", f.cell(pb.model.owner),
             "open", named),
        ]  # fmt: skip
    kind = kind_for(e)
    monitor = kind.action_item(a, b) if kind else f"Add a check for {a} -> {b}"
    owner = owner_b if kind and kind.action_owner == "target" else owner_a
    return [
        (monitor, "prevent", owner, "open", named),
        (f"Keep the fix of {a} -> {b} in place and document it", "mitigate", owner_a, "open",
         named),
    ]  # fmt: skip


def _proposal_items(inv: Investigation, r: dict[str, Any] | None, f: Fmt) -> list[Raw]:
    """The playbook update as the engineer left it: to review, merged, or none (rejected)."""
    pb = inv.ctx.playbook
    owner = f.cell(pb.model.owner)
    if r is not None and r["action"] == Action.REJECT_PROPOSAL:
        return []
    if r is not None:
        return [
            (f"Playbook update {f.code(r['params'].get('proposed', ''))} merged into "
             f"{f.code(r['result'].get('authored', pb.path.name))} (backup "
             f"{f.code(r['result'].get('backup', ''))})", "process", owner, "done", "")
        ]  # fmt: skip
    if inv.proposal is None:
        return []
    return [
        (f"Review {f.code(inv.proposal.path)} ({f.cell(inv.proposal.description)}) and merge "
         f"it into {f.code(pb.path.name)}", "process", owner, "open", "")
    ]  # fmt: skip


def items_table(items: list[ActionItem]) -> list[str]:
    """Markdown rows of items built with MARKDOWN (their text is escaped already)."""
    lines = [
        "| # | Priority | Action | Type | Owner | Status | Ticket |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {i.id} | {i.priority} | {i.action} | {i.type} | {i.owner} | {i.status} | {i.ticket} |"
        for i in items
    ]
    return lines


def write_items(folder: Path, items: list[ActionItem]) -> list[str]:
    """report.actions.csv and report.actions.json in folder (items built with PLAIN); returns
    their names."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for item in items:
        writer.writerow([csv_cell(v) for v in asdict(item).values()])
    atomic_write(folder / ACTIONS_CSV, buffer.getvalue())
    body = json.dumps([asdict(i) for i in items], indent=2, ensure_ascii=False)
    atomic_write(folder / ACTIONS_JSON, body + "\n")
    return [ACTIONS_CSV, ACTIONS_JSON]
