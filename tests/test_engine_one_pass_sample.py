"""The screening's baseline sample by whole time slices (console.engine.screen_sample): the
slices are the baseline's at the incident's hours of the day, each kept by the defined hash of
its start (the number DuckDB's SQL computes), and the sample is exactly the rows of the kept
slices: hours when enough are kept, else shorter slices, and single rows only when even
one-second slices are too few.
Runs on tests/test_engine_seasonality.py's store (5 evenings of 4 hours, 120 rows an hour)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from test_engine_seasonality import ALERT, build_store

from console.engine.baseline_summary import BaselineSummary
from console.engine.context import IN_BASELINE, Context, baseline_params
from console.engine.dialect import time_hash
from console.engine.investigation import Investigation
from console.engine.screen_sample import (
    MIN_SAMPLED_SLICES,
    SCREEN_BASELINE_ROWS,
    SLICES,
    baseline_sample,
    baseline_slices,
    slice_hash,
)

HOUR, TEN_MINUTES = SLICES[0], SLICES[1]


@contextmanager
def stride(ctx: Context, k: int) -> Iterator[None]:
    """Within the block the screening samples 1 in k, as a baseline of k x
    SCREEN_BASELINE_ROWS rows has it (the small store's own summary is restored after)."""
    kept = ctx.cache.pop("baseline_summary", None)
    ctx.cache["baseline_summary"] = BaselineSummary(k * SCREEN_BASELINE_ROWS, None, None)
    try:
        yield
    finally:
        del ctx.cache["baseline_summary"]
        if kept is not None:
            ctx.cache["baseline_summary"] = kept


@pytest.fixture(scope="module")
def inv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sample")
    store = build_store(folder / "telemetry")
    with Investigation.open(
        store / "playbook.toml", store, folder / "inc", actor="tester", alert_at=ALERT
    ) as opened:
        yield opened


def slices_of_rows(ctx, where, params, length=HOUR):
    table = ctx.run(
        f"SELECT DISTINCT time_bucket($length, ts) AS h FROM decisions WHERE {where} ORDER BY h",
        {**params, "length": length},
    )
    return table.column("h").to_pylist()


def test_the_hours_are_those_holding_baseline_rows_and_hash_as_sql_does(inv):
    ctx = inv.ctx
    base = baseline_params(ctx.baseline, ctx.incident)
    hours = baseline_slices(ctx, HOUR)
    assert hours == slices_of_rows(ctx, IN_BASELINE, base)
    assert len(hours) == 5 * 4
    for hour in hours:
        (sql_hash,) = ctx.run(f"SELECT {time_hash('$h')} AS x", {"h": hour}).column("x")
        assert slice_hash(hour) == sql_hash.as_py()
    # Shorter slices: every one that holds rows, and those only (each ten minutes holds about
    # 20 rows; a minute can be empty).
    assert baseline_slices(ctx, TEN_MINUTES) == slices_of_rows(ctx, IN_BASELINE, base, TEN_MINUTES)
    minutes = baseline_slices(ctx, SLICES[2])
    assert len(minutes) == 5 * 4 * 60
    assert set(slices_of_rows(ctx, IN_BASELINE, base, SLICES[2])) <= set(minutes)
    assert baseline_slices(ctx, HOUR, limit=7) == hours[:7]


def test_a_large_baseline_is_sampled_by_whole_hours(inv):
    ctx = inv.ctx
    with stride(ctx, 2):
        assert len(baseline_slices(ctx, HOUR)) >= MIN_SAMPLED_SLICES * 2
        sample, params = baseline_sample(ctx)
        base = baseline_params(ctx.baseline, ctx.incident)
        kept = slices_of_rows(ctx, IN_BASELINE + sample, {**base, **params})
        # The hours SQL itself would keep: half of them, those of the smallest defined hash.
        by_sql = ctx.run(
            f"SELECT h FROM (SELECT DISTINCT date_trunc('hour', ts) AS h FROM decisions "
            f"WHERE {IN_BASELINE}) AS hours ORDER BY {time_hash('h')} LIMIT 10",
            base,
        )
        assert kept == sorted(by_sql.column("h").to_pylist()) and len(kept) == 10
        assert "md5" not in sample  # time ranges: no hash per row
        rows = ctx.run(
            f"SELECT count(*) AS n FROM decisions WHERE {IN_BASELINE}{sample}", {**base, **params}
        ).column("n")[0]
        assert rows.as_py() == 120 * len(kept)


def test_too_few_hours_are_sampled_by_ten_minutes(inv):
    ctx = inv.ctx
    with stride(ctx, 3):
        sample, params = baseline_sample(ctx)
        base = baseline_params(ctx.baseline, ctx.incident)
        kept = slices_of_rows(ctx, IN_BASELINE + sample, {**base, **params}, TEN_MINUTES)
        by_sql = ctx.run(
            f"SELECT h FROM (SELECT DISTINCT time_bucket($length, ts) AS h FROM decisions "
            f"WHERE {IN_BASELINE}) AS slices ORDER BY {time_hash('h')} LIMIT 40",
            {**base, "length": TEN_MINUTES},
        )
        assert kept == sorted(by_sql.column("h").to_pylist()) and len(kept) == 40
        assert "md5" not in sample
        rows = ctx.run(
            f"SELECT count(*) AS n FROM decisions WHERE {IN_BASELINE}{sample}", {**base, **params}
        ).column("n")[0]
        in_kept = ctx.run(
            f"SELECT count(*) AS n FROM decisions WHERE {IN_BASELINE} "
            f"AND list_contains($kept, time_bucket($length, ts))",
            {**base, "kept": kept, "length": TEN_MINUTES},
        ).column("n")[0]
        assert rows.as_py() == in_kept.as_py() > 0


def test_a_baseline_too_short_for_one_second_slices_is_sampled_row_by_row(inv):
    ctx = inv.ctx
    # 20 hours hold 72,000 one-second slices: under MIN_SAMPLED_SLICES x 10,000.
    with stride(ctx, 10_000):
        sample, params = baseline_sample(ctx)
        assert sample == f" AND {time_hash('ts')} % 10000 = 0" and params == {}
