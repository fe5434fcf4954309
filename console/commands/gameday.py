"""`incident-console gameday`: list and generate game-day scenarios (docs/gameday.md).

Each sub-command is added by its own function so the group is easy to extend: register()
creates the group and calls them in turn.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from console.commands import add_command, add_group
from console.commands.open import add_gameday_start


def register(sub) -> None:
    group = add_group(sub, "gameday", "Game-day scenarios: bundled incidents to practise on.")
    add_list(group)
    add_generate(group)
    add_gameday_start(group)  # console/commands/open.py: opens the scenario in the console
    add_grade(group)


def add_list(group) -> None:
    add_command(
        group,
        "list",
        "List the bundled scenarios: name, playbook, difficulty and title.",
        "incident-console gameday list",
        _list,
    )


def add_generate(group) -> None:
    p = add_command(
        group,
        "generate",
        "Generate a scenario's telemetry, playbook copy, scenario card and answer key into a "
        "folder (deterministic for a given --rows and --seed; ten million rows work).",
        "incident-console gameday generate fraud-friday-noon --out /tmp/nan --rows 1000000",
        _generate,
    )
    p.add_argument("scenario", help="scenario name (see `gameday list`)")
    p.add_argument("--out", type=Path, required=True, help="the folder to write (created)")
    p.add_argument("--rows", type=int, default=None, help="decision rows (default: bundled size)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: bundled seed)")


def add_grade(group) -> None:
    p = add_command(
        group,
        "grade",
        "Finish a game day: grade the incident's trail against the scenario's answer key, "
        "append the grade to the written report and record it in the trail (as the console's "
        "g does).",
        "incident-console gameday grade incidents/2026-11-22-recs-weekday-afternoon",
        _grade,
    )
    p.add_argument("dir", type=Path, help="the incident folder (holding trail.jsonl)")
    p.add_argument(
        "--scenario",
        type=Path,
        default=None,
        help="the scenario folder with answer.toml (default: the telemetry folder the "
        "incident was opened on)",
    )
    p.add_argument("--actor", default=None, help="who records the grade (default user@host)")


def _list(args: argparse.Namespace) -> int:
    from console.gameday.scenarios import list_scenarios

    scenarios = list_scenarios()
    name_width = max(len(s.name) for s in scenarios)
    book_width = max(len(s.playbook) for s in scenarios)
    for s in scenarios:
        print(f"{s.name:<{name_width}}  {s.playbook:<{book_width}}  {s.difficulty:<6}  {s.title}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from console.gameday.generate import generate_scenario

    out = generate_scenario(args.scenario, args.out, rows=args.rows, seed=args.seed)
    print(f"wrote scenario {args.scenario} to {out}")
    return 0


def _grade(args: argparse.Namespace) -> int:
    from console.errors import ConsoleError
    from console.gameday.grading import grade_incident
    from console.text import one_line

    if not (args.dir / "trail.jsonl").is_file():
        raise ConsoleError(f"no trail in {args.dir}: expected {args.dir / 'trail.jsonl'}")
    grade, report = grade_incident(args.dir, args.scenario, actor=args.actor)
    print(one_line(grade.headline()))
    if report is not None:
        print(f"grade appended to {report}")
    return 0
