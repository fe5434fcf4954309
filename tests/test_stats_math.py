"""The closed-form pieces of the drift statistics against published table values."""

import math

import numpy as np
import pytest

from console.engine.stats_math import (
    chi2_homogeneity,
    chi2_sf,
    cohen_h,
    js_distance,
    kolmogorov_sf,
    ks_pvalue,
    normal_sf,
    psi,
)


@pytest.mark.parametrize(
    ("statistic", "df", "p"),
    [
        (3.841459, 1, 0.05),  # chi-squared critical values from the standard table
        (6.634897, 1, 0.01),
        (18.307038, 10, 0.05),
        (124.342113, 100, 0.05),
        (0.114832, 3, 0.99),
        (0.0, 4, 1.0),
    ],
)
def test_chi2_tail_matches_the_table(statistic, df, p):
    assert chi2_sf(statistic, df) == pytest.approx(p, rel=1e-5, abs=1e-9)


@pytest.mark.parametrize(
    ("lam", "p"),
    [(1.2238, 0.10), (1.3581, 0.05), (1.6276, 0.01), (0.5, 0.963945), (3.0, 2 * math.exp(-18))],
)
def test_kolmogorov_tail_matches_the_table(lam, p):
    assert kolmogorov_sf(lam) == pytest.approx(p, rel=1e-3)


def test_kolmogorov_tail_is_continuous_where_the_two_series_meet():
    assert kolmogorov_sf(1.1799999) == pytest.approx(kolmogorov_sf(1.1800001), abs=1e-6)


def test_ks_pvalue_uses_the_effective_sample_size():
    # ne = 100 * 400 / 500 = 80; lam = (sqrt(80) + 0.12 + 0.11 / sqrt(80)) * D
    d = 0.15
    root = math.sqrt(80)
    assert ks_pvalue(d, 100, 400) == pytest.approx(kolmogorov_sf((root + 0.12 + 0.11 / root) * d))
    assert ks_pvalue(0.15, 0, 10) == 1.0


def test_normal_tail():
    assert normal_sf(1.959964) == pytest.approx(0.025, rel=1e-5)
    assert normal_sf(0.0) == 0.5


def test_psi_js_and_chi2_of_small_tables():
    base, inc = [50, 30, 20], [40, 30, 30]
    q, p = np.array(base) / 100, np.array(inc) / 100
    assert psi(base, inc) == pytest.approx(np.sum((p - q) * np.log(p / q)))
    assert psi([10, 0], [5, 5]) > 1.0  # an empty baseline bin is floored, not infinite
    assert js_distance(base, base) == 0.0
    assert js_distance([1, 0], [0, 1]) == pytest.approx(1.0)
    chi2, df = chi2_homogeneity([10, 20], [30, 40])
    # 2x2 table by hand: expected = row * col / 100
    expected = np.array([[12, 18], [28, 42]])
    observed = np.array([[10, 20], [30, 40]])
    assert chi2 == pytest.approx(np.sum((observed - expected) ** 2 / expected))
    assert df == 1
    assert cohen_h(0.0, 1.0) == pytest.approx(math.pi)


def test_against_scipy():
    from scipy import special, stats  # a test dependency: the reference values, never skipped

    for a, x in [(0.5, 0.1), (2.0, 3.0), (7.5, 2.0), (50.0, 60.0)]:
        assert chi2_sf(2 * x, int(2 * a)) == pytest.approx(special.gammaincc(a, x), rel=1e-9)
    for lam in (0.4, 0.9, 1.3, 2.2):
        assert kolmogorov_sf(lam) == pytest.approx(stats.kstwobign.sf(lam), rel=1e-9)
