"""Text formatting shared by the console's widgets (numbers, windows, durations, bars)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rich.text import Text

from console.numbers import clock, signed_pct
from console.text import one_line, terminal

BAR_BLOCKS = " ▏▎▍▌▋▊▉█"


def plain(value: Any, style: str = "", *, lines: bool = False) -> Text:
    """Data (a note, a change event, a category, an error) as Text shown exactly as it is:
    never read as Rich or Textual markup, its control characters made visible, on one line
    unless `lines`."""
    return Text(terminal(value) if lines else one_line(value), style=style)


def fmt_num(value: Any, digits: int = 4) -> str:
    """A number short enough for a table cell; other values as text."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
            return f"{value:.2e}"
        return f"{value:.{digits}g}"
    if isinstance(value, list | tuple):
        return ", ".join(fmt_num(v, digits) for v in value)
    return str(value)


def fmt_pct(value: float | None) -> str:
    return signed_pct(value, missing="-")


def display_time(moment: datetime, zone: ZoneInfo | None = None) -> datetime:
    """`moment` in the zone the console shows times in (the config's `timezone`; UTC when
    none is set). Only what is drawn moves: the trail, reports and exports stay UTC."""
    return moment.astimezone(zone or UTC)


def zone_label(zone: ZoneInfo | None) -> str:
    """The zone's name as the header shows it beside the windows."""
    return zone.key if zone else "UTC"


def fmt_clock(moment: datetime, zone: ZoneInfo | None = None) -> str:
    """'15:21:07': a trail entry's time of day, in the display zone."""
    return display_time(moment, zone).strftime("%H:%M:%S")


def fmt_window(start: datetime, end: datetime, zone: ZoneInfo | None = None) -> str:
    """'11-20 08:00..12:00' on one day, '11-12 08:00..11-19 08:00' across days (in the display
    zone, UTC by default)."""
    start, end = display_time(start, zone), display_time(end, zone)
    left = start.strftime("%m-%d %H:%M")
    right = end.strftime("%H:%M") if start.date() == end.date() else end.strftime("%m-%d %H:%M")
    return f"{left}..{right}"


def fmt_elapsed(delta: timedelta) -> str:
    return clock(delta)


def bar(fraction: float, width: int) -> str:
    """A horizontal bar of `width` cells filled to `fraction` (0..1), with eighth blocks."""
    fraction = min(max(fraction, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (BAR_BLOCKS[part] if part else "")
    return text.ljust(width)


def bar_chart(
    labels: list[str], series: dict[str, list[float]], width: int, styles: list[str]
) -> Text:
    """Rows of `label  bar bar ...`, one bar per series, scaled to the largest value."""
    names = list(series)
    # A "(n others)" row summing many categories would flatten every other bar: it is left
    # out of the scale (its bar is clipped at full width, its value still printed).
    scaled = [i for i, label in enumerate(labels) if not label.endswith("others)")]
    peak = (
        max(
            (abs(values[i]) for values in series.values() for i in scaled if i < len(values)),
            default=0.0,
        )
        or 1.0
    )
    label_width = min(max((len(label) for label in labels), default=4), 16)
    bar_width = max(4, (width - label_width - 3 - 8 * len(names)) // max(1, len(names)))
    text = Text()
    text.append(" " * (label_width + 1))
    for name, style in zip(names, styles, strict=False):
        text.append(f"{one_line(name)[: bar_width + 6]:<{bar_width + 7}}", style=style)
    for row, label in enumerate(labels):
        text.append("\n")
        text.append(f"{one_line(label)[:label_width]:<{label_width}} ")
        for name, style in zip(names, styles, strict=False):
            value = series[name][row] if row < len(series[name]) else 0.0
            text.append(bar(abs(value) / peak, bar_width), style=style)
            text.append(f"{value:6.3f} ")
    return text


def signed_bars(items: list[tuple[str, float]], width: int) -> Text:
    """A diverging bar chart: negative values to the left of the axis, positive to the right."""
    peak = max((abs(v) for _, v in items), default=0.0) or 1.0
    label_width = min(max((len(label) for label, _ in items), default=4), 22)
    half = max(4, (width - label_width - 10) // 2)
    text = Text()
    for index, (label, value) in enumerate(items):
        if index:
            text.append("\n")
        text.append(f"{one_line(label)[:label_width]:<{label_width}} ")
        if value < 0:
            # Eighth blocks are left-aligned, so a bar growing leftwards uses whole cells.
            cells = "█" * round(abs(value) / peak * half)
            text.append(cells.rjust(half), style="red")
            text.append("│")
            text.append(" " * half)
        else:
            text.append(" " * half)
            text.append("│")
            text.append(bar(abs(value) / peak, half), style="green")
        text.append(f" {value:+.3f}")
    return text


def fit_bins(
    edges: list[float] | list[str], series: dict[str, list[float]], rows: int
) -> tuple[list[str], dict[str, list[float]]]:
    """Histogram labels and shares reduced to at most `rows` rows, so a histogram of 20 bins
    fits a 24-line terminal: numeric bins are merged in runs of neighbours, categories beyond
    the largest ones are summed into one "(n others)" row."""
    rows = max(2, rows)
    bounds = [float(e) for e in edges if isinstance(e, int | float)]
    if edges and len(bounds) == len(edges):
        labels, merged = _merge_numeric(bounds, series, rows)
        # Empty bins (a 0/1 feature leaves eight of ten empty) say nothing; the ranges of
        # the bins that remain show where the gaps are.
        keep = [i for i in range(len(labels)) if any(v[i] for v in merged.values())]
        return [labels[i] for i in keep], {n: [v[i] for i in keep] for n, v in merged.items()}
    labels = [str(e) for e in edges]
    if len(labels) <= rows:
        return labels, series
    weight = [max(values[i] for values in series.values()) for i in range(len(labels))]
    keep = sorted(sorted(range(len(labels)), key=lambda i: -weight[i])[: rows - 1])
    rest = [i for i in range(len(labels)) if i not in set(keep)]
    out_labels = [labels[i] for i in keep] + [f"({len(rest)} others)"]
    out = {
        name: [values[i] for i in keep] + [sum(values[i] for i in rest)]
        for name, values in series.items()
    }
    return out_labels, out


def _merge_numeric(
    edges: list[float], series: dict[str, list[float]], rows: int
) -> tuple[list[str], dict[str, list[float]]]:
    """Neighbouring numeric bins summed in runs, so that at most `rows` remain."""
    count = len(edges) - 1
    group = -(-count // rows)  # ceiling division
    labels: list[str] = []
    merged: dict[str, list[float]] = {name: [] for name in series}
    for first in range(0, count, group):
        last = min(first + group, count)
        labels.append(f"{fmt_num(edges[first], 3)}–{fmt_num(edges[last], 3)}")
        for name, values in series.items():
            merged[name].append(sum(values[first:last]))
    return labels, merged
