"""The `incident-console` command.

Each command group lives in console/commands/<group>.py and exposes
`register(subparsers)`; this module only assembles them and turns a ConsoleError into one
line on stderr and exit status 2. Modules that need textual import it inside their handler,
so `incident-console trail verify` never loads the UI.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from console import __version__
from console.errors import ConsoleError

# Order is the order shown in --help. Each name is a module of console/commands.
COMMAND_GROUPS: tuple[str, ...] = (
    "open",
    "investigate",
    "playbook",
    "telemetry",
    "trail",
    "gameday",
)

EPILOG = """\
examples:
  incident-console gameday start recs-metadata-format     # a bundled game day
  incident-console open playbooks/fraud.toml --telemetry DIR --incident-dir inc/
  incident-console investigate playbooks/fraud.toml --telemetry DIR --incident-dir inc/ --auto
  incident-console playbook check playbooks/fraud.toml
  incident-console trail verify inc/
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="incident-console",
        description="Walk a misbehaving production ML model through a mechanistic audit, "
        "recording every action in a tamper-evident trail.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_GROUPS:
        module = importlib.import_module(f"console.commands.{name.replace('-', '_')}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return int(args.func(args) or 0)
    except ConsoleError as exc:
        print(f"incident-console: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("incident-console: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
