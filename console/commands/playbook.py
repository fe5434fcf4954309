"""`incident-console playbook check|graph`: validate a playbook, draw its causal graph."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from console.commands import add_command, add_group
from console.errors import ConsoleError
from console.playbook.templates import TEMPLATES


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
    check.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        default="duckdb",
        help="spark: also check that every expression transpiles to Spark SQL (default: duckdb)",
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

    init = add_command(
        group,
        "init",
        "Draft a playbook from the telemetry (nodes, edges, references, metrics, scorer).",
        "incident-console playbook init --telemetry sample_data/fraud/ --out fraud.toml",
        run_init,
    )
    init.add_argument("--telemetry", type=Path, required=True, metavar="DIR", help="telemetry")
    init.add_argument("--out", type=Path, required=True, metavar="FILE", help="the new playbook")
    init.add_argument("--model", default="drafted-model", help="the model's name in [model]")
    init.add_argument(
        "--template",
        choices=sorted(TEMPLATES),
        default="classification",
        help="the model type's shape (console/playbook/templates): default classification",
    )
    init.add_argument(
        "--sklearn",
        type=Path,
        metavar="JSON",
        help="a scikit-learn linear/logistic model's coefficients exported as JSON (docs/audit.md)",
    )


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
    spark = ""
    if args.engine == "spark":
        from console.engine.transpile_check import spark_coverage

        coverage = spark_coverage(playbook)
        spark = f"; {coverage.transpiled}/{coverage.total} expressions transpile to Spark SQL"
        if coverage.problems:
            raise ConsoleError(
                f"{args.file}: not valid for Spark{spark}", problems=coverage.problems
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
        f"triage metric {playbook.triage.metric}, {playbook.scorer.type} scorer{bound}{spark}"
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


def run_init(args: argparse.Namespace) -> int:
    from console.files import atomic_write
    from console.playbook.draft import draft_playbook
    from console.text import one_line

    if args.out.exists():
        raise ConsoleError(f"--out {args.out}: already exists (the draft never overwrites)")
    draft = draft_playbook(args.telemetry, args.model, args.sklearn, TEMPLATES[args.template])
    atomic_write(args.out, draft.toml)
    print(f"{args.out}: drafted; {len(draft.edges)} source -> feature edges, "
          f"{len(draft.references)} references found by recomputing on the data")  # fmt: skip
    for note in draft.notes:
        print(f"  {one_line(note)}")
    return 0
