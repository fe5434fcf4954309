"""The Triage pane's metric plot. A module of its own because plotext costs ~60 ms to import:
the pane imports it only when a triage result is first drawn, after the first frame."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual_plotext import PlotextPlot


class MetricPlot(PlotextPlot):
    """A plotext plot drawn afresh at each size: plotext keeps the tick labels that fit the
    last size it was built at, so a plot built while hidden would keep a hidden plot's
    ticks."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.draw: Callable[[], None] | None = None

    def on_resize(self) -> None:
        if self.draw is not None:
            self.draw()
