"""The console's last line of defence against terminal escapes in data.

Data is made visible where it enters a widget (console.text.one_line / terminal, via
console.ui.format.plain); this filter drops any control character that still reaches a line
about to be drawn (from a widget that shows data as it is), so none reaches the terminal.
"""

from __future__ import annotations

from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

from console.text import laid_out


class NoControlCodes(LineFilter):
    """Control characters removed from every segment drawn; the line keeps its width."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        return [
            segment if segment.control else Segment(laid_out(segment.text), segment.style)
            for segment in segments
        ]
