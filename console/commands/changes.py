"""`incident-console changes import`: change events from a deploy tool's JSON into a
changes.parquet of the telemetry contract (console/intake/changes_import.py, docs/intake.md)."""

from __future__ import annotations

from pathlib import Path

from console.commands import add_command, add_group
from console.errors import ConsoleError
from console.intake.changes_import import IMPORTERS, map_changes, write_changes
from console.intake.payload import read_payload
from console.text import one_line

# How many unmapped names the listing shows; the count covers them all.
SHOWN_NAMES = 20


def register(sub) -> None:
    group = add_group(sub, "changes", "Import change events into the telemetry contract.")
    p = add_command(
        group,
        "import",
        "Read the JSON a deploy tool emits (kubectl events, Argo CD history, GitHub "
        "deployments, Grafana annotations) and write a changes.parquet, each event's node "
        "taken from the playbook's [changes.map]; events no entry maps are listed, not written.",
        "kubectl get events -A -o json | incident-console changes import --from k8s-events - "
        "--playbook playbooks/fraud.toml --out data/changes.parquet",
        _import,
    )
    p.add_argument("--from", dest="tool", required=True, choices=list(IMPORTERS), help="the tool")
    p.add_argument("file", metavar="FILE", help="the tool's JSON output (- for stdin)")
    p.add_argument("--playbook", required=True, type=Path, help="the playbook with [changes.map]")
    p.add_argument("--out", required=True, type=Path, help="the changes.parquet to write")
    p.add_argument(
        "--app",
        default="",
        help="argocd: the application's name when FILE is a bare history array",
    )


def _import(args) -> int:
    # The loader (networkx, duckdb) only when the command runs: every launch registers this one.
    from console.playbook.loader import load_playbook

    playbook = load_playbook(args.playbook)
    if not playbook.intake.change_map:
        raise ConsoleError(
            f"{args.playbook}: [changes.map] is empty or missing: nothing could map an event "
            "to a node (see docs/intake.md)"
        )
    if not args.out.parent.resolve().is_dir():
        raise ConsoleError(f"--out {args.out}: folder {args.out.parent} does not exist")
    parsed = IMPORTERS[args.tool](read_payload(args.file, "FILE"), {"app": args.app})
    mapped = map_changes(parsed.changes, playbook.intake.change_map)
    write_changes(mapped.rows, args.out)
    print(f"{args.out}: {len(mapped.rows)} change event(s) written")
    for reason, count in sorted(parsed.skipped.items()):
        print(f"skipped {count} {reason}")
    if mapped.unmapped:
        total = sum(mapped.unmapped.values())
        names = [f"{one_line(n)} ({c})" for n, c in mapped.unmapped.most_common(SHOWN_NAMES)]
        more = len(mapped.unmapped) - SHOWN_NAMES
        print(
            f"not written: {total} event(s) on {len(mapped.unmapped)} name(s) that "
            f"[changes.map] of {args.playbook} does not map: {', '.join(names)}"
            + (f" and {more} more" if more > 0 else "")
        )
    return 0
