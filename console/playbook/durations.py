"""Durations as playbooks write them: a whole number and a unit, "30s", "90m", "6h", "7d"."""

from __future__ import annotations

import re
from datetime import timedelta

from console.errors import ConsoleError

_DURATION = re.compile(r"(\d{1,20})([smhd])")
_UNITS: dict[str, timedelta] = {
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
    "s": timedelta(seconds=1),
}
DURATION_HINT = 'write a whole number and a unit s, m, h or d, e.g. "6h"'


def duration_problem(text: str) -> str | None:
    """Why text is not a duration, or None when it is one."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        return f"not a duration ({DURATION_HINT})"
    try:
        int(match.group(1)) * _UNITS[match.group(2)]
    except OverflowError:
        return "duration too long (at most 999999999d)"
    return None


def parse_duration(text: str) -> timedelta:
    """ "6h" -> timedelta(hours=6); ConsoleError naming the text when it is not a duration."""
    problem = duration_problem(text)
    match = _DURATION.fullmatch(text.strip())
    if problem or match is None:  # no match always has a problem; the test narrows the type
        raise ConsoleError(f"{text!r}: {problem}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def format_duration(value: timedelta) -> str:
    """The inverse of parse_duration, in the largest unit that divides the value exactly."""
    seconds = value.total_seconds()
    if seconds != int(seconds) or seconds < 0:
        raise ConsoleError(f"cannot write {value} as a duration of whole seconds")
    for unit, size in _UNITS.items():
        step = int(size.total_seconds())
        if seconds and seconds % step == 0:
            return f"{int(seconds) // step}{unit}"
    return "0s"
