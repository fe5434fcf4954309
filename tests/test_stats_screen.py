"""screen_many: many expressions, one DuckDB pass over real Parquet files."""

import json
from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_stats_helpers import recording_run

from console.engine.stats import screen_many

T0 = datetime(2026, 3, 1, tzinfo=UTC)
WINDOWS = {
    "b0": T0,
    "b1": T0 + timedelta(days=1),
    "i0": T0 + timedelta(days=2),
    "i1": T0 + timedelta(days=3),
}
BASELINE = "ts >= $b0 AND ts < $b1"
INCIDENT = "ts >= $i0 AND ts < $i1"


@pytest.fixture
def decisions(tmp_path):
    """4000 baseline rows, 3000 incident rows, 500 rows outside both windows."""
    rng = np.random.default_rng(11)
    nb, ni, nx = 4000, 3000, 500
    ts = (
        [T0 + timedelta(seconds=int(s)) for s in rng.integers(0, 86_400, nb)]
        + [T0 + timedelta(days=2, seconds=int(s)) for s in rng.integers(0, 86_400, ni)]
        + [T0 + timedelta(days=5)] * nx
    )
    steady = rng.normal(50, 5, nb + ni + nx)
    moved = np.concatenate([rng.normal(10, 2, nb), rng.normal(12, 2, ni), np.zeros(nx)])
    nulled = np.concatenate([rng.normal(0, 1, nb), rng.normal(0, 1, ni), np.zeros(nx)])
    nulled[nb : nb + 900] = np.nan  # 30% NaN in the incident
    fmt = (
        list(rng.choice(["json", "csv"], nb)) + list(rng.choice(["json", "xml"], ni)) + ["csv"] * nx
    )
    table = pa.table(
        {
            "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "feat_steady": steady,
            "feat_moved": moved,
            "feat_nulled": nulled,
            "raw_format": fmt,
        }
    )
    path = tmp_path / "decisions.parquet"
    pq.write_table(table, path)
    return path, table, nb, ni


def make_run():
    return recording_run(duckdb.connect())


EXPRS = {
    "steady": ("feat_steady", "numeric"),
    "moved": ("feat_moved", "numeric"),
    "nulled": ("feat_nulled", "numeric"),
    "format": ("raw_format", "categorical"),
    "log_moved": ("ln(1 + feat_moved)", "numeric"),
}


def test_one_query_screens_every_expression(decisions):
    path, table, nb, ni = decisions
    run = make_run()
    params = {**WINDOWS, "path": str(path)}
    found = screen_many(run, EXPRS, "read_parquet($path)", params, BASELINE, INCIDENT)
    assert len(run.calls) == 1
    assert list(found) == list(EXPRS)
    moved = table.column("feat_moved").to_numpy()
    assert found["moved"].mean_baseline == pytest.approx(moved[:nb].mean())
    assert found["moved"].std_baseline == pytest.approx(moved[:nb].std(ddof=1))
    expected = (moved[nb : nb + ni].mean() - moved[:nb].mean()) / moved[:nb].std(ddof=1)
    assert found["moved"].mean_shift == pytest.approx(expected)
    assert (found["moved"].n_baseline, found["moved"].n_incident) == (nb, ni)
    assert found["nulled"].nulls_incident == 900
    assert found["nulled"].null_rate_incident == pytest.approx(0.3)
    assert found["format"].new_categories == ["xml"]
    assert found["format"].top_category in ("xml", "csv")
    assert found["format"].js_distance > 0.5


def test_ranking_by_magnitude_puts_moved_nodes_first(decisions):
    path, *_ = decisions
    params = {**WINDOWS, "path": str(path)}
    found = screen_many(make_run(), EXPRS, "read_parquet($path)", params, BASELINE, INCIDENT)
    ranked = sorted(found, key=lambda name: -found[name].magnitude)
    assert ranked[-1] == "steady"
    assert set(ranked[:4]) == {"moved", "nulled", "format", "log_moved"}
    assert found["steady"].magnitude < 0.1
    assert found["nulled"].magnitude > 1.0  # Cohen's h of 0% -> 30% missing


def test_positional_params_in_documented_order(decisions):
    path, *_ = decisions
    found = screen_many(
        make_run(),
        {"moved": ("feat_moved", "numeric")},
        "read_parquet(?)",
        [WINDOWS["b0"], WINDOWS["b1"], WINDOWS["i0"], WINDOWS["i1"], str(path)],
        "ts >= ? AND ts < ?",
        "ts >= ? AND ts < ?",
    )
    assert found["moved"].n_baseline == 4000


def test_small_windows_are_marked_inconclusive_and_json(decisions):
    path, *_ = decisions
    params = {**WINDOWS, "path": str(path), "i1": WINDOWS["i0"] + timedelta(seconds=600)}
    found = screen_many(make_run(), EXPRS, "read_parquet($path)", params, BASELINE, INCIDENT)
    assert found["moved"].inconclusive
    for screening in found.values():
        data = json.loads(json.dumps(screening.to_dict(), allow_nan=False))
        assert data["sql"] and data["name"] in EXPRS


def test_nothing_to_screen_runs_no_query():
    run = make_run()
    assert screen_many(run, {}, "t", {}, "true", "false") == {}
    assert run.calls == []
