"""`incident-console stats`: the audit measured over a folder of incident folders.

The reading is console.engine.stats_incidents; this module prints it (or writes --json).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from console.commands import add_command


def register(sub) -> None:
    p = add_command(
        sub,
        "stats",
        "Time to root cause, false-alarm share, finished reports and graph updates accepted, "
        "per model and month, from every incident folder's trail.",
        "incident-console stats incidents/ --json stats.json",
        _stats,
    )
    p.add_argument(
        "incidents", type=Path, metavar="INCIDENTS_DIR", help="folder of incident folders"
    )
    p.add_argument("--json", type=Path, default=None, help="write the figures as JSON to this file")


def _stats(args: argparse.Namespace) -> int:
    from console.engine.stats_incidents import incident_stats
    from console.files import atomic_write
    from console.numbers import share
    from console.text import one_line

    found = incident_stats(args.incidents)
    body = found.to_dict()
    if args.json is not None:
        text = json.dumps(body, indent=2, sort_keys=True, allow_nan=False)
        atomic_write(args.json.resolve(), text + "\n")
    header = (
        "model",
        "month",
        "incidents",
        "causes",
        "median min",
        "false alarms",
        "reports",
        "updates",
    )
    rows = [header] + [
        (
            one_line(g["model"]), one_line(g["month"]), str(g["incidents"]), str(g["root_causes_found"]),
            "n/a" if g["median_minutes_to_root_cause"] is None
            else f"{g['median_minutes_to_root_cause']:.1f}",
            share(g["false_alarm_share"]), share(g["finished_report_share"]),
            str(g["graph_updates_accepted"]),
        )
        for g in body["per_model_month"]
    ]  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    a = body["all"]
    print(
        f"all: {a['incidents']} incidents, {a['root_causes_found']} root causes, "
        f"false alarms {share(a['false_alarm_share'])}, "
        f"finished reports {share(a['finished_report_share'])}, "
        f"{a['graph_updates_accepted']} graph updates accepted"
    )
    for name in body["unverified"]:
        print(f"not counted (trail does not verify): {one_line(name)}")
    return 0
