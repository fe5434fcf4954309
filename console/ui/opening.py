"""Opening the investigation after the first frame (issue 21: the first screen sooner).

The CLI checks what is cheap (arguments, the playbook, the telemetry folder, the trail lock)
and hands the app an Opening: the parsed playbook, which the panes' shells need, and the slow
part (opening the store, binding, resuming from the trail) as a call. The app draws its first
frame, then starts the call on a thread of its own; what the thread read once the
investigation is open reaches the app as one message (InvestigationOpened, carrying Opened).

A plain thread, not a Textual worker: the open cannot be interrupted halfway (it may be
writing the trail's first entry), so the CLI waits for it after the app has ended (quit while
opening) and closes what it opened; a worker could be dropped unstarted by the app's exit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from console.audit import Entry
from console.playbook.model import Playbook
from console.ui.state import Progress
from console.ui.widgets.trail_tail import TrailTail

if TYPE_CHECKING:
    from console.engine.context import ScenarioHints
    from console.engine.investigation import Investigation


@dataclass(frozen=True)
class Opened:
    """An open investigation and what the app shows from it: the trail so far (one read of
    the whole trail), the last report's text on resume, and the game day's scenario hints."""

    inv: Investigation
    entries: list[Entry]
    progress: Progress
    report_text: str | None
    scenario: ScenarioHints | None


def read_opened(
    inv: Investigation, tail: TrailTail, incident_dir: Path, scenario_folder: Path | None
) -> Opened:
    """Everything the app reads once the investigation is open. Off the UI thread: in the
    app's constructor (an investigation already open) or on the opening thread."""
    from console.engine.context import read_scenario_hints

    entries: list[Entry] = []
    tail.read_new(entries.extend)
    progress = Progress.from_entries(entries)
    hints = read_scenario_hints(scenario_folder) if scenario_folder is not None else None
    return Opened(inv, entries, progress, _report_text(incident_dir, progress), hints)


def _report_text(incident_dir: Path, progress: Progress) -> str | None:
    """The text of the last report the trail says was written; None when there is none or
    the file is gone (r writes it again)."""
    entry = progress.facts.report
    if entry is None:
        return None
    from console.engine.usecases import report_path

    try:
        return (incident_dir / report_path(entry)).read_text(encoding="utf-8")
    except OSError:
        return None


class Opening:
    """An investigation still to open: the playbook (already parsed and checked by the CLI),
    the incident folder, and the call that opens it."""

    def __init__(
        self, playbook: Playbook, incident_dir: Path, open_call: Callable[[], Investigation]
    ) -> None:
        self.playbook = playbook
        self.incident_dir = incident_dir
        self._open_call = open_call
        self._thread: threading.Thread | None = None
        self.inv: Investigation | None = None
        self.error: BaseException | None = None

    def start(
        self, opened: Callable[[Investigation], object], failed: Callable[[], object]
    ) -> None:
        """Open on a thread of its own, then opened(inv); or failed() when either raised (the
        error is kept in self.error for the CLI to end with, after the app, and an
        investigation already open in self.inv for it to close). Both run on that thread."""

        def run() -> None:
            try:
                self.inv = self._open_call()
                opened(self.inv)
            except BaseException as exc:  # every error ends the app; the CLI reports it
                self.error = exc
                failed()

        self._thread = threading.Thread(target=run, name="open-investigation", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        """Wait for an open still running (the app ended first): it ends whole, never half."""
        if self._thread is not None:
            self._thread.join()
