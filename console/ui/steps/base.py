"""What every step pane shares: a placeholder until its result arrives, the detail view of
what it shows (v), and the key that gives it the whole terminal (m)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

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


# One part of a hint line: (binding id, what its key does), shown as the key the active
# keymap gives that binding; or a str shown as it is (a Textual key such as enter or the
# arrows, which no keymap rebinds, or words).
HintPart = tuple[str, str] | str
KeyText = Callable[[str], str]  # a binding id -> the key it answers to now


class StepPane(Vertical):
    """A step's screen. It is given what it shows: the playbook and the active keys when
    built, each result by the app's message handlers (show_<result>(...)); it never reads
    the app's state."""

    STEP = ""
    BINDINGS: ClassVar[list[BindingType]] = [*PANE_BINDINGS]
    ALLOW_MAXIMIZE = True  # the pane, not the table inside it: its detail line stays in view

    def __init__(
        self,
        playbook: Playbook,
        *,
        key_text: KeyText,
        zone: ZoneInfo | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.playbook = playbook
        self.key_text = key_text
        self.zone = zone  # the display time zone (the config's `timezone`; None: UTC)

    def hint(self, *parts: HintPart) -> str:
        """A hint line naming the keys of the active keymap, never the defaults: a user who
        rebound `run` to f5 reads `f5 re-run`."""
        return "   ".join(
            part if isinstance(part, str) else f"{self.key_text(part[0])} {part[1]}"
            for part in parts
        )

    def first_hint(self) -> str:
        """The hint before the step has a result."""
        return ""

    def compose_hint(self) -> Static:
        return Static(Text(self.first_hint()), classes="pane-hint")

    def set_hint(self, text: str) -> None:
        # Text, not markup: a hint quotes keys of the user's keymap (`[`) and paths.
        self.query_one(".pane-hint", Static).update(Text(text))

    def show_failed(self, error: str) -> None:
        """The step's latest attempt failed: said in place of the hint, with its error, until
        an attempt succeeds (show() sets the hint again)."""
        text = Text(" FAILED ", style="bold white on red")
        text.append_text(plain(f" {error}", "red"))
        text.append(f"   {self.key_text('run')} tries again", style="dim")
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
            self.app.notify(
                f"Nothing to show in detail yet: {self.key_text('run')} runs this step", timeout=3
            )
            return
        self.app.push_screen(DetailScreen(detail))

    def action_maximize_pane(self) -> None:
        screen = self.screen
        if screen.maximized is self:
            screen.minimize()
        else:
            screen.maximize(self, container=False)
