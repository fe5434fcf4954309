"""A live tail of the audit trail: the last entries, read incrementally with audit.Tail."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from console.audit.entry import Entry
from console.audit.vocabulary import Step, summary
from console.text import one_line

if TYPE_CHECKING:
    from console.audit.trail import Tail

STEP_STYLES = {
    Step.TRIAGE: "cyan",
    Step.LOCATE: "blue",
    Step.INTERVENE: "magenta",
    Step.COUNTERFACTUAL: "yellow",
    Step.VALIDATE: "green",
    Step.REPORT: "bold",
    Step.NOTE: "italic",
    Step.GAMEDAY: "bold magenta",
}


class TrailTail(Widget):
    """The newest entries that fit, newest last.

    Reading the file never happens on the UI thread: workers call `read_new` (thread-safe,
    incremental) and post what they read; the app's handlers pass it to `add`."""

    def __init__(self, incident_dir: Path, time_text: Callable[[Entry], str], **kwargs) -> None:
        super().__init__(**kwargs)
        self._incident_dir = incident_dir
        # Made by the first read, on a worker: the trail's reader (and the verifier it
        # imports) is not needed for the first frame.
        self._tail: Tail | None = None
        self._reading = threading.Lock()
        self._entries: deque[Entry] = deque(maxlen=50)
        self._time_text = time_text
        self.border_title = "Audit trail"

    def read_new(self, post: Callable[[list[Entry]], None]) -> None:
        """Read the entries appended since the last read (from any thread) and hand them to
        `post`, under one lock: messages then arrive in the order their entries were read."""
        with self._reading:
            if self._tail is None:
                from console.audit.trail import Tail

                self._tail = Tail(self._incident_dir)
            post(self._tail.poll())

    def add(self, entries: list[Entry]) -> None:
        if not entries:
            return
        self._entries.extend(entries)
        self.border_subtitle = f"{self._entries[-1].seq} entries"
        self.refresh(layout=True)  # the tail grows with its entries (app.tcss caps it)

    @property
    def entries(self) -> list[Entry]:
        return list(self._entries)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return max(1, len(self._entries))

    def render(self) -> Text:
        rows = max(1, self.content_size.height)
        width = max(1, self.content_size.width)
        lines = []
        for entry in list(self._entries)[-rows:]:
            line = Text(f"#{entry.seq:<3} {self._time_text(entry)} ", style="dim")
            # Steps, actions and notes are data: `trail note --step` writes any text.
            line.append(one_line(f"{entry.step}/{entry.action}"), style=STEP_STYLES.get(entry.step))
            line.append(f" {one_line(summary(entry, short=True))}")
            line.truncate(width, overflow="ellipsis")
            lines.append(line)
        return Text("\n").join(lines)
