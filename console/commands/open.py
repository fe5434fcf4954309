"""`incident-console open`: open (or resume) an incident in the console; and the handler of
`gameday start`, which opens a bundled scenario the same way.

textual is imported inside the handlers, so other commands never load it.
"""

from __future__ import annotations

import argparse
import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from console.commands import add_command
from console.config import Config, load_config
from console.errors import ConsoleError
from console.files import atomic_write
from console.paths import SAMPLE_DATA_DIR, scenario_dir

if TYPE_CHECKING:
    from console.intake.alert_intake import AlertIntake
    from console.playbook.model import Playbook


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
        default=None,
        metavar="DIR",
        help="the telemetry folder (or .duckdb file); optional when the playbook declares a "
        "source for every table",
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
    add_alert_option(parser)


def add_alert_option(parser: argparse.ArgumentParser) -> None:
    """--alert, shared with `investigate` (docs/intake.md)."""
    parser.add_argument(
        "--alert",
        metavar="FILE",
        help="the alert webhook's JSON (Alertmanager, Grafana or PagerDuty; - for stdin): its "
        "start time and labels pick the alert time and the metric ([[alerts.map]]); "
        "--alert-at and --metric win",
    )


def add_gameday_start(sub) -> argparse.ArgumentParser:
    """The `gameday start` sub-command, registered by console/commands/gameday.py."""
    parser = add_command(
        sub,
        "start",
        "Start a game day on a bundled scenario in the console (graded at the end).",
        "incident-console gameday start recs-weekday-afternoon",
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
    parser.add_argument(
        "--actor", metavar="NAME", help="who acts (default: the config's actor, else user@host)"
    )
    parser.add_argument(
        "--keymap",
        type=Path,
        metavar="FILE",
        help="keymap TOML (default: the config's keymap, else "
        "$XDG_CONFIG_HOME/incident-console/keymap.toml)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="config TOML (default: $INCIDENT_CONSOLE_CONFIG, else "
        "$XDG_CONFIG_HOME/incident-console/config.toml)",
    )


def default_incident_dir(name: str) -> Path:
    return Path("incidents") / f"{name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"


def run_open(args) -> int:
    # Every argument is checked before anything is created (the incident folder, its trail).
    config, keymap, actor = console_settings(args)
    alert_at = _alert_time(args.alert_at) if args.alert_at else None
    playbook = Path(args.playbook)
    if args.alert == "-":
        raise ConsoleError(
            "open --alert -: the console reads its keys from stdin, so the alert cannot come "
            "from there too; save the payload to a file and pass its name"
        )
    alert = read_alert(args.alert, playbook, alert_at=alert_at, metric=args.metric)
    incident_dir = args.incident_dir or default_incident_dir(playbook.stem)
    return launch(
        playbook,
        args.telemetry,
        incident_dir,
        actor=actor,
        keymap=keymap,
        config=config,
        alert_at=alert.alert_at if alert else alert_at,
        metric=alert.metric if alert else args.metric,
        alert=alert,
    )


def _alert_time(text: str) -> datetime:
    # Imported only with --alert-at: console.telemetry.windows loads the store (pyarrow,
    # duckdb), which the console's first frame does not need (the open imports it later).
    from console.telemetry.windows import parse_utc

    return parse_utc(text)


def read_alert(
    name: str | None, playbook: Path, *, alert_at: datetime | None, metric: str | None
) -> AlertIntake | None:
    """The --alert payload read and routed, or None without --alert."""
    if name is None:
        return None
    # Imported here: the intake loads the telemetry store (pyarrow, duckdb), which the
    # console's first frame does not need.
    from console.intake import alert_intake

    return alert_intake.read_alert(name, playbook, alert_at=alert_at, metric=metric)


def run_gameday_start(args) -> int:
    folder = scenario_dir(args.scenario)
    if not (folder / "scenario.toml").is_file():
        known = sorted(p.name for p in SAMPLE_DATA_DIR.glob("*") if (p / "scenario.toml").is_file())
        raise ConsoleError(
            f"no bundled scenario {args.scenario!r} in {SAMPLE_DATA_DIR} "
            f"(scenarios: {', '.join(known) or 'none'})"
        )
    # Before the playbook copy creates the incident folder.
    config, keymap, actor = console_settings(args)
    from console.ui.app import GameDay

    incident_dir = Path(args.incident_dir or default_incident_dir(args.scenario))
    created = not incident_dir.exists()
    try:
        return launch(
            game_day_playbook(folder, incident_dir),
            folder,
            incident_dir,
            actor=actor,
            keymap=keymap,
            config=config,
            gameday=GameDay(args.scenario, folder),
        )
    except ConsoleError:
        if created:
            _remove_playbook_copy(incident_dir)
        raise


def console_settings(args: argparse.Namespace) -> tuple[Config, dict[str, str], str | None]:
    """The config, the keymap and the actor, each flag winning over the config file's key;
    all checked, so a bad one ends before anything is created."""
    config = user_config(args.config)
    return config, user_keymap(args.keymap or config.keymap), args.actor or config.actor


def user_config(path: Path | None) -> Config:
    """The config file, checked, its theme name too (a ConsoleError names the file and key)."""
    from console.ui.app import check_theme

    config = load_config(path)
    check_theme(config)
    return config


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
    telemetry: Path | None,
    incident_dir: Path,
    *,
    actor,
    keymap,
    config: Config,
    gameday=None,
    alert_at=None,
    metric=None,
    alert: AlertIntake | None = None,
) -> int:
    """Check what is cheap (errors end on stderr, before any screen), then run the app, which
    draws its first frame and opens the investigation after it (console/ui/opening.py). An
    error opening it ends the app, then ends here as it would have before the screen."""
    from console.ui.app import IncidentApp
    from console.ui.opening import Opening

    book = check_before_open(playbook, telemetry, incident_dir, actor)

    def open_investigation():
        # On the app's opening thread: the engine (pyarrow, duckdb) is imported here, after
        # the first frame, not before it.
        from console.engine.investigation import Investigation

        inv = Investigation.open(
            playbook, telemetry, incident_dir, actor=actor, alert_at=alert_at, metric=metric
        )
        if alert is not None:
            from console.intake.alert_intake import keep_alert

            try:
                keep_alert(alert, incident_dir, inv.record)
            except BaseException:
                inv.close()
                raise
        return inv

    opening = Opening(book, incident_dir, open_investigation)
    try:
        IncidentApp(opening, gameday=gameday, keymap=keymap, config=config).run()
    finally:
        opening.wait()  # an open still running when the app ended (quit): it ends whole
        if opening.inv is not None:
            opening.inv.close()
    if opening.error is not None:
        raise opening.error
    print(f"incident folder: {incident_dir}")
    return 0


def check_before_open(
    playbook: Path, telemetry: Path | None, incident_dir: Path, actor: str | None
) -> Playbook:
    """The cheap checks, before the app starts, so that their errors end on stderr with no
    screen: the playbook parsed and validated (the panes are built from it), the telemetry
    folder there, and the trail not held by another console. The rest (the store, binding,
    resume) is checked by the open, after the first frame."""
    from console.audit import default_actor
    from console.audit.lock import TrailLock
    from console.playbook.loader import load_playbook

    book = load_playbook(playbook)
    if telemetry is not None and not telemetry.expanduser().exists():
        # The store's own words (console/telemetry/store.py, open_store).
        raise ConsoleError(f"telemetry {telemetry.expanduser().resolve()} does not exist")
    if (incident_dir / "trail.jsonl").exists():
        # Held by another console: its holder named now. Taken and let go at once; the open
        # takes it for the session. Only an existing trail: no file is left in a new folder.
        TrailLock.acquire(incident_dir, actor or default_actor(), "check").release()
    return book
