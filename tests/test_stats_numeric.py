"""numeric_shift on real Parquet files queried by a real DuckDB, against numpy references."""

import json

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_stats_helpers import recording_run

from console.engine.stats import numeric_shift

SAMPLE = "SELECT side AS w, value AS v FROM read_parquet($path)"


def write_sample(path, baseline, incident):
    sides = ["baseline"] * len(baseline) + ["incident"] * len(incident)
    values = np.concatenate([np.asarray(baseline, float), np.asarray(incident, float)])
    pq.write_table(pa.table({"side": sides, "value": values}), path)
    return {"path": str(path)}


@pytest.fixture
def run():
    con = duckdb.connect()
    yield recording_run(con)
    con.close()


def reference(baseline, incident, bins=10, eps=1e-4):
    """KS, W1 and PSI computed directly from the two samples."""
    b, i = np.sort(baseline), np.sort(incident)
    grid = np.union1d(b, i)
    fb = np.searchsorted(b, grid, side="right") / b.size
    fi = np.searchsorted(i, grid, side="right") / i.size
    ks = np.abs(fb - fi).max()
    w1 = np.sum(np.abs(fb - fi)[:-1] * np.diff(grid))
    edges = np.unique(np.quantile(b, np.arange(1, bins) / bins))  # linear = quantile_cont
    cb = np.bincount(np.searchsorted(edges, b, side="right"), minlength=edges.size + 1)
    ci = np.bincount(np.searchsorted(edges, i, side="right"), minlength=edges.size + 1)
    q = np.maximum(cb / cb.sum(), eps)
    p = np.maximum(ci / ci.sum(), eps)
    return ks, w1, float(np.sum((p - q) * np.log(p / q)))


def test_shifted_sample_matches_reference_and_is_flagged(tmp_path, run):
    rng = np.random.default_rng(1)
    baseline, incident = rng.normal(10, 2, 4000), rng.normal(11.5, 2, 3000)
    params = write_sample(tmp_path / "s.parquet", baseline, incident)
    result = numeric_shift(run, SAMPLE, params)
    ks, w1, psi = reference(baseline, incident)
    assert result.ks == pytest.approx(ks, abs=1e-12)
    assert result.w1 == pytest.approx(w1, rel=1e-9)
    assert result.psi == pytest.approx(psi, rel=1e-9)
    assert result.w1_normalised == pytest.approx(w1 / baseline.std(ddof=1), rel=1e-9)
    assert result.mean_baseline == pytest.approx(baseline.mean())
    assert result.std_incident == pytest.approx(incident.std(ddof=1))
    assert (result.n_baseline, result.n_incident) == (4000, 3000)
    assert result.verdict == "shifted" and result.shifted
    assert result.ks_pvalue < 1e-10
    assert any("PSI" in r for r in result.reasons)


def test_same_distribution_is_ok(tmp_path, run):
    rng = np.random.default_rng(2)
    params = write_sample(tmp_path / "s.parquet", rng.normal(0, 1, 3000), rng.normal(0, 1, 2000))
    result = numeric_shift(run, SAMPLE, params)
    assert result.verdict == "ok" and not result.shifted
    assert result.ks_pvalue > 0.001
    assert result.psi < 0.05


def test_tiny_window_is_inconclusive_not_ok(tmp_path, run):
    rng = np.random.default_rng(3)
    params = write_sample(tmp_path / "s.parquet", rng.normal(0, 1, 5000), rng.normal(5, 1, 12))
    result = numeric_shift(run, SAMPLE, params)
    assert result.verdict == "inconclusive" and not result.shifted
    assert "too few values" in result.reasons[0]
    assert result.ks == pytest.approx(reference(*_read(tmp_path / "s.parquet"))[0])


def _read(path):
    table = pq.read_table(path)
    side = np.array(table.column("side").to_pylist())
    value = table.column("value").to_numpy()
    return value[side == "baseline"], value[side == "incident"]


