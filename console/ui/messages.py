"""Messages workers post to the app; only their handlers touch widgets."""

from __future__ import annotations

from typing import Any

from textual.message import Message


class EngineDone(Message):
    """An engine call finished; `task` names it (e.g. "triage", "intervene")."""

    def __init__(self, task: str, result: Any, args: tuple[Any, ...]) -> None:
        super().__init__()
        self.task = task
        self.result = result
        self.args = args


class EngineFailed(Message):
    """An engine call raised. `expected` is True for a ConsoleError (the user can fix it)."""

    def __init__(self, task: str, error: BaseException, expected: bool, details: str) -> None:
        super().__init__()
        self.task = task
        self.error = error
        self.expected = expected
        self.details = details
