"""The step rail: each step's state, one line when narrow, a column when there is room."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from console.ui.state import STEPS, TITLES

MARKS = {"pending": "·", "current": "▶", "done": "✓", "skipped": "-", "broken": "✗"}
STYLES = {
    "pending": "dim",
    "current": "bold reverse",
    "done": "green",
    "skipped": "dim strike",
    "broken": "bold red",
}
WORDS = {
    "pending": "",
    "current": "",
    "done": "done",
    "skipped": "skipped",
    "broken": "broken found",
}


class StepRail(Widget):
    states: reactive[dict[str, str]] = reactive(dict, always_update=True)

    def render(self) -> Text:
        states = self.states or {step: "pending" for step in STEPS}
        text = Text()
        vertical = self.size.height > 1
        for number, step in enumerate(STEPS, start=1):
            state = states.get(step, "pending")
            title = TITLES[step]
            if vertical:
                if number > 1:
                    text.append("\n")
                text.append(f" {MARKS[state]} {number} {title:<15}", style=STYLES[state])
                if WORDS[state]:
                    text.append(
                        f"\n     {WORDS[state]}", style="dim" if state != "broken" else "red"
                    )
            else:
                short = title if self.size.width >= 90 or len(title) <= 9 else title[:7] + "."
                text.append(f"{MARKS[state]}{number} {short}", style=STYLES[state])
                text.append(" ")
        return text
