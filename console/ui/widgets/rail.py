"""The step rail: each step's state, one line when narrow, a column when there is room.
A click on a step shows it, as its number key does."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from console.ui.state import StepState
from console.ui.steps.table import STEP_TABLE

MARKS = {
    "pending": "·",
    "current": "▶",
    "done": "✓",
    "skipped": "-",
    "broken": "✗",
    "failed": "!",
}
STYLES = {
    "pending": "dim",
    "current": "bold reverse",
    "done": "green",
    "skipped": "dim strike",
    "broken": "bold red",
    "failed": "bold white on red",
}
WORDS = {
    "pending": "",
    "current": "",
    "done": "done",
    "skipped": "skipped",
    "broken": "broken found",
    "failed": "failed",
}
CURRENT_FAILED_STYLE = "bold reverse red"


class StepRail(Widget):
    states: reactive[dict[str, StepState]] = reactive(dict, always_update=True)
    # Steps whose latest attempt failed: the current one is drawn in red and says so too.
    failed: reactive[frozenset[str]] = reactive(frozenset)
    # The steps answer clicks (@click in render) but are not drawn as links: the rail's
    # states are its styles, and an underline on every step would read as one more.
    auto_links: reactive[bool] = reactive(False)

    def render(self) -> Text:
        states = self.states or {spec.id: "pending" for spec in STEP_TABLE}
        text = Text()
        vertical = self.size.height > 1
        for number, spec in enumerate(STEP_TABLE, start=1):
            step, title = spec.id, spec.title
            state = states.get(step, "pending")
            style = STYLES[state]
            words = WORDS[state]
            if state == "current" and step in self.failed:
                style, words = CURRENT_FAILED_STYLE, WORDS["failed"]
            # Textual runs a segment's @click action on a click: the step's whole label
            # (and its words line) answers, through the same action as the keys 1-6.
            click = Style.from_meta({"@click": f"app.goto({step!r})"})
            if vertical:
                if number > 1:
                    text.append("\n")
                text.append(
                    f" {MARKS[state]} {number} {title:<15}", style=Style.parse(style) + click
                )
                if words:
                    quiet = state not in ("broken", "failed") and words != WORDS["failed"]
                    words_style = Style.parse("dim" if quiet else "red") + click
                    text.append(f"\n     {words}", style=words_style)
            else:
                short = title if self.size.width >= 90 or len(title) <= 9 else title[:7] + "."
                text.append(f"{MARKS[state]}{number} {short}", style=Style.parse(style) + click)
                text.append(" ")
        return text