def test_million_rows_with_a_negligible_wobble_is_not_flagged(tmp_path, run):
    rng = np.random.default_rng(4)
    baseline = rng.normal(100, 15, 600_000)
    incident = rng.normal(100.3, 15, 400_000)  # 0.02 std: significant at this size, harmless
    params = write_sample(tmp_path / "s.parquet", baseline, incident)
    result = numeric_shift(run, SAMPLE, params)
    assert result.ks_pvalue < 0.001  # the wobble is real...
    assert result.verdict == "ok" and not result.shifted  # ...but too small to matter
    assert "but small" in result.reasons[0]
    assert result.n_baseline + result.n_incident == 1_000_000


def test_missing_values_are_left_out_and_counted(tmp_path, run):
    rng = np.random.default_rng(5)
    baseline = rng.normal(0, 1, 500)
    incident = np.concatenate([rng.normal(0, 1, 400), [np.nan] * 50, [np.inf, -np.inf]])
    path = tmp_path / "s.parquet"
    sides = ["baseline"] * 500 + ["incident"] * 452 + ["incident"] * 10
    values = pa.array(list(baseline) + list(incident) + [None] * 10, pa.float64())
    pq.write_table(pa.table({"side": sides, "value": values}), path)
    result = numeric_shift(run, SAMPLE, {"path": str(path)})
    assert (result.nulls_baseline, result.nulls_incident) == (0, 62)
    assert result.n_incident == 462
    ks, w1, _ = reference(baseline, incident[:400])
    assert result.ks == pytest.approx(ks)
    assert result.w1 == pytest.approx(w1)


def test_positional_params_and_extra_rows_are_ignored(tmp_path, run):
    rng = np.random.default_rng(6)
    path = tmp_path / "s.parquet"
    sides = ["baseline"] * 200 + ["incident"] * 200 + ["postfix"] * 100
    values = np.concatenate([rng.normal(0, 1, 200), rng.normal(3, 1, 200), rng.normal(9, 1, 100)])
    pq.write_table(pa.table({"side": sides, "value": values}), path)
    sql = "SELECT side AS w, value AS v FROM read_parquet(?) WHERE value > ?"
    result = numeric_shift(run, sql, [str(path), -100.0], bins=5)
    assert result.n_baseline == 200 and result.n_incident == 200
    assert len(result.edges) == 4
    assert result.shifted


def test_result_is_json_with_the_sql_that_produced_it(tmp_path, run):
    rng = np.random.default_rng(7)
    params = write_sample(tmp_path / "s.parquet", rng.normal(0, 1, 300), [1.0] * 40)
    result = numeric_shift(run, SAMPLE, params)
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["sql"] == run.calls
    assert "read_parquet($path)" in data["sql"][0]
    assert data["verdict"] in ("shifted", "ok", "inconclusive")
    assert data["std_incident"] == 0.0


def test_one_side_without_values_is_inconclusive(tmp_path, run):
    params = write_sample(tmp_path / "s.parquet", [1.0, 2.0, 3.0] * 20, [])
    result = numeric_shift(run, SAMPLE, params)
    assert result.verdict == "inconclusive"
    assert result.ks is None and result.n_incident == 0
    assert json.dumps(result.to_dict(), allow_nan=False)


def test_statistics_agree_with_scipy(tmp_path, run):
    from scipy import stats  # a test dependency: the reference values, never skipped

    rng = np.random.default_rng(8)
    baseline, incident = rng.gamma(2, 2, 3000), rng.gamma(2.4, 2, 2500)
    params = write_sample(tmp_path / "s.parquet", baseline, incident)
    result = numeric_shift(run, SAMPLE, params)
    assert result.ks == pytest.approx(stats.ks_2samp(baseline, incident).statistic)
    assert result.w1 == pytest.approx(stats.wasserstein_distance(baseline, incident))
