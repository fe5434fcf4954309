"""Launch to the first drawn Triage screen (issue 21, item 6): `incident-console open` on a
bundled scenario, in a pseudo-terminal of 80x24, from the process start until the Triage
pane's check table (its "evidence" column) has been written to the terminal. A new incident
folder each launch, so each one opens afresh and starts the triage checks, as a page does.

The figure times LAUNCHES launches one after the other (rows: the launches, so seconds/rows
is the mean launch). Reference (--compare): the same loop over a bare Textual app that draws
the same word, the floor any Textual console pays (interpreter, textual, the first frame).

A pty instead of tmux: nothing to install, and the bytes are read as the app writes them.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path

from harness import Bench, Context, Reference

from console.paths import scenario_dir

SCENARIO = "fraud-friday-noon"
LAUNCHES = 7
MARK = b"evidence"  # the check table's column header: the Triage screen is drawn
TIMEOUT = 30.0
BARE_APP = (
    "from textual.app import App\n"
    "from textual.widgets import Static\n"
    "class Bare(App):\n"
    "    def compose(self):\n"
    "        yield Static('check  evidence')\n"
    "Bare().run()\n"
)


@dataclass(frozen=True)
class Launches:
    console: list[list[str]]  # one command a launch, each with its own incident folder
    bare: list[str]


def _setup(ctx: Context) -> Launches:
    ctx.setup("first_screen_commands")
    folder = scenario_dir(SCENARIO)
    cli = str(Path(sys.executable).with_name("incident-console"))
    console = [
        [cli, "open", str(folder / "playbook.toml"), "--telemetry", str(folder),
         "--incident-dir", str(ctx.work / f"incident-{i}"), "--actor", "bench"]
        for i in range(LAUNCHES)
    ]  # fmt: skip
    return Launches(console, [sys.executable, "-c", BARE_APP])


def time_to_mark(command: list[str]) -> float:
    """Seconds from starting `command` in an 80x24 pty until MARK has been written."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}
    started = time.perf_counter()
    child = subprocess.Popen(
        command, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    seen = b""
    try:
        while MARK not in seen:
            if time.perf_counter() - started > TIMEOUT:
                raise RuntimeError(f"no {MARK!r} after {TIMEOUT} s: {seen[-400:]!r}")
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError as exc:  # the child ended and closed the pty
                    raise RuntimeError(f"ended before drawing: {seen[-400:]!r}") from exc
                # Keep a tail: the mark may be split between two reads.
                seen = seen[-len(MARK) :] + chunk
        return time.perf_counter() - started
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # the group this call started, only
        child.wait()
        os.close(master)


def first_screen(state: Launches) -> int:
    for command in state.console:
        time_to_mark(command)
    return len(state.console)


def _bare_app(state: Launches) -> None:
    for _ in state.console:
        time_to_mark(state.bare)


BENCHMARKS = [
    Bench("ui_first_screen", _setup, first_screen, Reference("bare_textual_app", _bare_app)),
]
