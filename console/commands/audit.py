"""`incident-console audit`: the planned interventions of a playbook on the latest window.

The use case is console.engine.audit_run (an Investigation with its own trail in --audit-dir);
this module parses the options and writes the table, the JUnit XML and the JSON. Exit 1 when
an edge is broken (or its test could not run, or --strict and the graph is stale), else 0;
2 for a problem a person can fix (bad playbook, telemetry that does not fit).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from console.commands import add_command
from console.errors import ConsoleError


def register(sub) -> None:
    p = add_command(
        sub,
        "audit",
        "Run every planned intervention on the latest window against the baseline; exit 1 "
        "when an edge is broken.",
        "incident-console audit playbooks/fraud.toml --telemetry DIR --window 1h "
        "--junit audit.xml --json audit.json",
        _audit,
    )
    p.add_argument("playbook", type=Path, help="the playbook TOML file")
    p.add_argument(
        "--telemetry",
        type=Path,
        default=None,
        help="telemetry folder or .duckdb file (optional when the playbook declares sources)",
    )
    p.add_argument(
        "--window",
        default=None,
        help='length of the window audited, e.g. "1h" (default: [windows] incident)',
    )
    p.add_argument(
        "--at",
        default=None,
        help="end of the audited window, ISO 8601 UTC (default: just after the newest decision)",
    )
    p.add_argument(
        "--audit-dir",
        type=Path,
        default=None,
        help="folder for the audit's trail and evidence (default: audits/<UTC time>/)",
    )
    p.add_argument("--junit", type=Path, default=None, help="write JUnit XML to this file")
    p.add_argument("--json", type=Path, default=None, help="write the JSON result to this file")
    p.add_argument(
        "--strict", action="store_true", help="fail on any freshness finding (a stale graph)"
    )
    p.add_argument(
        "--metric", default=None, help="node id of the metric triaged (default [triage] metric)"
    )
    p.add_argument("--actor", default=None, help="who runs the audit (default user@host)")
    p.add_argument(
        "--candidate",
        type=Path,
        default=None,
        help="a playbook whose [scorer] is the candidate model: gate it on the window's decisions",
    )
    p.add_argument(
        "--max-changed",
        type=float,
        default=None,
        help="share of sampled decisions the candidate may change (default 0.01)",
    )


def _audit(args: argparse.Namespace) -> int:
    from console.audit_graph.junit import junit_xml, table
    from console.engine.audit_run import decisions_columns, open_audit, run_audit
    from console.engine.gate import MAX_CHANGED
    from console.files import atomic_write
    from console.playbook.durations import parse_duration
    from console.telemetry.windows import parse_utc

    window = parse_duration(args.window) if args.window else None
    if window is not None and not window:
        raise ConsoleError(f"--window {args.window}: must be longer than 0s")
    at = parse_utc(args.at) if args.at else None
    if args.max_changed is not None and not 0 <= args.max_changed <= 1:
        raise ConsoleError(f"--max-changed {args.max_changed}: a share between 0 and 1")
    for option, path in (("--junit", args.junit), ("--json", args.json)):
        if path is not None and not path.resolve().parent.is_dir():
            raise ConsoleError(f"{option} {path}: folder {path.parent} does not exist")
    audit_dir = args.audit_dir or Path("audits") / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    with open_audit(
        args.playbook, args.telemetry, audit_dir, at, window, args.actor, args.metric
    ) as inv:
        result = run_audit(
            inv, decisions_columns(inv), args.strict, args.candidate,
            MAX_CHANGED if args.max_changed is None else args.max_changed,
        )  # fmt: skip
        suite = inv.playbook.model.name
    if args.junit is not None:
        atomic_write(args.junit.resolve(), junit_xml(result, suite))
    if args.json is not None:
        body = result.to_dict() | {"audit_dir": str(audit_dir)}
        text = json.dumps(body, indent=2, sort_keys=True, allow_nan=False, default=str)
        atomic_write(args.json.resolve(), text + "\n")
    print(table(result) + f"trail: {audit_dir}", end="\n")
    return 1 if result.failed else 0
