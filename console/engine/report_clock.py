"""The report's times and durations: to the second, in one chosen time zone.

A post-mortem reader compares times across sections (key times, timeline, log), so every time
in the report goes through `Clock.at` and every duration through `span`: one zone, one format,
seconds and never microseconds (the trail keeps the microseconds; the report quotes the second).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from console.audit.entry import parse_ts
from console.errors import ConsoleError


class Clock:
    """Times shown in one zone: UTC as 2026-03-01T14:00:00Z, any other zone with its offset
    (2026-03-01T15:00:00+01:00), so a pasted line says which zone it is in."""

    def __init__(self, zone: str | None = None) -> None:
        self.name = zone or "UTC"
        self.zone: tzinfo = UTC if zone in (None, "UTC") else _zone(self.name)

    def at(self, value: datetime) -> str:
        local = value.astimezone(self.zone).replace(microsecond=0)
        if self.zone is UTC:
            return local.replace(tzinfo=None).isoformat() + "Z"
        return local.isoformat()

    def entry(self, ts: str) -> str:
        """A trail entry's timestamp (UTC with microseconds) shown to the second."""
        return self.at(parse_ts(ts))


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConsoleError(
            f"time zone {name!r} is unknown: give an IANA name (Europe/Paris) or UTC"
        ) from exc


def span(delta: timedelta) -> str:
    """A duration to the second: '45 s', '12 min 05 s', '3 h 04 min 05 s', '2 d 03 h 04 min 05 s';
    a negative one is shown with a minus sign (two clocks that disagree, never hidden)."""
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        text = f"{days} d {hours:02d} h {minutes:02d} min {secs:02d} s"
    elif hours:
        text = f"{hours} h {minutes:02d} min {secs:02d} s"
    elif minutes:
        text = f"{minutes} min {secs:02d} s"
    else:
        text = f"{secs} s"
    return sign + text
