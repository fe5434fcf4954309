"""drift_all on a real Parquet file queried by a real DuckDB: every column's KS, Wasserstein,
chi-squared and Jensen-Shannon equal scipy's on the same values, and the numeric ones equal
numeric_shift's (one pass over all columns keeps the exact statistics)."""

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats as scipy_stats
from scipy.spatial.distance import jensenshannon

from console.engine.stats import categorical_shift, numeric_shift
from console.engine.stats_drift import drift_all

N_BASE, N_INC = 3000, 2000
CATEGORIES = np.array(["grocery", "travel", "gambling", "fuel", "online", "new"])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rng = np.random.default_rng(5)
    n = N_BASE + N_INC
    incident = np.arange(n) >= N_BASE
    smooth = rng.normal(0.0, 1.0, n) + 0.3 * incident
    # Ties (whole numbers), missing values (NULL, NaN, infinity) and a shifted tail.
    counts = rng.poisson(3.0 + incident, n).astype(float)
    counts[rng.random(n) < 0.02] = np.nan
    counts[::97] = np.inf
    amounts = np.round(rng.lognormal(3.0, 1.0, n), 2)
    amounts[incident & (rng.random(n) < 0.05)] *= 100
    p_base = [0.4, 0.2, 0.1, 0.2, 0.1, 0.0]
    p_inc = [0.3, 0.2, 0.2, 0.15, 0.1, 0.05]
    merchant = np.where(
        incident, CATEGORIES[rng.choice(6, n, p=p_inc)], CATEGORIES[rng.choice(6, n, p=p_base)]
    ).astype(object)
    merchant[rng.random(n) < 0.03] = None
    table = pa.table(
        {
            "side": np.where(incident, "incident", "baseline"),
            "smooth": smooth,
            "counts": pa.array(counts, mask=rng.random(n) < 0.01),
            "amounts": amounts,
            "merchant": pa.array(merchant, pa.string()),
        }
    )
    path = tmp_path_factory.mktemp("drift") / "d.parquet"
    pq.write_table(table, path)
    con = duckdb.connect()
    queries: list[str] = []

    def run(sql, params):
        queries.append(sql)
        return con.sql(sql, params=params).to_arrow_table()

    found = drift_all(
        run,
        {
            "smooth": ("smooth", "numeric"),
            "counts": ("counts", "numeric"),
            "amounts": ("amounts", "numeric"),
            "merchant": ("merchant", "categorical"),
        },
        "read_parquet($path)",
        {"path": str(path)},
        "side = 'baseline'",
        "side = 'incident'",
    )
    return table, path, con, found, queries


def sides(table, column):
    values = table.column(column).to_numpy(zero_copy_only=False)
    incident = table.column("side").to_numpy(zero_copy_only=False) == "incident"
    return values[~incident], values[incident]


def finite(values):
    values = np.asarray([np.nan if v is None else v for v in values], dtype=float)
    return values[np.isfinite(values)]


def test_one_query_reads_every_column(data):
    *_, found, queries = data
    assert len(queries) == 1
    assert sorted(found) == ["amounts", "counts", "merchant", "smooth"]


@pytest.mark.parametrize("column", ["smooth", "counts", "amounts"])
def test_numeric_columns_equal_scipy_and_numeric_shift(data, column):
    table, path, con, found, _ = data
    base, inc = (finite(v) for v in sides(table, column))
    drift = found[column]
    assert (drift.values_baseline, drift.values_incident) == (base.size, inc.size)
    assert drift.n_baseline == N_BASE and drift.n_incident == N_INC
    ks = scipy_stats.ks_2samp(base, inc)
    assert drift.ks == pytest.approx(ks.statistic, rel=1e-12, abs=1e-15)
    assert drift.w1 == pytest.approx(scipy_stats.wasserstein_distance(base, inc), rel=1e-9)
    assert drift.std_baseline == pytest.approx(np.std(base, ddof=1), rel=1e-9)
    run = lambda sql, params: con.sql(sql, params=params).to_arrow_table()  # noqa: E731
    sample = f"SELECT side AS w, {column} AS v FROM read_parquet($path)"
    single = numeric_shift(run, sample, {"path": str(path)})
    assert drift.ks == single.ks
    assert drift.ks_pvalue == single.ks_pvalue
    assert drift.w1 == pytest.approx(single.w1, rel=1e-12)


def test_categorical_column_equals_scipy_and_categorical_shift(data):
    table, path, con, found, _ = data
    base, inc = sides(table, "merchant")
    labels = sorted({v for v in [*base, *inc] if v is not None})
    cb = [sum(1 for v in base if v == c) for c in labels]
    ci = [sum(1 for v in inc if v == c) for c in labels]
    drift = found["merchant"]
    assert drift.categories == len(labels) == 6
    chi2, p, df, _ = scipy_stats.chi2_contingency([cb, ci], correction=False)
    assert drift.chi2 == pytest.approx(chi2, rel=1e-12)
    assert drift.chi2_df == df
    assert drift.chi2_pvalue == pytest.approx(p, rel=1e-6)
    js = jensenshannon(np.array(cb) / sum(cb), np.array(ci) / sum(ci), base=2)
    assert drift.js_distance == pytest.approx(js, rel=1e-9)
    run = lambda sql, params: con.sql(sql, params=params).to_arrow_table()  # noqa: E731
    sample = "SELECT side AS w, merchant AS v FROM read_parquet($path)"
    single = categorical_shift(run, sample, {"path": str(path)})
    assert drift.chi2 == pytest.approx(single.chi2, rel=1e-12)
    assert drift.js_distance == pytest.approx(single.js_distance, rel=1e-12)
    assert drift.psi == pytest.approx(single.psi, rel=1e-12)


def test_a_side_without_values_is_not_computed(tmp_path):
    path = tmp_path / "e.parquet"
    pq.write_table(
        pa.table({"side": ["baseline", "incident"], "x": [1.0, float("nan")], "c": ["a", None]}),
        path,
    )
    con = duckdb.connect()
    found = drift_all(
        lambda sql, params: con.sql(sql, params=params).to_arrow_table(),
        {"x": ("x", "numeric"), "c": ("c", "categorical")},
        "read_parquet($path)",
        {"path": str(path)},
        "side = 'baseline'",
        "side = 'incident'",
    )
    assert found["x"].ks is None and found["x"].values_incident == 0
    assert found["c"].chi2 is None and found["c"].n_incident == 1
