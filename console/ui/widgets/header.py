"""The incident header: model, metric, windows, severity and the elapsed time."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from console.text import one_line
from console.ui.format import fmt_elapsed, fmt_pct, fmt_window, zone_label

TIER_STYLES = {"critical": "bold white on red", "minor": "black on yellow", "none": "dim"}


class IncidentHeader(Widget):
    """Two lines; the app sets the fields and ticks `now` once a second."""

    model: reactive[str] = reactive("")
    metric: reactive[str] = reactive("")
    change: reactive[float | None] = reactive(None)
    tier: reactive[str] = reactive("")
    incident_window: reactive[tuple[datetime, datetime] | None] = reactive(None)
    baseline_window: reactive[tuple[datetime, datetime] | None] = reactive(None)
    started: reactive[datetime | None] = reactive(None)
    now: reactive[datetime | None] = reactive(None)
    label: reactive[str] = reactive("")  # "game day <scenario>" on a game day
    zone: reactive[ZoneInfo | None] = reactive(None)  # the display zone (config `timezone`)

    def render(self) -> Text:
        top = Text()
        top.append(f" {one_line(self.model)} ", style="bold")
        top.append("│ ")
        top.append(self.metric, style="bold cyan")
        if self.change is not None:
            top.append(f" {fmt_pct(self.change)}", style="bold")
        top.append(" │ ")
        tier = self.tier or "untriaged"
        top.append(f" {tier} ", style=TIER_STYLES.get(self.tier, "dim"))
        if self.started and self.now:
            clock = "game day" if self.label else "elapsed"
            top.append(f" │ {clock} {fmt_elapsed(self.now - self.started)}")
        bottom = Text(" ", style="dim")
        if self.incident_window:
            bottom.append("incident ", style="dim")
            bottom.append(fmt_window(*self.incident_window, self.zone))
        if self.baseline_window:
            bottom.append("  baseline ", style="dim")
            bottom.append(fmt_window(*self.baseline_window, self.zone))
        bottom.append(f"  {zone_label(self.zone)}", style="dim")
        if self.label:
            bottom.append(f"  {one_line(self.label)}", style="magenta")
        width = max(1, self.size.width)
        top.truncate(width, overflow="ellipsis")
        bottom.truncate(width, overflow="ellipsis")
        return top + Text("\n") + bottom
