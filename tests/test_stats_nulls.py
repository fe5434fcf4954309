"""null_rate_change on real Parquet files queried by a real DuckDB."""

import json
import math

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from console.engine.stats import null_rate_change

SAMPLE = "SELECT side AS w, value AS v FROM read_parquet(?)"


@pytest.fixture
def run():
    con = duckdb.connect()
    yield lambda sql, params: con.sql(sql, params=params).to_arrow_table()
    con.close()


def write(path, n_base, null_base, n_inc, null_inc, nan=False):
    missing = float("nan") if nan else None
    values = [1.0] * (n_base - null_base) + [missing] * null_base
    values += [2.0] * (n_inc - null_inc) + [missing] * null_inc
    sides = ["baseline"] * n_base + ["incident"] * n_inc
    pq.write_table(pa.table({"side": sides, "value": pa.array(values, pa.float64())}), path)
    return [str(path)]


def test_nan_feature_incident_is_flagged_with_reference_p_value(tmp_path, run):
    params = write(tmp_path / "s.parquet", 5000, 5, 2000, 400, nan=True)
    result = null_rate_change(run, SAMPLE, params)
    assert (result.nulls_baseline, result.nulls_incident) == (5, 400)
    assert result.rate_baseline == pytest.approx(0.001)
    assert result.rate_incident == pytest.approx(0.2)
    assert result.increase == pytest.approx(0.199)
    pooled = 405 / 7000
    z = (0.2 - 0.001) / math.sqrt(pooled * (1 - pooled) * (1 / 5000 + 1 / 2000))
    assert result.z == pytest.approx(z)
    assert result.p_value == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)))
    assert result.flagged and result.verdict == "shifted"


def test_small_increase_in_a_large_window_is_not_flagged(tmp_path, run):
    params = write(tmp_path / "s.parquet", 600_000, 6_000, 400_000, 4_800)  # 1.0% -> 1.2%
    result = null_rate_change(run, SAMPLE, params)
    assert result.p_value < 0.001
    assert not result.flagged and "under" in result.reasons[0]


def test_tiny_window_is_inconclusive(tmp_path, run):
    result = null_rate_change(run, SAMPLE, write(tmp_path / "s.parquet", 1000, 0, 10, 9))
    assert result.verdict == "inconclusive" and not result.flagged


def test_no_rows_on_a_side_is_inconclusive_and_json(tmp_path, run):
    result = null_rate_change(run, SAMPLE, write(tmp_path / "s.parquet", 100, 1, 0, 0))
    assert result.verdict == "inconclusive" and result.rate_incident is None
    assert json.dumps(result.to_dict(), allow_nan=False)


def test_categorical_kind_counts_only_null(tmp_path, run):
    path = tmp_path / "s.parquet"
    values = ["a", None, "nan"] * 20 + ["a", None, None] * 20
    sides = ["baseline"] * 60 + ["incident"] * 60
    pq.write_table(pa.table({"side": sides, "value": values}), path)
    result = null_rate_change(run, SAMPLE, [str(path)], kind="categorical")
    assert (result.nulls_baseline, result.nulls_incident) == (20, 40)


def test_infinite_values_count_as_missing_for_numbers(tmp_path, run):
    path = tmp_path / "s.parquet"
    values = np.array([1.0, np.inf, -np.inf, np.nan] * 10 + [1.0] * 40)
    sides = ["baseline"] * 40 + ["incident"] * 40
    pq.write_table(pa.table({"side": sides, "value": values}), path)
    result = null_rate_change(run, SAMPLE, [str(path)])
    assert (result.nulls_baseline, result.nulls_incident) == (30, 0)
