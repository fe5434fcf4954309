"""`incident-console investigate`: run the investigation without the UI.

With --auto every step runs, following the ranking (console.engine.auto): triage, locate, the
planned interventions best first until one finds its edge broken, the counterfactual, the
post-fix validation and the report. The trail, evidence, report and proposed playbook are
written into the incident folder; a short summary goes to stdout and, with --json, the JSON
summary of docs/engine.md to a file. Without --auto it points to the interactive console.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from console.commands import add_command
from console.commands.open import add_alert_option, read_alert
from console.errors import ConsoleError
from console.text import one_line


def register(sub) -> None:
    p = add_command(
        sub,
        "investigate",
        "Investigate an incident from the command line; --auto runs every step with no UI.",
        "incident-console investigate playbooks/fraud.toml --telemetry DIR --incident-dir inc/ "
        "--auto --json summary.json",
        _investigate,
    )
    p.add_argument("playbook", type=Path, help="the playbook TOML file")
    p.add_argument(
        "--telemetry",
        type=Path,
        default=None,
        help="telemetry folder or .duckdb file (optional when the playbook declares a source "
        "for every table)",
    )
    p.add_argument(
        "--incident-dir",
        required=True,
        type=Path,
        help="the incident folder (trail, evidence, report)",
    )
    p.add_argument("--auto", action="store_true", help="run every step following the ranking")
    p.add_argument("--json", type=Path, default=None, help="write the JSON summary to this file")
    p.add_argument(
        "--alert-at",
        default=None,
        help="alert time, ISO 8601 UTC (default: scenario.toml or the metric's newest bucket)",
    )
    p.add_argument(
        "--metric", default=None, help="node id of the anomalous metric (default [triage] metric)"
    )
    p.add_argument("--actor", default=None, help="who investigates (default user@host)")
    p.add_argument(
        "--tz",
        default=None,
        metavar="ZONE",
        help="IANA time zone of the report's key times, timeline and log (default UTC)",
    )
    add_alert_option(p)


def _investigate(args) -> int:
    if not args.auto:
        telemetry = f" --telemetry {args.telemetry}" if args.telemetry is not None else ""
        raise ConsoleError(
            "investigate without --auto has nothing to do here: the interactive console is "
            f"`incident-console open {args.playbook}{telemetry} "
            f"--incident-dir {args.incident_dir}`; add --auto to run every step without it"
        )
    from console.engine.auto import run_auto
    from console.engine.investigation import Investigation
    from console.engine.report_clock import Clock
    from console.files import atomic_write
    from console.intake.alert_intake import keep_alert
    from console.telemetry.windows import parse_utc

    if args.tz is not None:
        Clock(args.tz)  # an unknown zone is said now, not after the investigation ran
    alert_at = parse_utc(args.alert_at) if args.alert_at else None
    alert = read_alert(args.alert, args.playbook, alert_at=alert_at, metric=args.metric)
    metric = alert.metric if alert else args.metric
    if alert is not None:
        alert_at = alert.alert_at
    if args.json is not None:
        # Said before the investigation runs, not after it has written the trail.
        folder = args.json.resolve().parent
        if not folder.is_dir():
            raise ConsoleError(f"--json {args.json}: folder {args.json.parent} does not exist")
        if not os.access(folder, os.W_OK):  # a read-only mount refuses even root
            raise ConsoleError(f"--json {args.json}: folder {args.json.parent} is not writable")
    with Investigation.open(
        args.playbook, args.telemetry, args.incident_dir,
        actor=args.actor, alert_at=alert_at, metric=metric,
    ) as inv:  # fmt: skip
        if alert is not None:
            keep_alert(alert, args.incident_dir, inv.record)
        summary = run_auto(inv, args.tz)
    summary["playbook"] = str(args.playbook)
    summary["telemetry"] = str(args.telemetry) if args.telemetry is not None else None
    summary["incident_dir"] = str(args.incident_dir)
    if args.json is not None:
        text = json.dumps(summary, indent=2, sort_keys=True, allow_nan=False, default=str)
        atomic_write(args.json.resolve(), text + "\n")
    print(human_summary(summary))
    return 0


def human_summary(summary: dict) -> str:
    """A few lines for the terminal."""
    t = summary["triage"]
    change = t["relative_change"]
    lines = [
        f"triage: {t['verdict']} ({t['tier']}), {summary['metric']} "
        + ("n/a" if change is None else f"{change:+.1%}")
        + (f", {t['classification']}" if t["classification"] else ""),
    ]
    failed = [name for name, ok in t["checks"].items() if not ok]
    if failed:
        lines.append(f"  failed checks: {', '.join(failed)}")
    if summary["locate"]["candidates"]:
        lines.append("locate: " + ", ".join(summary["locate"]["candidates"][:5]))
    for item in summary["interventions"]:
        lines.append(f"  {item['type']} on {' -> '.join(item['edge'])}: {item['verdict']}")
    root = summary["root_cause"]
    if root is None:
        lines.append(
            "root cause: none (false alarm)"
            if t["verdict"] == "false_alarm"
            else "root cause: not determined"
        )
    else:
        lines.append(
            f"root cause: {root['kind']} {' -> '.join(root['edge'])} (node {root['node']})"
        )
        if root.get("explained") is not None:
            lines.append(f"  explains {root['explained']:.0%} of the model's move")
        if root.get("confidence"):
            c = root["confidence"]
            lines.append(
                f"  confidence {c['level']}: {len(c['for'])} signal(s) for, "
                f"{len(c['against'])} against"
            )
    for gap in summary.get("gaps", []):
        lines.append(f"graph gap: {one_line(gap)}")
    rejected = [a for a in summary.get("alternatives", []) if a["outcome"] != "not_tested"]
    if rejected:
        lines.append(f"alternatives rejected: {len(rejected)} (see the report)")
    cf = summary["counterfactual"]
    if cf.get("flipped") is not None:
        lines.append(f"blast radius: {cf['flipped']} of {cf['total']} decisions flip")
        if cf.get("errored"):
            lines.append(f"  {cf['errored']} errored, never scored (not counted as flips)")
    v = summary.get("validation")
    if v:
        lines.append(f"validation: {'recovered' if v['recovered'] else 'not recovered'}")
    for error in summary.get("errors", []):
        lines.append(f"error: {one_line(error)}")  # a scorer's error body may span lines
    lines.append(f"report: {summary['report']}")
    lines.append(f"trail: {summary['trail_count']} entries, head {summary['trail_head']}")
    return "\n".join(lines)
