"""What every step pane shares: a placeholder until its result arrives."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.containers import Vertical
from textual.widgets import Static

from console.playbook.model import Playbook
from console.ui.format import plain


class StepPane(Vertical):
    """A step's screen. It is given what it shows: the playbook when built, each result by
    the app's message handlers (show_<result>(...)); it never reads the app's state."""

    STEP = ""
    HINT = ""

    def __init__(self, playbook: Playbook, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.playbook = playbook

    def compose_hint(self) -> Static:
        return Static(self.HINT, classes="pane-hint")

    def set_hint(self, text: str) -> None:
        self.query_one(".pane-hint", Static).update(text)

    def show_failed(self, error: str) -> None:
        """The step's latest attempt failed: said in place of the hint, with its error, until
        an attempt succeeds (show() sets the hint again)."""
        text = Text(" FAILED ", style="bold white on red")
        text.append_text(plain(f" {error}", "red"))
        text.append("   r tries again", style="dim")
        self.query_one(".pane-hint", Static).update(text)

    def focus_main(self) -> None:
        """Put the focus where this step's keys act (its table or tree, else the pane)."""
        self.focus()
