"""What every step pane shares: a placeholder until its result arrives, the detail view of
what it shows (v), and the key that gives it the whole terminal (m)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Static

from console.playbook.model import Playbook
from console.ui.detail import Detail, DetailScreen
from console.ui.format import plain

# The keys every step pane has. Each has an id, so a keymap rebinds it like the console's own.
PANE_BINDINGS: list[Binding] = [
    # enter reaches the pane only where the focused widget does not take it (a table's enter
    # tests an edge in Locate, explains a decision in Counterfactual).
    Binding(
        "v,enter",
        "detail",
        "Detail",
        id="pane-detail",
        tooltip="Show everything this step cut to fit, in full, with keys to copy it",
    ),
    Binding(
        "m",
        "maximize_pane",
        "Maximise",
        show=False,
        id="pane-maximize",
        tooltip="Give this step the whole terminal (m or esc restores)",
    ),
]


class StepPane(Vertical):
    """A step's screen. It is given what it shows: the playbook when built, each result by
    the app's message handlers (show_<result>(...)); it never reads the app's state."""

    STEP = ""
    HINT = ""
    BINDINGS: ClassVar[list[BindingType]] = [*PANE_BINDINGS]
    ALLOW_MAXIMIZE = True  # the pane, not the table inside it: its detail line stays in view

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

    def detail(self) -> Detail | None:
        """Everything the pane shows, in full (None until it has a result)."""
        return None

    def action_detail(self) -> None:
        detail = self.detail()
        if detail is None:
            self.app.notify("Nothing to show in detail yet: r runs this step", timeout=3)
            return
        self.app.push_screen(DetailScreen(detail))

    def action_maximize_pane(self) -> None:
        screen = self.screen
        if screen.maximized is self:
            screen.minimize()
        else:
            screen.maximize(self, container=False)
