"""Effect size as well as significance: the verdict rules of console.engine.stats ("Verdicts").

Real DuckDB over real Parquet: a minority of rows moved by a large factor (which dilutes KS)
is shifted; a large window's wobble and identical small samples stay ok.
"""

import math

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from console.engine.stats import (
    CategoricalNumbers,
    TailShift,
    _numeric_verdict,
    categorical_shift,
    decide_categorical,
    numeric_shift,
)

SAMPLE = "SELECT side AS w, value AS v FROM read_parquet($path)"


@pytest.fixture
def run():
    con = duckdb.connect()
    yield lambda sql, params: con.sql(sql, params=params).to_arrow_table()
    con.close()


def write(path, baseline, incident, kind=None):
    sides = ["baseline"] * len(baseline) + ["incident"] * len(incident)
    values = pa.array(list(baseline) + list(incident), kind or pa.float64())
    pq.write_table(pa.table({"side": sides, "value": values}), path)
    return {"path": str(path)}


def test_a_tenth_of_the_rows_times_100_is_shifted_though_ks_is_diluted(tmp_path, run):
    rng = np.random.default_rng(7)
    baseline = rng.lognormal(math.log(6000), 0.3, 4000)
    incident = rng.lognormal(math.log(6000), 0.3, 300)
    incident[:30] *= 100  # a tenth of the rows sent in other units
    result = numeric_shift(run, SAMPLE, write(tmp_path / "s.parquet", baseline, incident))
    assert 0.001 < result.ks_pvalue < 0.05  # KS alone: not significant at alpha
    assert result.w1_normalised > 5
    assert result.verdict == "shifted" and result.shifted
    assert result.reasons[0].startswith("large effect: W1/std")
    assert "< 0.05" in result.reasons[0]
    assert result.tail_ratio > 10 and result.tail_pvalue < 1e-10
    assert any(r.startswith("tail: q0.99 of |x|") for r in result.reasons)
    assert result.thresholds["w1_large"] == 1.0 and result.thresholds["alpha_large"] == 0.05


def test_two_percent_of_the_rows_times_100_is_caught_by_the_tail(tmp_path, run):
    rng = np.random.default_rng(7)
    baseline = rng.lognormal(0, 0.5, 20000)
    incident = rng.lognormal(0, 0.5, 2000)
    incident[:40] *= 100
    result = numeric_shift(run, SAMPLE, write(tmp_path / "s.parquet", baseline, incident))
    assert result.ks_pvalue > 0.05  # KS sees 2% of the rows move: nothing
    assert result.verdict == "shifted"
    assert result.reasons == [result.reasons[0]] and result.reasons[0].startswith("tail: ")
    assert "incident values over the baseline's q0.999" in result.reasons[0]
    assert result.tail_ratio > 10


def test_two_percent_of_the_rows_divided_by_100_is_caught_by_the_lower_tail(tmp_path, run):
    rng = np.random.default_rng(8)
    baseline = rng.lognormal(0, 0.5, 20000)
    incident = rng.lognormal(0, 0.5, 2000)
    incident[:40] /= 100
    result = numeric_shift(run, SAMPLE, write(tmp_path / "s.parquet", baseline, incident))
    assert result.ks_pvalue > 0.05 and result.w1_normalised < 0.1
    assert result.verdict == "shifted"
    assert result.reasons[0].startswith("tail: q0.01 of |x|")
    assert "under the baseline's q0.001" in result.reasons[0]


def test_a_wobble_on_two_million_rows_stays_ok(tmp_path, run):
    rng = np.random.default_rng(9)
    baseline = rng.normal(100, 15, 1_200_000)
    incident = rng.normal(100 + 0.03 * 15, 15, 800_000)  # 0.03 std
    result = numeric_shift(run, SAMPLE, write(tmp_path / "s.parquet", baseline, incident))
    assert result.ks_pvalue < 1e-10  # significant: the sample is huge...
    assert result.verdict == "ok"  # ...but no effect is over its floor, none is large
    assert result.reasons[0].startswith("significant (") and "but small" in result.reasons[0]
    assert "no large effect" in result.reasons[0]
    assert 0.5 < result.tail_ratio < 2 and result.tail_pvalue > 0.001


