"""`incident-console open`: open (or resume) an incident in the console; and the handler of
`gameday start`, which opens a bundled scenario the same way.

textual is imported inside the handlers, so other commands never load it.
"""

from __future__ import annotations

import argparse
import contextlib
from datetime import UTC, datetime
from pathlib import Path

from console.commands import add_command
from console.errors import ConsoleError
from console.files import atomic_write
from console.paths import SAMPLE_DATA_DIR, scenario_dir
from console.telemetry.windows import parse_utc


def register(sub) -> None:
    parser = add_command(
        sub,
        "open",
        "Open (or resume) an incident in the console.",
        "incident-console open playbooks/fraud.toml --telemetry data/ --incident-dir inc/",
        run_open,
    )
    parser.add_argument(
        "playbook", type=Path, metavar="PLAYBOOK", help="the model's playbook (TOML)"
    )
    parser.add_argument(
        "--telemetry",
        type=Path,
        required=True,
        metavar="DIR",
        help="the telemetry folder (or .duckdb file)",
    )
    _common(parser)
    parser.add_argument(
        "--alert-at",
        metavar="ISO",
        help="alert time, UTC (default: scenario.toml or the latest metric)",
    )
    parser.add_argument(
        "--metric", metavar="NODE", help="anomalous metric node (default: [triage] metric)"
    )


def add_gameday_start(sub) -> argparse.ArgumentParser:
    """The `gameday start` sub-command, registered by console/commands/gameday.py."""
    parser = add_command(
        sub,
        "start",
        "Start a game day on a bundled scenario in the console (graded at the end).",
        "incident-console gameday start recs-metadata-format",
        run_gameday_start,
    )
    parser.add_argument("scenario", metavar="SCENARIO", help="a folder of sample_data/")
    _common(parser)
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--incident-dir",
        type=Path,
        metavar="DIR",
        help="incident folder (default: ./incidents/<name>-<UTC time>)",
    )
    parser.add_argument("--actor", metavar="NAME", help="who acts (default: user@host)")
    parser.add_argument(
        "--keymap",
        type=Path,
        metavar="FILE",
        help="keymap TOML (default: $XDG_CONFIG_HOME/incident-console/keymap.toml)",
    )


def default_incident_dir(name: str) -> Path:
    return Path("incidents") / f"{name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"


def run_open(args) -> int:
    # Every argument is checked before anything is created (the incident folder, its trail).
    keymap = user_keymap(args.keymap)
    alert_at = parse_utc(args.alert_at) if args.alert_at else None
    playbook = Path(args.playbook)
    incident_dir = args.incident_dir or default_incident_dir(playbook.stem)
    return launch(
        playbook,
        Path(args.telemetry),
        incident_dir,
        actor=args.actor,
        keymap=keymap,
        alert_at=alert_at,
        metric=args.metric,
    )


def run_gameday_start(args) -> int:
    folder = scenario_dir(args.scenario)
    if not (folder / "scenario.toml").is_file():
        known = sorted(p.name for p in SAMPLE_DATA_DIR.glob("*") if (p / "scenario.toml").is_file())
        raise ConsoleError(
            f"no bundled scenario {args.scenario!r} in {SAMPLE_DATA_DIR} "
            f"(scenarios: {', '.join(known) or 'none'})"
        )
    keymap = user_keymap(args.keymap)  # before the playbook copy creates the incident folder
    from console.ui.app import GameDay

    incident_dir = Path(args.incident_dir or default_incident_dir(args.scenario))
    created = not incident_dir.exists()
    try:
        return launch(
            game_day_playbook(folder, incident_dir),
            folder,
            incident_dir,
            actor=args.actor,
            keymap=keymap,
            gameday=GameDay(args.scenario, folder),
        )
    except ConsoleError:
        if created:
            _remove_playbook_copy(incident_dir)
        raise


def user_keymap(path: Path | None) -> dict[str, str]:
    """The keymap file, checked (an unknown binding id is a ConsoleError)."""
    from console.ui.bindings import BINDING_IDS
    from console.ui.keymap import load_keymap

    return load_keymap(path, BINDING_IDS)


def game_day_playbook(folder: Path, incident_dir: Path) -> Path:
    """The participant's own copy of the scenario's playbook, in the incident folder, so that
    accepting a proposed change in Validate never rewrites the bundled scenario."""
    copy = incident_dir / "playbook.toml"
    if not copy.exists():  # a resumed game day keeps its copy (and any accepted change)
        try:
            incident_dir.mkdir(parents=True, exist_ok=True)
            atomic_write(copy, (folder / "playbook.toml").read_bytes())
        except OSError as exc:
            raise ConsoleError(f"cannot copy the scenario's playbook to {copy}: {exc}") from exc
    return copy


def _remove_playbook_copy(incident_dir: Path) -> None:
    """A game day that did not open leaves no folder behind: the playbook copy this command
    made goes, and the folder too when nothing else was written into it. Once a trail exists
    the copy is the one its entries name, and stays."""
    if (incident_dir / "trail.jsonl").exists():
        return
    (incident_dir / "playbook.toml").unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # someone else wrote there: keep it
        incident_dir.rmdir()


def launch(
    playbook: Path,
    telemetry: Path,
    incident_dir: Path,
    *,
    actor,
    keymap,
    gameday=None,
    alert_at=None,
    metric=None,
) -> int:
    """Open the investigation (errors end on stderr, before the screen changes), run the app."""
    from console.engine.investigation import Investigation
    from console.ui.app import IncidentApp

    inv = Investigation.open(
        playbook, telemetry, incident_dir, actor=actor, alert_at=alert_at, metric=metric
    )
    try:
        IncidentApp(inv, gameday=gameday, keymap=keymap).run()
    finally:
        inv.close()
    print(f"incident folder: {incident_dir}")
    return 0
