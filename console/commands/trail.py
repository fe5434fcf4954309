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
    group = add_group(sub, "trail", "Verify, export and annotate an incident's audit trail.")

    p = add_command(
        group,
        "verify",
        "Check the hash chain, head.json and (with a key in the environment) its signature.",
        "incident-console trail verify inc/ --head 3f1c...e9",
        _verify,
    )
    p.add_argument("dir", type=Path, help="the incident folder (holding trail.jsonl)")
    p.add_argument("--head", default=None, help="a head hash saved elsewhere (export, report)")

    p = add_command(
        group,
        "export",
        "Export the trail as JSON Lines, Parquet, CSV or a Markdown timeline.",
        "incident-console trail export inc/ --format md --tz Europe/Paris --out timeline.md",
        _export,
    )
    p.add_argument("dir", type=Path, help="the incident folder")
    p.add_argument("--format", required=True, choices=("jsonl", "parquet", "csv", "md"))
    p.add_argument("--out", required=True, type=Path, help="the file to write")
    p.add_argument("--tz", default=None, help="show times in this zone (default UTC)")
    p.add_argument(
        "--playbook", type=Path, default=None, help="hash the playbook's [privacy] sensitive keys"
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

    _require_trail(args.dir)
    if args.head is not None and not _is_hash(args.head):
        raise ConsoleError(f"--head {args.head!r} is not a sha256 hash (64 hex digits)")
    key = load_key()
    report = verify(args.dir, head_hash=args.head and args.head.lower(), key=key)
    if report.ok:
        signed = ", signature ok" if key else ""
        print(f"{args.dir}: ok, {report.count} entries, head {report.head}{signed}")
        return 0
    print(
        f"incident-console: trail {args.dir} fails verification at entry "
        f"{report.first_bad_seq}: {report.problem}",
        file=sys.stderr,
    )
    return 1


def _export(args) -> int:
    from console.audit import export, load_key

    _require_trail(args.dir)
    sensitive = _sensitive_keys(args.playbook) if args.playbook else ()
    done = export(args.dir, args.format, args.out, tz=args.tz, sensitive=sensitive, key=load_key())
    print(f"wrote {done.path}: {done.count} entries, head {done.head.hash}")
    if not done.report.ok:
        print(f"incident-console: warning: {done.report.problem}", file=sys.stderr)
    return 0


def _note(args) -> int:
    from console.audit import Trail

    _require_trail(args.dir)
    with Trail.open(args.dir, actor=args.actor) as trail:
        if trail.recovered:
            r = trail.recovered.result
            print(
                f"incident-console: recovered the trail after a crash: {r['torn_bytes']} torn "
                f"bytes moved to {r['side_file']} (entry {trail.recovered.seq})",
                file=sys.stderr,
            )
        entry = trail.note(args.text, step=args.step)
    print(f"appended entry {entry.seq} ({entry.ts}) to {trail.path}")
    return 0


def _is_hash(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text.lower())


def _require_trail(folder: Path) -> None:
    if not (folder / "trail.jsonl").is_file():
        raise ConsoleError(f"no trail in {folder}: expected {folder / 'trail.jsonl'}")


def _sensitive_keys(playbook: Path) -> list[str]:
    """The playbook's [privacy] sensitive keys (the playbook is loaded and validated)."""
    from console.playbook.loader import load_playbook

    return list(load_playbook(playbook).sensitive)
