"""`incident-console role`: give a person an incident role, recorded in the trail."""

from __future__ import annotations

from pathlib import Path

from console.commands import add_command
from console.errors import ConsoleError


def register(sub) -> None:
    from console.audit.vocabulary import ROLES

    p = add_command(
        sub,
        "role",
        "Record that a person holds an incident role (a trail entry the report's People "
        "section reads; fails if the incident is open elsewhere).",
        "incident-console role inc/ --actor alice@example.com --role incident_lead",
        _role,
    )
    p.add_argument("dir", type=Path, help="the incident folder (holding trail.jsonl)")
    p.add_argument("--actor", required=True, help="the person given the role")
    p.add_argument("--role", required=True, choices=ROLES, help="the role")
    p.add_argument("--by", default=None, help="who gives it (default user@host)")


def _role(args) -> int:
    from console.audit import Trail
    from console.engine.roles import give_role
    from console.text import one_line

    if not (args.dir / "trail.jsonl").is_file():
        raise ConsoleError(f"no trail in {args.dir}: expected {args.dir / 'trail.jsonl'}")
    with Trail.open(args.dir, actor=args.by) as trail:
        entry = give_role(trail, args.actor, args.role)
    print(f"appended entry {entry.seq}: {one_line(args.actor)} is {args.role}")
    return 0
