"""Shift onset (console.engine.onset) on small generated stores.

Three and a half days of decisions, 60 an hour, whose amount raw_x follows a strong daily
cycle (+-3 standard deviations of its noise over the day); the incident is the last 6 h
(06:00-12:00 on day 3), the baseline two days ending a day before (day 2, 06:00). Each test
moves raw_x (or the category raw_c) from some hour and reads the onset measure_onset finds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from two_source_store import ALERT, HOURS, INCIDENT_START, T0, TS, open_context

from console.engine.context import Context
from console.engine.onset import MIN_DEVIATION, measure_onset

BASELINE_END = INCIDENT_START - timedelta(days=1)
DAY_BEFORE_18 = T0 + timedelta(days=2, hours=18)  # 12 h before the incident, 18 h before the page
HOUR = timedelta(hours=1)


Span = tuple[datetime, datetime]
Build = Callable[..., Context]


@pytest.fixture
def build(tmp_path: Path) -> Iterator[Build]:
    """build(step=(start, end), ...) -> a Context over a freshly written store."""
    opened: list[Context] = []

    def make(
        step: Span | None = None,
        category_from: datetime | None = None,
        nulls_from: datetime | None = None,
    ) -> Context:
        rng = np.random.default_rng(7)
        per_hour = 60
        n = HOURS * per_hour
        seconds = np.repeat(np.arange(HOURS) * 3600, per_hour) + rng.integers(0, 3600, n)
        ts = np.array([T0 + timedelta(seconds=int(s)) for s in seconds])
        hour_of_day = (seconds % 86400) / 3600
        raw_x = 100.0 + 30.0 * np.sin(2 * np.pi * hour_of_day / 24) + rng.normal(0, 10.0, n)
        if step is not None:
            raw_x += np.where([step[0] <= t < step[1] for t in ts], 10.0, 0.0)
        raw_c = rng.choice(["A", "B", "C"], n, p=[0.6, 0.3, 0.1])
        if category_from is not None:
            moved = np.array([t >= category_from for t in ts]) & (rng.random(n) < 0.5)
            raw_c = np.where(moved & (raw_c == "A"), "B", raw_c)
        x_values: list[float | None] = raw_x.tolist()
        if nulls_from is not None:
            x_values = [
                None if t >= nulls_from and r < 0.4 else v
                for v, t, r in zip(x_values, ts, rng.random(n), strict=True)
            ]
        table = pa.table(
            {
                "ts": pa.array(ts.tolist(), TS),
                "raw_x": pa.array(x_values, pa.float64()),
                "raw_c": raw_c,
            }
        )
        ctx = open_context(tmp_path / f"store{len(opened)}", table)
        opened.append(ctx)
        return ctx

    yield make
    for ctx in opened:
        ctx.store.close()


def test_a_step_the_evening_before_is_found_within_a_bucket(build: Build) -> None:
    onset = measure_onset(build(step=(DAY_BEFORE_18, ALERT)), "x")
    assert onset.at is not None and abs(onset.at - DAY_BEFORE_18) <= HOUR
    # Buckets run from the end of the baseline to the end of the incident, hour by hour.
    assert onset.buckets[0][0] == BASELINE_END and onset.buckets[-1][0] == ALERT - HOUR
    assert len(onset.buckets) == 30
    assert onset.threshold == MIN_DEVIATION
    assert any("onset" in r for r in onset.reasons)
    assert onset.to_dict()["at"] is not None


def test_a_daily_cycle_without_a_shift_has_no_onset(build: Build) -> None:
    onset = measure_onset(build(), "x")
    assert onset.at is None
    # Against the same hours of the baseline the cycle is gone: no bucket strays far, where
    # against the whole baseline the evening and night buckets would sit +-2 away.
    assert all(abs(d) < 0.6 for _, d in onset.buckets if d is not None)
    assert any("no onset" in r for r in onset.reasons)


def test_a_shift_that_starts_mid_incident_starts_at_that_hour(build: Build) -> None:
    start = INCIDENT_START + timedelta(hours=3)
    onset = measure_onset(build(step=(start, ALERT)), "x")
    assert onset.at == start


def test_a_shift_over_before_the_incident_has_no_onset(build: Build) -> None:
    ended = (T0 + timedelta(days=2, hours=10), INCIDENT_START - timedelta(hours=4))
    assert measure_onset(build(step=ended), "x").at is None


def test_a_shift_that_ends_within_the_incident_keeps_its_onset(build: Build) -> None:
    span = (DAY_BEFORE_18, INCIDENT_START + timedelta(hours=2))
    onset = measure_onset(build(step=span), "x")
    assert onset.at is not None and abs(onset.at - DAY_BEFORE_18) <= HOUR


def test_a_categorical_share_onset(build: Build) -> None:
    start = T0 + timedelta(days=2, hours=20)
    onset = measure_onset(build(category_from=start), "c")
    assert onset.at is not None and abs(onset.at - start) <= HOUR
    assert any("'B'" in r for r in onset.reasons)  # the category whose share moved most
    assert len(onset.sql) == 2


def test_a_jump_in_nulls_has_an_onset(build: Build) -> None:
    start = INCIDENT_START + timedelta(hours=2)
    onset = measure_onset(build(nulls_from=start), "x")
    assert onset.at == start
    assert any("missing rate" in r for r in onset.reasons)


def test_since_moves_the_start_and_results_are_cached(build: Build) -> None:
    ctx = build(step=(DAY_BEFORE_18, ALERT))
    since = T0 + timedelta(days=3)
    onset = measure_onset(ctx, "x", since=since)
    assert onset.buckets[0][0] == since and len(onset.buckets) == 12
    # Already moved in the first bucket examined: that bucket, and a word of caution.
    assert onset.at == since
    assert any("may have begun earlier" in r for r in onset.reasons)
    assert measure_onset(ctx, "x", since=since) is onset
    assert measure_onset(ctx, "x") is not onset
