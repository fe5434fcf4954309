"""Number and time formatting shared by the engine, the report and the UI (one home).

Plain functions over plain values; nothing here imports textual or the engine. Where two
callers format the same figure differently on purpose (a report says "n/a", a table cell "-"),
the difference is a parameter or a named variant here, not a copy.
"""

from __future__ import annotations

import math
from datetime import timedelta


def num(value: float | None, missing: str = "n/a") -> str:
    """A figure with 4 significant digits ('0.1865', '1.2e+04'); missing when None."""
    return missing if value is None else f"{value:.4g}"


def signed_pct(value: float | None, missing: str = "n/a") -> str:
    """A relative change as a signed percentage ('+30.0%', '-4.6%'); missing when None."""
    return missing if value is None else f"{value:+.1%}"


def share(value: float | None) -> str:
    """A share with two decimals ('25.19%'); 'n/a' when None or NaN (a share of no rows)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.2%}"


def minutes_or_hours(delta: timedelta) -> str:
    """A duration in whole minutes under two hours ('95 min'), else in hours ('2.5 h')."""
    minutes = delta.total_seconds() / 60
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def clock(delta: timedelta) -> str:
    """An elapsed time as hh:mm:ss, negative durations as 00:00:00."""
    seconds = max(0, int(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
