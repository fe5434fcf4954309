"""Baseline, incident and post-fix windows: half-open UTC intervals [start, end).

The playbook's [windows] table says how long each window is relative to the alert time
(console.playbook.model.Windows); this module turns that into concrete datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from console.errors import ConsoleError
from console.playbook.model import Windows
from console.telemetry.store import TelemetryStore


@dataclass(frozen=True)
class Window:
    """[start, end) in UTC; SQL reads it as `ts >= $start AND ts < $end`."""

    name: str
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for which in ("start", "end"):
            value = getattr(self, which)
            if value.tzinfo is None or value.utcoffset() is None:
                raise ConsoleError(f"{self.name} window {which} {value} has no time zone")
            object.__setattr__(self, which, value.astimezone(UTC))
        if self.end <= self.start:
            raise ConsoleError(
                f"{self.name} window ends ({format_utc(self.end)}) "
                f"before it starts ({format_utc(self.start)})"
            )

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def contains(self, ts: datetime) -> bool:
        return self.start <= ts < self.end

    def params(self) -> dict[str, datetime]:
        """Query parameters {"start", "end"} for `ts >= $start AND ts < $end`."""
        return {"start": self.start, "end": self.end}

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "start": format_utc(self.start), "end": format_utc(self.end)}

    def __str__(self) -> str:
        return f"{self.name} window {format_utc(self.start)} to {format_utc(self.end)}"


def resolve_windows(windows: Windows, alert_at: datetime) -> dict[str, Window]:
    """{"baseline", "incident"} around the alert, as docs/playbooks.md [windows] describes."""
    alert_at = _aware("alert time", alert_at)
    try:
        incident = Window("incident", alert_at - windows.incident, alert_at)
        baseline_end = incident.start - windows.baseline_gap
        baseline = Window("baseline", baseline_end - windows.baseline, baseline_end)
    except OverflowError:
        raise ConsoleError(
            f"alert time {format_utc(alert_at)}: the baseline and incident windows before it "
            "would start before year 1"
        ) from None
    return {"baseline": baseline, "incident": incident}


def latest_timestamp(store: TelemetryStore, metric_series: str | None = None) -> datetime:
    """The newest ts of a metric series (or of decisions when no series is given).

    The default alert time. Windows are half-open, so an incident window ending here leaves
    out the rows at exactly this instant: add a bucket (or a microsecond) to include them.
    """
    if metric_series:
        table = store.query(
            "SELECT max(ts) AS latest FROM metrics WHERE metric = $series",
            {"series": metric_series},
        )
        where = f"{store.label('metrics')} for metric {metric_series!r}"
    else:
        table = store.query("SELECT max(ts) AS latest FROM decisions")
        where = store.label("decisions")
    latest: datetime | None = table.column("latest")[0].as_py()
    if latest is None:
        raise ConsoleError(f"no rows with a timestamp in {where}")
    return latest.astimezone(UTC)


def parse_utc(text: str) -> datetime:
    """An ISO 8601 time a person typed; without an offset it is taken as UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ConsoleError(f"time {text!r} is not ISO 8601 (e.g. 2026-03-01T14:00:00Z)") from exc
    try:
        return as_utc(value)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0 in UTC
        raise ConsoleError(f"time {text!r} is outside the years 1 to 9999 in UTC") from None


def as_utc(value: datetime) -> datetime:
    """`value` in UTC; a time without a zone is UTC already (the store's and the files'
    convention), never the machine's local time."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def format_utc(value: datetime) -> str:
    """2026-03-01T14:00:00Z (microseconds only when present)."""
    value = value.astimezone(UTC)
    spec = "seconds" if value.microsecond == 0 else "microseconds"
    return value.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def _aware(what: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ConsoleError(f"{what} {value} has no time zone (telemetry times are UTC)")
    return value.astimezone(UTC)
