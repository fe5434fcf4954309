"""Windows around the alert: half-open UTC intervals, and the default alert time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from test_telemetry_helpers import T0, write_store

from console.errors import ConsoleError
from console.playbook.model import TelemetryTables, Windows
from console.telemetry.store import open_store
from console.telemetry.windows import (
    Window,
    format_utc,
    latest_timestamp,
    parse_utc,
    resolve_windows,
)

ALERT = datetime(2026, 3, 10, 12, tzinfo=UTC)


def test_windows_follow_the_playbook_durations():
    windows = resolve_windows(Windows(), ALERT)
    assert windows["incident"] == Window("incident", ALERT - timedelta(hours=6), ALERT)
    # Baseline: 7 days ending 1 day before the incident starts.
    assert windows["baseline"].end == ALERT - timedelta(hours=6) - timedelta(days=1)
    assert windows["baseline"].duration == timedelta(days=7)


def test_windows_are_half_open_and_utc():
    eastern = timezone(timedelta(hours=-5))
    window = Window("incident", datetime(2026, 3, 1, 7, tzinfo=eastern), ALERT)
    assert window.start == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert window.contains(window.start)
    assert not window.contains(window.end)
    assert str(window) == "incident window 2026-03-01T12:00:00Z to 2026-03-10T12:00:00Z"
    assert window.params() == {"start": window.start, "end": window.end}


def test_bad_windows_are_console_errors():
    with pytest.raises(ConsoleError, match="no time zone"):
        resolve_windows(Windows(), datetime(2026, 3, 1))
    with pytest.raises(ConsoleError, match="before it starts"):
        Window("baseline", ALERT, ALERT - timedelta(hours=1))


def test_typed_times_parse_as_utc():
    assert parse_utc("2026-03-01T14:00:00Z") == datetime(2026, 3, 1, 14, tzinfo=UTC)
    assert parse_utc("2026-03-01 14:00") == datetime(2026, 3, 1, 14, tzinfo=UTC)
    assert parse_utc("2026-03-01T15:00+01:00") == datetime(2026, 3, 1, 14, tzinfo=UTC)
    with pytest.raises(ConsoleError, match="not ISO 8601"):
        parse_utc("yesterday")
    assert format_utc(datetime(2026, 3, 1, 14, 0, 0, 5, tzinfo=UTC)) == (
        "2026-03-01T14:00:00.000005Z"
    )


def test_latest_timestamp_defaults_the_alert_time(tmp_path):
    folder = write_store(tmp_path / "tel")
    with open_store(folder, TelemetryTables()) as store:
        assert latest_timestamp(store) == T0 + timedelta(hours=47)
        assert latest_timestamp(store, "fraud_decline_rate") == T0 + timedelta(hours=47)
        with pytest.raises(ConsoleError, match="no rows with a timestamp .* 'nope'"):
            latest_timestamp(store, "nope")
