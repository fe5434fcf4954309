"""The small closed-form pieces of the drift statistics (no scipy at run time).

Everything here works on a handful of numbers (counts per bin or category, a KS statistic)
that DuckDB has already aggregated; the full data never comes to Python.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def kolmogorov_sf(lam: float) -> float:
    """P(K > lam) for the Kolmogorov distribution, to about 1e-12."""
    if lam <= 0.0:
        return 1.0
    if lam < 1.18:
        # The theta-function form converges fast for small lam, where the alternating one does not.
        k = np.arange(1, 20)
        cdf = math.sqrt(2 * math.pi) / lam * np.exp(-((2 * k - 1) ** 2) * math.pi**2 / (8 * lam**2))
        return float(min(max(1.0 - cdf.sum(), 0.0), 1.0))
    k = np.arange(1, 101)
    terms = 2.0 * (-1.0) ** (k - 1) * np.exp(-2.0 * k**2 * lam**2)
    return float(min(max(terms.sum(), 0.0), 1.0))


def ks_pvalue(statistic: float, n1: int, n2: int) -> float:
    """Asymptotic two-sample KS p-value with the effective n = n1*n2/(n1+n2).

    Uses Stephens' small-sample correction lam = (sqrt(ne) + 0.12 + 0.11/sqrt(ne)) * D.
    """
    if n1 <= 0 or n2 <= 0:
        return 1.0
    ne = n1 * n2 / (n1 + n2)
    root = math.sqrt(ne)
    return kolmogorov_sf((root + 0.12 + 0.11 / root) * statistic)


def gamma_q(a: float, x: float) -> float:
    """The regularised upper incomplete gamma Q(a, x) = Gamma(a, x) / Gamma(a)."""
    if x <= 0.0:
        return 1.0
    log_prefix = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1.0:
        # Series for P(a, x), then Q = 1 - P.
        term = total = 1.0 / a
        denom = a
        for _ in range(10_000):
            denom += 1.0
            term *= x / denom
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_prefix))
    # Continued fraction for Q(a, x) (modified Lentz).
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return min(1.0, math.exp(log_prefix) * h)


def chi2_sf(statistic: float, df: int) -> float:
    """P(X > statistic) for a chi-squared variable with df degrees of freedom."""
    if df <= 0:
        return 1.0
    return gamma_q(df / 2.0, statistic / 2.0)


def exceedance_pvalue(count: int, n: int, p0: float) -> float:
    """P(at least `count` of `n` rows land where each lands with probability p0).

    The Poisson tail with mean n * p0, P(K >= count) = P(count, n * p0) (the regularised lower
    incomplete gamma). For the small p0 it is used with (a baseline's extreme tail, a category
    the baseline never showed) it is the binomial tail to within a few percent of the p-value,
    and stays finite and fast for millions of rows.
    """
    if count <= 0:
        return 1.0
    if p0 <= 0.0:
        return 0.0
    return max(0.0, 1.0 - gamma_q(float(count), n * p0))


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def shares(counts: Sequence[float]) -> np.ndarray:
    values = np.asarray(counts, dtype=np.float64)
    total = values.sum()
    return values / total if total > 0 else np.zeros_like(values)


def psi(baseline: Sequence[float], incident: Sequence[float], epsilon: float = 1e-4) -> float:
    """Population stability index: sum (p_i - q_i) * ln(p_i / q_i) over bins.

    q = baseline shares, p = incident shares, each floored at `epsilon` so an empty bin on one
    side gives a large but finite term.
    """
    q = np.maximum(shares(baseline), epsilon)
    p = np.maximum(shares(incident), epsilon)
    return float(np.sum((p - q) * np.log(p / q)))


def js_distance(baseline: Sequence[float], incident: Sequence[float]) -> float:
    """Jensen-Shannon distance (square root of the divergence, log base 2): 0 same, 1 disjoint."""
    q, p = shares(baseline), shares(incident)
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / m[mask])))

    return math.sqrt(max(0.0, (kl(p) + kl(q)) / 2))


def chi2_homogeneity(baseline: Sequence[float], incident: Sequence[float]) -> tuple[float, int]:
    """Pearson chi-squared of the 2 x k table (baseline, incident) by category, and its df.

    Categories empty on both sides are left out; df = k - 1.
    """
    table = np.array([baseline, incident], dtype=np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    return float(np.sum((table - expected) ** 2 / expected)), table.shape[1] - 1


def cohen_h(p1: float, p2: float) -> float:
    """Effect size of a change of proportion p1 -> p2 (0.2 small, 0.5 medium, 0.8 large)."""
    return 2 * math.asin(math.sqrt(min(max(p2, 0.0), 1.0))) - 2 * math.asin(
        math.sqrt(min(max(p1, 0.0), 1.0))
    )


def finite_or_none(value: float | None) -> float | None:
    """For JSON: NaN and infinities become None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def jsonable(value: Any) -> Any:
    """Dataclass dicts made JSON-safe: non-finite floats -> None, tuples -> lists."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float):
        return finite_or_none(value)
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)
