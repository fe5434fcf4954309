"""The screening's baseline sample by whole hours (console.engine.screen_sample): the hours are
the baseline's at the incident's hours of the day, each kept by the defined hash of its start
(the number DuckDB's SQL computes), and the sample is exactly the rows of the kept hours.
Runs on tests/test_engine_seasonality.py's store (5 evenings of 4 hours, 120 rows an hour)."""

from __future__ import annotations

import pytest
from test_engine_seasonality import ALERT, build_store

from console.engine.context import IN_BASELINE, baseline_params
from console.engine.dialect import time_hash
from console.engine.investigation import Investigation
from console.engine.screen_sample import (
    MIN_SAMPLED_HOURS,
    baseline_hours,
    baseline_sample,
    hour_hash,
)


@pytest.fixture(scope="module")
def inv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sample")
    store = build_store(folder / "telemetry")
    with Investigation.open(
        store / "playbook.toml", store, folder / "inc", actor="tester", alert_at=ALERT
    ) as opened:
        yield opened


def hours_of_rows(ctx, where, params):
    table = ctx.run(
        f"SELECT DISTINCT date_trunc('hour', ts) AS h FROM decisions WHERE {where} ORDER BY h",
        params,
    )
    return table.column("h").to_pylist()


def test_the_hours_are_those_holding_baseline_rows_and_hash_as_sql_does(inv):
    ctx = inv.ctx
    hours = baseline_hours(ctx)
    assert hours == hours_of_rows(ctx, IN_BASELINE, baseline_params(ctx.baseline, ctx.incident))
    assert len(hours) == 5 * 4
    for hour in hours:
        (sql_hash,) = ctx.run(f"SELECT {time_hash('$h')} AS x", {"h": hour}).column("x")
        assert hour_hash(hour) == sql_hash.as_py()


def test_a_large_baseline_is_sampled_by_whole_hours(inv):
    ctx = inv.ctx
    ctx.cache["baseline_stride"] = 2  # as a baseline of 2 x SCREEN_BASELINE_ROWS rows has it
    try:
        assert len(baseline_hours(ctx)) >= MIN_SAMPLED_HOURS * 2
        sample, params = baseline_sample(ctx)
        base = baseline_params(ctx.baseline, ctx.incident)
        kept = hours_of_rows(ctx, IN_BASELINE + sample, {**base, **params})
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
    finally:
        del ctx.cache["baseline_stride"]


def test_a_short_baseline_is_sampled_row_by_row(inv):
    ctx = inv.ctx
    ctx.cache["baseline_stride"] = 3  # 20 hours: under MIN_SAMPLED_HOURS x 3 kept on average
    try:
        sample, params = baseline_sample(ctx)
        assert sample == f" AND {time_hash('ts')} % 3 = 0" and params == {}
    finally:
        del ctx.cache["baseline_stride"]
