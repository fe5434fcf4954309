"""Launch to the first drawn Triage screen (issue 21, item 6): `incident-console open` on a
bundled scenario, in a pseudo-terminal of 80x24, from the process start until the Triage
pane's check table (its "evidence" column) has been written to the terminal. A new incident
folder each launch, so each one opens afresh and starts the triage checks, as a page does.

The figure times LAUNCHES launches one after the other (rows: the launches, so seconds/rows
is the mean launch). Reference (--compare): the same loop over a bare Textual app that draws
the same word, the floor any Textual console pays (interpreter, textual, the first frame).

A pty instead of tmux: nothing to install, and the bytes are read as the app writes them.

The setup compiles the package's bytecode first, as the first launch on a user's machine leaves
it: where PYTHONDONTWRITEBYTECODE is set (this project's CI shell sets it) every launch would
otherwise compile every module of the console from source, which no user's second launch does.

The issue's goal is a median (of 7 launches), which the runner's seconds/rows is not; run this
file itself for the medians, console and bare app interleaved in one run, with the load:

    .venv/bin/python bench/bench_first_screen.py [LAUNCHES]

It also prints when the investigation is open (the trail tail shows the session's open entry):
the console draws first and opens after that frame, so that moment is a figure of its own.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import statistics
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
OPEN_MARK = b"session/open"  # the trail tail's first entry: the investigation is open
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
    _compile_bytecode()
    return _launches(ctx.work, LAUNCHES)


def _compile_bytecode() -> None:
    """The console's modules compiled to __pycache__ (written whatever the environment says)."""
    import compileall

    import console

    compileall.compile_dir(Path(console.__file__).parent, quiet=1)


def _launches(work: Path, count: int) -> Launches:
    folder = scenario_dir(SCENARIO)
    cli = str(Path(sys.executable).with_name("incident-console"))
    console = [
        [cli, "open", str(folder / "playbook.toml"), "--telemetry", str(folder),
         "--incident-dir", str(work / f"incident-{i}"), "--actor", "bench"]
        for i in range(count)
    ]  # fmt: skip
    return Launches(console, [sys.executable, "-c", BARE_APP])


def time_to_mark(command: list[str]) -> float:
    """Seconds from starting `command` in an 80x24 pty until MARK has been written."""
    return times_to_marks(command, (MARK,))[MARK]


def times_to_marks(command: list[str], marks: tuple[bytes, ...]) -> dict[bytes, float]:
    """Seconds from starting `command` in an 80x24 pty until each of marks has been written."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}
    started = time.perf_counter()
    child = subprocess.Popen(
        command, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    seen = b""
    found: dict[bytes, float] = {}
    keep = max(len(mark) for mark in marks)
    try:
        while len(found) < len(marks):
            if time.perf_counter() - started > TIMEOUT:
                raise RuntimeError(f"no {marks!r} after {TIMEOUT} s: {seen[-400:]!r}")
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError as exc:  # the child ended and closed the pty
                    raise RuntimeError(f"ended before drawing: {seen[-400:]!r}") from exc
                # Keep a tail: a mark may be split between two reads.
                seen = seen[-keep:] + chunk
                at = time.perf_counter() - started
                found |= {mark: at for mark in marks if mark not in found and mark in seen}
        return found
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


def medians(launches: int) -> dict[str, object]:
    """The issue's figure: medians of `launches`, console and bare app alternating."""
    import tempfile

    _compile_bytecode()
    with tempfile.TemporaryDirectory() as work:
        state = _launches(Path(work), launches)
        console, bare = [], []
        for command in state.console:
            console.append(times_to_marks(command, (MARK, OPEN_MARK)))
            bare.append(time_to_mark(state.bare))
    first = statistics.median(run[MARK] for run in console)
    return {
        "name": "ui_first_screen_median",
        "launches": launches,
        "first_screen_seconds": round(first, 3),
        "open_seconds": round(statistics.median(run[OPEN_MARK] for run in console), 3),
        "bare_textual_app_seconds": round(statistics.median(bare), 3),
        "ratio": round(first / statistics.median(bare), 2),
        "load": [round(x, 2) for x in os.getloadavg()],
    }


if __name__ == "__main__":
    print(json.dumps(medians(int(sys.argv[1]) if len(sys.argv) > 1 else LAUNCHES)))
