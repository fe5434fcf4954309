"""The report's People section: every actor in the trail, with the roles people were given.

Roles are trail entries (("session", "role"), `incident-console role`), so who led the incident
is as tamper-evident as what they did. A person may hold several roles; the incident lead is one
person at a time, so giving that role to someone else ends the previous holder's term (shown
"from T1 to T2"). A person given a role who wrote no entry is listed too (0 entries).
"""

from __future__ import annotations

from dataclasses import dataclass

from console.audit.vocabulary import ROLES, RoleGiven
from console.engine.report_clock import Clock
from console.engine.report_trail import TrailRead
from console.text import md_cell, md_code

SINGLE_HOLDER = frozenset({ROLES[0]})  # incident_lead


@dataclass
class Term:
    role: str
    start: str  # trail timestamps
    end: str | None = None
    by: str = ""


def terms(read: TrailRead) -> dict[str, list[Term]]:
    """person -> their roles, in the order given."""
    out: dict[str, list[Term]] = {}
    holder: dict[str, Term] = {}
    for e in read.events:
        given = RoleGiven.from_entry(e)
        if given is None or not given.person:
            continue
        term = Term(given.role, given.ts, by=given.by)
        if given.role in SINGLE_HOLDER:
            previous = holder.get(given.role)
            if previous is not None and previous.end is None:
                previous.end = given.ts
            holder[given.role] = term
        out.setdefault(given.person, []).append(term)
    return out


def people_section(read: TrailRead, clock: Clock) -> list[str]:
    roles = terms(read)
    names = list(read.actors) + [p for p in roles if p not in read.actors]
    lines = [
        "| Person | Roles | Entries | First entry | Last entry |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        actor = read.actors.get(name)
        held = "; ".join(_term(t, clock) for t in roles.get(name, [])) or "-"
        first = clock.entry(actor.first) if actor else "-"
        last = clock.entry(actor.last) if actor else "-"
        entries = actor.entries if actor else 0
        lines.append(f"| {md_cell(name)} | {held} | {entries} | {first} | {last} |")
    if not roles:
        lines += [
            "",
            "No roles were recorded: give them with `incident-console role INCIDENT_DIR "
            f"--actor NAME --role ROLE` (roles: {', '.join(md_code(r) for r in ROLES)}).",
        ]
    return lines


def _term(t: Term, clock: Clock) -> str:
    span = f"from {clock.entry(t.start)}"
    if t.end is not None:
        span += f" to {clock.entry(t.end)}"
    return f"{md_cell(t.role.replace('_', ' '))} ({span}, given by {md_cell(t.by)})"
