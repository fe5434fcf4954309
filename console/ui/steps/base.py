"""What every step pane shares: a placeholder until its result arrives."""

from __future__ import annotations

from typing import Any

from textual.containers import Vertical
from textual.widgets import Static


class StepPane(Vertical):
    """A step's screen. The app calls show(task, result) from its message handlers."""

    STEP = ""
    HINT = ""

    def compose_hint(self) -> Static:
        return Static(self.HINT, classes="pane-hint")

    def set_hint(self, text: str) -> None:
        self.query_one(".pane-hint", Static).update(text)

    def show(self, task: str, result: Any) -> None:
        raise TypeError(f"{type(self).__name__} cannot show {task}")

    def focus_main(self) -> None:
        """Put the focus where this step's keys act (its table or tree, else the pane)."""
        self.focus()
