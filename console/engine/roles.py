"""Giving a person an incident role: one use case for the CLI (`incident-console role`) and the
console. A role is a trail entry ("session", "role"), so the report's People section reads who
held which role, and when, from the same tamper-evident record as everything else.
"""

from __future__ import annotations

from typing import Any

from console.audit import Trail
from console.audit.entry import Entry
from console.audit.vocabulary import ROLES, Action, Step
from console.errors import ConsoleError


def role_params(person: str, role: str) -> dict[str, Any]:
    """The entry's params, checked: a person named, a known role. The console records them
    through its investigation (`inv.record(Step.SESSION, Action.ROLE, role_params(...))`)."""
    if not person.strip():
        raise ConsoleError("--actor '': name the person given the role")
    if role not in ROLES:
        raise ConsoleError(f"--role {role!r} is not a role: give one of {', '.join(ROLES)}")
    return {"actor": person, "role": role}


def give_role(trail: Trail, person: str, role: str) -> Entry:
    """Append ("session", "role") with params actor (the person) and role; the entry's own
    actor is the trail's (who gave it)."""
    return trail.append(Step.SESSION, Action.ROLE, params=role_params(person, role))
