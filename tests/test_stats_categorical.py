"""categorical_shift on real Parquet files queried by a real DuckDB."""

import json
import math

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from console.engine.stats import categorical_shift

SAMPLE = "SELECT side AS w, value AS v FROM read_parquet($path)"


def write_sample(path, baseline, incident):
    sides = ["baseline"] * len(baseline) + ["incident"] * len(incident)
    pq.write_table(
        pa.table({"side": sides, "value": pa.array(list(baseline) + list(incident), pa.string())}),
        path,
    )
    return {"path": str(path)}


@pytest.fixture
def run():
    con = duckdb.connect()
    yield lambda sql, params: con.sql(sql, params=params).to_arrow_table()
    con.close()


def draw(rng, categories, probabilities, n):
    return list(rng.choice(categories, n, p=probabilities))


def reference(baseline, incident):
    """Shares, JS distance (base 2) and Pearson chi-squared computed independently."""
    cats = sorted(set(baseline) | set(incident))
    b = np.array([baseline.count(c) for c in cats], float)
    i = np.array([incident.count(c) for c in cats], float)
    pb, pi = b / b.sum(), i / i.sum()
    m = (pb + pi) / 2
    kl = lambda a: sum(x * math.log2(x / y) for x, y in zip(a, m, strict=True) if x > 0)  # noqa: E731
    js = math.sqrt((kl(pb) + kl(pi)) / 2)
    observed = np.array([b, i])
    expected = observed.sum(1, keepdims=True) * observed.sum(0, keepdims=True) / observed.sum()
    chi2 = float(np.sum((observed - expected) ** 2 / expected))
    return dict(zip(cats, pb, strict=True)), dict(zip(cats, pi, strict=True)), js, chi2


def test_new_and_vanished_categories_are_reported_with_shares(tmp_path, run):
    rng = np.random.default_rng(1)
    baseline = draw(rng, ["grocery", "travel", "gambling"], [0.6, 0.3, 0.1], 3000)
    incident = draw(rng, ["grocery", "travel", "crypto"], [0.5, 0.3, 0.2], 2000)
    result = categorical_shift(
        run, SAMPLE, write_sample(tmp_path / "s.parquet", baseline, incident)
    )
    share_b, share_i, js, chi2 = reference(baseline, incident)
    assert [c.category for c in result.new_categories] == ["crypto"]
    assert result.new_categories[0].share_incident == pytest.approx(share_i["crypto"])
    assert [c.category for c in result.vanished_categories] == ["gambling"]
    assert result.vanished_categories[0].share_baseline == pytest.approx(share_b["gambling"])
    assert (result.new_count, result.vanished_count) == (1, 1)
    by_name = {c.category: c for c in result.categories}
    assert by_name["grocery"].share_baseline == pytest.approx(share_b["grocery"])
    assert by_name["travel"].share_incident == pytest.approx(share_i["travel"])
    assert result.js_distance == pytest.approx(js)
    assert result.chi2 == pytest.approx(chi2)
    assert result.chi2_df == 3
    assert result.shifted and result.verdict == "shifted"
    assert any("new category 'crypto'" in r for r in result.reasons)
    assert any("'gambling'" in r and "vanished" in r for r in result.reasons)


def test_same_mix_is_ok(tmp_path, run):
    rng = np.random.default_rng(2)
    cats, probs = ["a", "b", "c", "d"], [0.4, 0.3, 0.2, 0.1]
    params = write_sample(
        tmp_path / "s.parquet", draw(rng, cats, probs, 4000), draw(rng, cats, probs, 3000)
    )
    result = categorical_shift(run, SAMPLE, params)
    assert result.verdict == "ok" and not result.shifted
    assert result.chi2_pvalue > 0.001
    assert result.new_categories == [] and result.vanished_categories == []


def test_large_sample_with_a_small_mix_change_is_not_flagged(tmp_path, run):
    rng = np.random.default_rng(3)
    baseline = draw(rng, ["a", "b", "c"], [0.50, 0.30, 0.20], 300_000)
    incident = draw(rng, ["a", "b", "c"], [0.49, 0.31, 0.20], 200_000)
    result = categorical_shift(
        run, SAMPLE, write_sample(tmp_path / "s.parquet", baseline, incident)
    )
    assert result.chi2_pvalue < 0.001
    assert not result.shifted and "but small" in result.reasons[0]


def test_tiny_window_is_inconclusive(tmp_path, run):
    params = write_sample(tmp_path / "s.parquet", ["a", "b"] * 100, ["z"] * 5)
    result = categorical_shift(run, SAMPLE, params)
    assert result.verdict == "inconclusive" and not result.shifted
    assert [c.category for c in result.new_categories] == ["z"]


def test_rare_categories_fold_into_other_but_new_ones_stay_named(tmp_path, run):
    baseline = [f"c{i:02d}" for i in range(40) for _ in range(40 - i)]
    incident = list(baseline) + ["brand-new"] * 3
    params = write_sample(tmp_path / "s.parquet", baseline, incident)
    result = categorical_shift(run, SAMPLE, params, max_categories=5)
    names = [c.category for c in result.categories]
    assert names[:5] == ["c00", "c01", "c02", "c03", "c04"]
    assert names[-1] == "(other)" and "brand-new" in names
    assert result.category_count == 41
    other = result.categories[-1]
    assert other.count_baseline == sum(40 - i for i in range(5, 40))
    assert [c.category for c in result.new_categories] == ["brand-new"]
    assert sum(c.share_incident for c in result.categories) == pytest.approx(1.0)


def test_nulls_are_counted_apart_and_values_compared_as_text(tmp_path, run):
    path = tmp_path / "s.parquet"
    sides = ["baseline"] * 60 + ["incident"] * 60
    values = pa.array([1, 2, None] * 20 + [1, 2, 2] * 20, pa.int64())
    pq.write_table(pa.table({"side": sides, "value": values}), path)
    result = categorical_shift(run, SAMPLE, {"path": str(path)})
    assert (result.nulls_baseline, result.nulls_incident) == (20, 0)
    assert (result.n_baseline, result.n_incident) == (60, 60)
    assert {c.category for c in result.categories} == {"1", "2"}
    assert json.loads(json.dumps(result.to_dict(), allow_nan=False))["sql"][0].startswith("WITH")
