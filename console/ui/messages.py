"""Messages workers post to the app; only their handlers touch widgets.

Each carries the trail entries its worker read after the call (read off the UI thread), so
the step rail is up to date before the result is shown.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message

from console.audit import Entry


class EngineDone(Message):
    """An engine call finished; `task` names it (e.g. "triage", "intervene")."""

    def __init__(self, task: str, result: Any, args: tuple[Any, ...], entries: list[Entry]) -> None:
        super().__init__()
        self.task = task
        self.result = result
        self.args = args
        self.entries = entries


class EngineFailed(Message):
    """An engine call raised. `expected` is True for a ConsoleError (the user can fix it)."""

    def __init__(
        self,
        task: str,
        error: BaseException,
        expected: bool,
        details: str,
        entries: list[Entry],
    ) -> None:
        super().__init__()
        self.task = task
        self.error = error
        self.expected = expected
        self.details = details
        self.entries = entries


class TrailRead(Message):
    """New trail entries, read by the tail's polling worker."""

    def __init__(self, entries: list[Entry]) -> None:
        super().__init__()
        self.entries = entries
