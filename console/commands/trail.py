"""`incident-console trail`: verify, export and annotate an incident's audit trail.

verify exits 0 when the trail is intact, 1 when it fails verification (naming the first bad
entry), 2 for usage or I/O errors (ConsoleError, via cli.main).
"""

from __future__ import annotations

import sys
from pathlib import Path

from console.commands import add_command, add_group
from console.errors import ConsoleError


def register(sub) -> None:
    from console.audit.export import FORMATS

    group = add_group(sub, "trail", "Verify, export and annotate an incident's audit trail.")

    p = add_command(
        group,
        "verify",
        "Check the hash chain, head.json, the evidence files and (with a key in the "
        "environment) every entry's MAC and head.json's signature.",
        'incident-console trail verify inc/ --head "count=6 hash=3f1c...e9 updated_at=..."',
        _verify,
    )
    p.add_argument("dir", type=Path, help="the incident folder (holding trail.jsonl)")
    p.add_argument(
        "--head",
        default=None,
        help="a head kept elsewhere: the line `trail head` printed, or a bare head hash",
    )

    p = add_command(
        group,
        "head",
        "Print the trail's head as one line to keep outside the folder (for verify --head).",
        "incident-console trail head inc/",
        _head,
    )
    p.add_argument("dir", type=Path, help="the incident folder (holding trail.jsonl)")

    p = add_command(
        group,
        "export",
        "Export the trail as JSON Lines, Parquet, CSV or a Markdown timeline; with --all, "
        "every format into the incident's exports/ folder, recorded in the trail (as the "
        "console's e does).",
        "incident-console trail export inc/ --format md --tz Europe/Paris --out timeline.md\n"
        "  incident-console trail export inc/ --all",
        _export,
    )
    p.add_argument("dir", type=Path, help="the incident folder")
    p.add_argument("--format", default=None, choices=tuple(FORMATS))
    p.add_argument("--out", default=None, type=Path, help="the file to write")
    p.add_argument(
        "--all",
        action="store_true",
        help="every format into DIR/exports/trail.<format> (instead of --format and --out)",
    )
    p.add_argument("--tz", default=None, help="show times in this zone (default UTC)")
    p.add_argument(
        "--playbook",
        type=Path,
        default=None,
        help="also hash this playbook's [privacy] sensitive columns (those recorded when the "
        "incident opened are always hashed)",
    )

    p = add_command(
        group,
        "note",
        "Append a note to the trail (waits for no one: fails if the incident is open elsewhere).",
        'incident-console trail note inc/ "root cause confirmed with the feature-store team"',
        _note,
    )
    p.add_argument("dir", type=Path, help="the incident folder")
    p.add_argument("text", help="the note")
    p.add_argument("--actor", default=None, help="who writes it (default user@host)")
    p.add_argument("--step", default="note", help="the step it belongs to (default note)")


def _verify(args) -> int:
    from console.audit import load_key, verify
    from console.audit.head import parse_head

    _require_trail_or_head(args.dir)
    given = parse_head(args.head) if args.head is not None else None
    key = load_key()
    report = verify(args.dir, head_hash=given, key=key)
    if report.ok:
        signed = ", signature ok" if key else ""
        print(f"{args.dir}: ok, {report.count} entries, head {report.head}{signed}")
        if report.note:
            print(f"incident-console: note: {report.note}", file=sys.stderr)
        return 0
    where = f" at entry {report.first_bad_seq}" if report.first_bad_seq is not None else ""
    print(
        f"incident-console: trail {args.dir} fails verification{where}: {report.problem}",
        file=sys.stderr,
    )
    return 1


def _head(args) -> int:
    from console.audit import load_key
    from console.audit.verification import verified_head

    _require_trail(args.dir)
    head, report = verified_head(args.dir, key=load_key())
    if head is None:
        print(
            f"incident-console: trail {args.dir} fails verification: {report.describe()}",
            file=sys.stderr,
        )
        return 1
    print(head.line())
    return 0


def _require_trail_or_head(folder: Path) -> None:
    # A head.json without its trail (or a garbage one) is a verification failure (exit 1),
    # not a usage error: verify says so.
    if not (folder / "trail.jsonl").is_file() and not (folder / "head.json").is_file():
        raise ConsoleError(f"no trail in {folder}: expected {folder / 'trail.jsonl'}")


def _export(args) -> int:
    from console.audit import load_key
    from console.audit.export import export
    from console.text import one_line

    _require_trail(args.dir)
    sensitive = _sensitive_keys(args.playbook) if args.playbook else ()
    if args.all:
        if args.format is not None or args.out is not None or args.tz is not None:
            raise ConsoleError(
                "trail export --all writes every format in UTC: drop --format, --out and --tz"
            )
        return _export_all(args, sensitive)
    if args.format is None or args.out is None:
        raise ConsoleError("trail export: give --format and --out, or --all")
    done = export(args.dir, args.format, args.out, tz=args.tz, sensitive=sensitive, key=load_key())
    beside = f" (header in {done.meta})" if done.meta else ""
    print(f"wrote {done.path}{beside}: {done.count} entries, head {done.head.hash}")
    if done.sensitive:
        shown = ", ".join(one_line(c) for c in done.sensitive)
        print(f"sensitive columns shown as salted hashes: {shown}")
    if not done.report.ok:
        print(f"incident-console: warning: {done.report.problem}", file=sys.stderr)
    return 0


def _export_all(args, sensitive) -> int:
    from console.audit import Trail, load_key, read_entries
    from console.audit.vocabulary import Facts
    from console.engine.usecases import export_all, written_report
    from console.text import one_line

    written = written_report(Facts.read(read_entries(args.dir)), args.dir)
    with Trail.open(args.dir) as trail:
        done = export_all(trail, sensitive, written, load_key())
    for name in done.files:
        print(f"wrote {one_line(str(args.dir / name))}")
    if done.verified:
        print(f"the trail verifies at head {done.head}")
        return 0
    print(
        f"incident-console: warning: the trail fails verification at head {done.head}",
        file=sys.stderr,
    )
    return 0


def _note(args) -> int:
    from console.audit import Trail

    if not args.step.strip():
        raise ConsoleError("--step '': name the step the note belongs to (default note)")
    _require_trail(args.dir)
    with Trail.open(args.dir, actor=args.actor) as trail:
        if trail.recovered:
            print(
                "incident-console: recovered the trail after a crash: "
                f"{trail.recovered.params['reason']} (entry {trail.recovered.seq})",
                file=sys.stderr,
            )
        entry = trail.note(args.text, step=args.step)
    print(f"appended entry {entry.seq} ({entry.ts}) to {trail.path}")
    return 0


def _require_trail(folder: Path) -> None:
    if not (folder / "trail.jsonl").is_file():
        raise ConsoleError(f"no trail in {folder}: expected {folder / 'trail.jsonl'}")


def _sensitive_keys(playbook: Path) -> list[str]:
    """The playbook's [privacy] sensitive columns (the playbook is loaded and validated); the
    export adds them to those the trail recorded when the incident opened."""
    from console.playbook.loader import load_playbook

    return list(load_playbook(playbook).sensitive)
