"""The `incident-console` command.

Each command group lives in console/commands/<group>.py and exposes
`register(subparsers)`; this module only assembles them and turns a ConsoleError (or an
OSError, or a usage error) into one line on stderr and exit status 2. Modules that need textual
import it inside their handler, so `incident-console trail verify` never loads the UI.

Everything a command prints goes through here too: while a command runs, sys.stdout and
sys.stderr pass every write through console.text.terminal, so no control character from data
(a note, a change event's summary, a category value, a scorer's error body, a file name)
reaches the terminal raw, whichever module prints it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from console import __version__
from console.errors import ConsoleError
from console.text import one_line, terminal

# Order is the order shown in --help. Each name is a module of console/commands.
COMMAND_GROUPS: tuple[str, ...] = (
    "open",
    "investigate",
    "playbook",
    "telemetry",
    "changes",
    "trail",
    "role",
    "gameday",
    "audit",
    "stats",
)

EPILOG = """\
examples:
  incident-console gameday start recs-weekday-afternoon     # a bundled game day
  incident-console open playbooks/fraud.toml --telemetry DIR --incident-dir inc/
  incident-console investigate playbooks/fraud.toml --telemetry DIR --incident-dir inc/ --auto
  incident-console playbook check playbooks/fraud.toml
  incident-console trail verify inc/
"""


class Parser(argparse.ArgumentParser):
    """argparse with a usage error as one line (sub-command parsers inherit the class)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {one_line(message)} (see {self.prog} --help)\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser: every group's, or, when `command` names a group, that group's
    alone. A run knows its group from its first argument and builds only that one: a group's
    register imports what its options list (the trail's export formats load the exporter and
    the verifier, 0.08 s), which `open` would otherwise pay before the console's first frame.
    Anything else (no argument, --help, an unknown word) gets every group, so the help and
    the usage error name them all."""
    parser = Parser(
        prog="incident-console",
        description="Walk a misbehaving production ML model through a mechanistic audit, "
        "recording every action in a tamper-evident trail.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in (command,) if command in COMMAND_GROUPS else COMMAND_GROUPS:
        module = importlib.import_module(f"console.commands.{name.replace('-', '_')}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    with terminal_streams():
        try:
            return _run(argv)
        except SystemExit as exc:  # argparse: --help, --version or a usage error
            return 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 2


def _run(argv: list[str] | None) -> int:
    words = sys.argv[1:] if argv is None else argv
    parser = build_parser(words[0] if words else None)
    args = parser.parse_args(words)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        _require_utf8(parser, args)
        return int(args.func(args) or 0)
    except ConsoleError as exc:
        _fail(exc.args[0] if exc.args else "", exc.problems)
        return 2
    except OSError as exc:  # a write site that does not name its file itself
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(f"{where}{exc.strerror or exc}")
        return 2
    except KeyboardInterrupt:
        _fail("interrupted")
        return 130
    except Exception as exc:  # a bug: one line, and the traceback only when asked for
        if os.environ.get("INCIDENT_CONSOLE_TRACEBACK"):
            raise
        _fail(
            f"internal error (a bug, please report it): {type(exc).__name__}: {exc} "
            "(INCIDENT_CONSOLE_TRACEBACK=1 shows where)"
        )
        return 70


def _fail(message: str, problems: list[str] | None = None) -> None:
    """The error on stderr: one line, then the problems of a check, one line each."""
    lines = [f"incident-console: {one_line(message)}"]
    lines += [f"  - {one_line(problem)}" for problem in problems or ()]
    print("\n".join(lines), file=sys.stderr)


def _require_utf8(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Bytes that are not UTF-8 in an argument (Python keeps them as lone surrogates) would
    fail only when the trail or a file is written; they are refused first, by name."""
    names = _argument_names(parser, args)
    for dest, value in vars(args).items():
        text = str(value) if value is not None and not callable(value) else ""
        if any("\ud800" <= ch <= "\udfff" for ch in text):
            shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            raise ConsoleError(f"{names.get(dest, dest)} '{shown}' is not valid UTF-8")


def _argument_names(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, str]:
    """dest -> how the user wrote it (--actor, TEXT), over the chosen sub-command parsers."""
    names: dict[str, str] = {}
    current: argparse.ArgumentParser | None = parser
    while current is not None:
        chosen: argparse.ArgumentParser | None = None
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                chosen = action.choices.get(getattr(args, action.dest, None) or "")
            else:
                names[action.dest] = (
                    action.option_strings[-1] if action.option_strings else action.dest.upper()
                )
        current = chosen
    return names


class _TerminalStream:
    """A text stream whose writes are made safe for a terminal (console.text.terminal)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(terminal(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, isatty, encoding, ...
        return getattr(self._stream, name)


@contextmanager
def terminal_streams() -> Iterator[None]:
    """sys.stdout and sys.stderr as _TerminalStreams while a command runs."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _TerminalStream(sys.stdout), _TerminalStream(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


if __name__ == "__main__":
    raise SystemExit(main())
