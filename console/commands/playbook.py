"""`incident-console playbook check|graph`: validate a playbook, draw its causal graph."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from console.commands import add_command, add_group
from console.errors import ConsoleError


def register(sub) -> None:
    group = add_group(sub, "playbook", "Check a playbook and draw its causal graph.")

    check = add_command(
        group,
        "check",
        "Validate a playbook; list every problem (exit 2) or print a one-line summary.",
        "incident-console playbook check playbooks/fraud.toml --telemetry sample_data/fraud/",
        run_check,
    )
    check.add_argument("file", type=Path, metavar="FILE", help="the playbook TOML file")
    check.add_argument(
        "--telemetry",
        type=Path,
        metavar="DIR",
        help="also check that every node expression binds against this telemetry store",
    )

    graph = add_command(
        group,
        "graph",
        "Print the causal graph walked back from a node (default: the triage metric).",
        "incident-console playbook graph playbooks/fraud.toml --node fraud_score --format mermaid",
        run_graph,
    )
    graph.add_argument("file", type=Path, metavar="FILE", help="the playbook TOML file")
    graph.add_argument("--node", metavar="ID", help="walk back from this node id")
    graph.add_argument(
        "--format", choices=("text", "mermaid", "dot"), default="text", help="default: text"
    )
    graph.add_argument("--depth", type=int, metavar="N", help="at most N edges back (default: all)")


def run_check(args: argparse.Namespace) -> int:
    from console.playbook.loader import load_playbook

    playbook = load_playbook(args.file)
    if args.telemetry is not None or playbook.tables.sources:
        from console.telemetry.binding import check_bindings

        problems = check_bindings(playbook, args.telemetry)
        if problems:
            raise ConsoleError(
                f"{args.file}: expressions do not bind against {args.telemetry or 'its sources'}",
                problems=list(problems),
            )
    feedback = sum(edge.feedback for edge in playbook.edges)
    verified = sum(edge.status == "verified" for edge in playbook.edges)
    bound = (
        f"; binds against {args.telemetry or 'its sources'}"
        if args.telemetry is not None or playbook.tables.sources
        else ""
    )
    print(
        f"{args.file}: valid; model {playbook.model.name}, {len(playbook.nodes)} nodes, "
        f"{len(playbook.edges)} edges ({verified} verified, {feedback} feedback), "
        f"triage metric {playbook.triage.metric}, {playbook.scorer.type} scorer{bound}"
    )
    return 0


def run_graph(args: argparse.Namespace) -> int:
    from console.playbook.graph import build_graph
    from console.playbook.loader import load_playbook
    from console.playbook.render import render

    if args.depth is not None and args.depth < 1:
        raise ConsoleError(f"--depth {args.depth}: must be at least 1")
    playbook = load_playbook(args.file)
    node = args.node or playbook.triage.metric
    sys.stdout.write(render(build_graph(playbook), node, args.format, args.depth))
    return 0