@pytest.mark.parametrize("n", [30, 50, 100])
def test_identical_small_samples_stay_ok(tmp_path, run, n):
    """Where the looser p of the large rule could matter most: few incident values."""
    rng = np.random.default_rng(n)
    shifted = []
    for i in range(25):
        base, inc = rng.normal(0, 1, 2000), rng.normal(0, 1, n)
        result = numeric_shift(run, SAMPLE, write(tmp_path / f"s{i}.parquet", base, inc))
        shifted += [result.reasons] if result.shifted else []
    assert not shifted


NUMERIC = {"psi": 0.2, "alpha": 0.001, "w1_normalised": 0.1, "bins": 10}


def _tail(ratio, pvalue):
    return TailShift("upper", ratio, 1.0, ratio, 2.0, 2, 30, 0.5, pvalue)


@pytest.mark.parametrize(
    ("n", "pvalue", "psi_value", "w1n", "tail", "verdict"),
    [
        (300, 0.04999, 0.0, 1.0, None, "shifted"),  # W1/std exactly large, p under 0.05
        (300, 0.05, 0.0, 9.0, None, "ok"),  # p exactly 0.05: not even loosely significant
        (300, 0.04999, 0.0, 0.999, None, "ok"),
        (300, 0.04999, 0.4, 0.0, None, "shifted"),  # PSI exactly 2x its floor
        (99, 0.04999, 5.0, 0.0, None, "ok"),  # under 10 values a bin: PSI is noise
        (300, 0.5, 0.0, 0.0, _tail(10.0, 0.000999), "shifted"),  # tail exactly 10x
        (300, 0.5, 0.0, 0.0, _tail(9.99, 1e-9), "ok"),
        (300, 0.5, 0.0, 0.0, _tail(50.0, 0.001), "ok"),  # tail p exactly alpha
        (300, 0.0009, 0.0, 0.1, None, "shifted"),  # the floor rule is unchanged
    ],
)
def test_numeric_rules_at_their_thresholds(n, pvalue, psi_value, w1n, tail, verdict):
    got, reasons = _numeric_verdict(
        n, n, pvalue, psi_value, w1n, NUMERIC, ks=0.1, min_n=30, tail=tail
    )
    assert got == verdict, reasons
    if verdict == "shifted":
        rule = reasons[0].split(":")[0]
        assert rule in ("significant and over the floor", "large effect", "tail")
        assert any(ch.isdigit() for ch in reasons[0])


CATEGORICAL = {"psi": 0.2, "alpha": 0.001, "js_distance": 0.1, "new_share": 0.01, "min_n": 30}


def _cat(**changes):
    numbers = dict(
        nb=100, ni=100, psi=5.0, js=0.5, chi2=5.0, df=2, pvalue=0.01, new_shares=(0.2,),
        vanished_shares=(), novel_pvalue=0.5,
    )  # fmt: skip
    return CategoricalNumbers(**{**numbers, **changes})


@pytest.mark.parametrize(
    ("changes", "verdict"),
    [
        ({}, "ok"),  # large PSI and JS, chi-squared p 0.01: on 100 values, that is noise
        ({"novel_pvalue": 0.000999}, "shifted"),  # a new category chance cannot explain
        ({"novel_pvalue": 0.001}, "ok"),
        ({"novel_pvalue": 1e-9, "new_shares": (0.0099,)}, "ok"),  # under the share floor
        ({"novel_pvalue": 1e-9, "new_shares": (0.005, 0.005)}, "shifted"),  # together 1%
    ],
)
def test_categorical_rules_at_their_thresholds(changes, verdict):
    assert decide_categorical(_cat(**changes), CATEGORICAL) == verdict


def test_a_new_category_names_the_novelty_rule(tmp_path, run):
    rng = np.random.default_rng(5)
    cats = [f"c{j:02d}" for j in range(40)]
    incident = list(rng.choice(cats, 200))
    incident[:6] = ["new-vendor"] * 6
    params = write(tmp_path / "c.parquet", rng.choice(cats, 4000), incident, pa.string())
    result = categorical_shift(run, SAMPLE, params)
    assert result.verdict == "shifted"
    novelty = [r for r in result.reasons if r.startswith("novelty: ")]
    assert novelty and "3.0% of the incident" in novelty[0]


def test_an_id_like_column_earns_no_novelty(tmp_path, run):
    """Every value is new in the incident, but so was every value of the baseline."""
    baseline = [f"id{j}" for j in range(3000)]
    incident = [f"id{j}" for j in range(3000, 3300)]
    params = write(tmp_path / "c.parquet", baseline, incident, pa.string())
    result = categorical_shift(run, SAMPLE, params)
    assert not any(r.startswith("novelty") for r in result.reasons)
