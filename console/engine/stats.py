"""Drift statistics between a baseline and an incident window, computed inside DuckDB.

Every function takes
- `run(sql, params) -> pyarrow.Table`: a query runner (the telemetry store's `query` method);
- `sample_sql`: SQL text of a subquery returning two columns, `w` ('baseline' or 'incident';
  rows with any other w are ignored) and `v` (the value), with its `params` (a list for `?`
  placeholders or a dict for `$name` ones). sample_sql appears once in each query and nothing
  else in the queries takes parameters, so `params` is passed through unchanged.

DuckDB aggregates the full data (counts, moments, quantiles, cumulative distributions, category
counts); only those aggregates come back, and the closed forms in stats_math finish the job.

Missing values: NULL, NaN and +-infinity are "missing" for numeric values (null_rate_change
counts them; numeric_shift leaves them out of the distribution). For categorical values only
NULL is missing; values are compared as text (CAST(v AS VARCHAR)).

Verdicts. Below `min_n` values on either side the verdict is "inconclusive" (not "ok").
Otherwise a value is "shifted" when at least one of these rules holds, else "ok"; the reasons
name every rule that held, with its numbers (or, when none did, why each fell short):

- significant and over the floor (numeric and categorical): the test's p < alpha (KS or
  chi-squared, 0.001) and an effect at least its floor: PSI >= psi_threshold (0.2), W1/std >=
  w1_threshold (0.1), Jensen-Shannon distance >= js_threshold (0.1), or a new or vanished
  category holding >= new_share (1%) of its side;
- large effect (numeric): W1/std >= 1 (W1_LARGE), or PSI >= 2 x psi_threshold when the smaller
  side has at least 10 values per PSI bin (BIN_VALUES), with KS p < 0.05 (ALPHA_LARGE);
- tail (numeric): on the magnitude |x|, the incident's q0.99 at least 10x the baseline's, or
  its q0.01 at most a tenth of the baseline's (TAIL_RATIO), and more incident values beyond the
  baseline's own q0.999 (or under its q0.001) than chance allows: exceedance p < alpha;
- novelty (categorical): categories the baseline never showed hold >= new_share of the
  incident, and more incident rows than chance allows: exceedance p < alpha.

Why a looser p for a large numeric effect. KS compares ranks: it sees how many rows moved, not
how far, so a minority of rows moved by a large factor dilutes it (a tenth of the rows times
100: KS 0.1, p 0.002 on 300 rows, while W1/std is 5). W1 measures the distance the rows
moved; W1/std >= 1 (the whole incident sample off by a standard deviation on average) is far
beyond its noise at min_n values (about 0.2 for 30 normal values), so p < 0.05 is enough to
rule out the remaining chance. PSI, counted per bin, is noisy on few values (an empty bin by
chance gives PSI near 1 with 50 values), hence its guard. Simulated on identical distributions
(normal, log-normal with sigma 1.5, Poisson; 30 to 300 incident values against 2000 baseline
ones; 3600 runs) the guarded large rule fired once (30 heavy-tailed values), the floor rule
six times; unguarded, PSI alone fired in 1% to 6% of the runs under 100 values.

The tail rule catches the same fault when even W1 is diluted (2% of the rows times 100). It
counts incident values beyond the baseline's q0.999 and asks how likely that many are
(exceedance_pvalue, a Poisson tail) when each lands there with the baseline's own chance
(chance_beyond: the baseline's count plus a margin, since its tail rests on a few rows); the
q0.99 ratio alone would be noisy for values near zero.

Categorical values get no looser-p rule: chi-squared is computed on the very counts PSI and JS
are, so a large PSI or JS with chi-squared p between 0.001 and 0.05 only happens on few values,
where it is noise (such a rule, simulated on identical distributions, fired in 5% of the runs
with 3 categories and 30 values, 4% to 10% with 20 categories and 100 or 30 values). What chi-squared does dilute is a new category
among many old ones, which the novelty rule tests on its own: the baseline's unseen mass is
Good-Turing's estimate (rows of categories seen once), so an id-like column earns nothing.

Sample size. Every floor is an effect size, which does not shrink as the sample grows: a window
of a million rows makes every wobble significant but not large (a 0.03-std mean move on 2M rows
has p ~ 0 and stays "ok"). The W1/std floor stays 0.1 rather than Cohen's "small" 0.2: W1 counts
every change of shape on one scale, and a change that moves only part of the distribution (a
tenth of the rows by one std, a widened tail) has W1/std well under its mean-shift equivalent;
0.1 of a standard deviation of a model input, systematic and significant at 0.001, is a change
the on-call engineer should see, while noise on a large window stays far below it.

screen_many (console.engine.stats_screen) is the cheap measure for many expressions in one pass.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pyarrow as pa

from console.engine.stats_math import (
    chi2_homogeneity,
    chi2_sf,
    exceedance_pvalue,
    js_distance,
    jsonable,
    ks_pvalue,
    normal_sf,
    psi,
    shares,
)
from console.engine.stats_screen import Params, Run, Screening, screen_many

Verdict = Literal["shifted", "ok", "inconclusive"]

__all__ = [
    "CategoricalShift",
    "CategoryShare",
    "NullRateChange",
    "NumericShift",
    "Screening",
    "categorical_shift",
    "missing_sql",
    "null_rate_change",
    "null_rate_from_counts",
    "numeric_shift",
    "screen_many",
]

SIDES = "w IN ('baseline', 'incident')"
# v as DOUBLE, with NaN and infinities as NULL (missing).
CLEAN_NUMERIC = "CASE WHEN isfinite(CAST(v AS DOUBLE)) THEN CAST(v AS DOUBLE) END"

# The large-effect and tail rules (see "Verdicts" above).
ALPHA_LARGE = 0.05  # significance a large effect needs
W1_LARGE = 1.0  # W1/std of a large numeric effect: one baseline standard deviation
PSI_LARGE_FACTOR = 2.0  # PSI (and JS distance) of a large effect, as a multiple of the floor
TAIL_RATIO = 10.0  # how many times larger (or smaller) the incident's tail magnitude must be
BIN_VALUES = 10  # least values per PSI bin on the smaller side for PSI to count as large
# Quantiles of |x| per side: the baseline's extreme ones bound the exceedance counts, the
# q0.01 / q0.99 of both sides give the tail ratio.
TAIL_PROBS = (0.001, 0.01, 0.99, 0.999)


@dataclass(frozen=True)
class NumericShift:
    """Baseline vs incident distribution of a numeric value."""

    sql: list[str]  # the queries that produced it, in order
    n_baseline: int  # rows in the window, missing values included
    n_incident: int
    nulls_baseline: int  # NULL, NaN or infinite
    nulls_incident: int
    mean_baseline: float | None
    mean_incident: float | None
    std_baseline: float | None  # sample standard deviation
    std_incident: float | None
    edges: list[float]  # interior bin edges: baseline quantiles, bin i = [edge i-1, edge i)
    bin_shares_baseline: list[float]
    bin_shares_incident: list[float]
    psi: float | None
    ks: float | None  # max |F_baseline - F_incident| over every value seen
    ks_pvalue: float | None
    w1: float | None  # Wasserstein-1: integral of |F_baseline - F_incident|
    w1_normalised: float | None  # w1 / std_baseline
    verdict: Verdict
    shifted: bool
    reasons: list[str]
    thresholds: dict[str, float] = field(default_factory=dict)
    # The tail rule's numbers (the side whose magnitude moved by the larger factor): the
    # factor, and the exceedance p-value of the incident values beyond the baseline's bound.
    tail_ratio: float | None = None
    tail_pvalue: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = jsonable(asdict(self))
        return data


@dataclass(frozen=True)
class TailShift:
    """How far the magnitude |x| of the incident's extreme values moved against the baseline.

    upper: ratio = q0.99 |x| incident / baseline, counts beyond the baseline's q0.999 |x|;
    lower: ratio = q0.01 |x| baseline / incident, counts under the baseline's q0.001 |x|.
    """

    side: Literal["upper", "lower"]
    ratio: float  # > 1: the tail moved outwards (upper) or towards zero (lower)
    q_baseline: float
    q_incident: float
    bound: float
    beyond_baseline: int
    beyond_incident: int
    expected: float  # incident values expected beyond the bound were nothing to have moved
    pvalue: float


@dataclass(frozen=True)
class CategoryShare:
    category: str  # "(other)" gathers the categories beyond the max_categories kept
    count_baseline: int
    count_incident: int
    share_baseline: float  # of the non-missing values of that side
    share_incident: float


@dataclass(frozen=True)
class CategoricalShift:
    """Baseline vs incident distribution of a categorical value."""

    sql: list[str]
    n_baseline: int
    n_incident: int
    nulls_baseline: int
    nulls_incident: int
    categories: list[CategoryShare]  # most common first, "(other)" last
    category_count: int  # distinct non-missing values over both sides
    psi: float | None
    js_distance: float | None
    chi2: float | None
    chi2_df: int
    chi2_pvalue: float | None
    new_categories: list[CategoryShare]  # seen in incident only, by incident share
    vanished_categories: list[CategoryShare]  # seen in baseline only, by baseline share
    new_count: int  # every new category, including those folded into "(other)"
    vanished_count: int
    verdict: Verdict
    shifted: bool
    reasons: list[str]
    thresholds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = jsonable(asdict(self))
        return data


@dataclass(frozen=True)
class NullRateChange:
    """Share of missing values, baseline vs incident, with a one-sided two-proportion z-test."""

    sql: list[str]
    n_baseline: int
    n_incident: int
    nulls_baseline: int
    nulls_incident: int
    rate_baseline: float | None
    rate_incident: float | None
    increase: float | None  # rate_incident - rate_baseline
    z: float | None
    p_value: float | None  # P(an increase this large | equal rates)
    verdict: Verdict
    flagged: bool
    reasons: list[str]
    thresholds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = jsonable(asdict(self))
        return data


def numeric_shift(
    run: Run,
    sample_sql: str,
    params: Params = None,
    *,
    bins: int = 10,
    psi_threshold: float = 0.2,
    alpha: float = 0.001,
    w1_threshold: float = 0.1,
    min_n: int = 30,
    epsilon: float = 1e-4,
) -> NumericShift:
    """PSI (baseline-quantile bins), KS with p-value, normalised W1, and a verdict."""
    if bins < 2:
        raise ValueError(f"bins must be at least 2, not {bins}")
    summary_sql = _numeric_summary_sql(sample_sql, bins)
    sides = _by_side(run(summary_sql, params))
    base, inc = sides["baseline"], sides["incident"]
    thresholds = {
        "psi": psi_threshold,
        "alpha": alpha,
        "w1_normalised": w1_threshold,
        "min_n": min_n,
        "bins": bins,
        "epsilon": epsilon,
        "alpha_large": ALPHA_LARGE,
        "w1_large": W1_LARGE,
        "psi_large": PSI_LARGE_FACTOR * psi_threshold,
        "tail_ratio": TAIL_RATIO,
    }
    common = {
        "n_baseline": base["n"],
        "n_incident": inc["n"],
        "nulls_baseline": base["n"] - base["n_values"],
        "nulls_incident": inc["n"] - inc["n_values"],
        "mean_baseline": base["mean"],
        "mean_incident": inc["mean"],
        "std_baseline": base["std"],
        "std_incident": inc["std"],
        "thresholds": thresholds,
    }
    nb, ni = base["n_values"], inc["n_values"]
    if nb == 0 or ni == 0:
        return NumericShift(
            sql=[summary_sql],
            edges=[],
            bin_shares_baseline=[],
            bin_shares_incident=[],
            psi=None,
            ks=None,
            ks_pvalue=None,
            w1=None,
            w1_normalised=None,
            verdict="inconclusive",
            shifted=False,
            reasons=[f"no values: baseline {nb}, incident {ni}"],
            **common,
        )
    edges = sorted({float(q) for q in base["q"] if q is not None and math.isfinite(q)})
    bounds = _tail_bounds(base["qa"])
    cdf_sql = _numeric_cdf_sql(sample_sql, edges, nb, ni, bounds)
    per_bin = run(cdf_sql, params).to_pylist()
    counts_b = [0] * (len(edges) + 1)
    counts_i = [0] * (len(edges) + 1)
    for item in per_bin:
        counts_b[item["bin"]] = int(item["nb"])
        counts_i[item["bin"]] = int(item["ni"])
    ks = max(float(item["ks"]) for item in per_bin)
    w1 = sum(float(item["w1"] or 0.0) for item in per_bin)
    pvalue = ks_pvalue(ks, nb, ni)
    psi_value = psi(counts_b, counts_i, epsilon)
    std_b = base["std"]
    # A constant baseline has no scale: any movement at all is an infinite one.
    w1n = w1 / std_b if std_b else (0.0 if w1 == 0 else math.inf)
    tail = _tail_shift(base["qa"], inc["qa"], bounds, per_bin, nb, ni)
    verdict, reasons = _numeric_verdict(
        nb, ni, pvalue, psi_value, w1n, thresholds, ks=ks, min_n=min_n, tail=tail
    )
    return NumericShift(
        sql=[summary_sql, cdf_sql],
        edges=edges,
        bin_shares_baseline=shares(counts_b).tolist(),
        bin_shares_incident=shares(counts_i).tolist(),
        psi=psi_value,
        ks=ks,
        ks_pvalue=pvalue,
        w1=w1,
        w1_normalised=w1n,
        verdict=verdict,
        shifted=verdict == "shifted",
        reasons=reasons,
        tail_ratio=tail.ratio if tail else None,
        tail_pvalue=tail.pvalue if tail else None,
        **common,
    )


def _numeric_summary_sql(sample_sql: str, bins: int) -> str:
    """Per side: rows, values, mean, std and the quantiles that bound the PSI bins."""
    probs = [i / bins for i in range(1, bins)]
    return (
        f"WITH sample AS ({sample_sql}),\n"
        f"clean AS (SELECT w, {CLEAN_NUMERIC} AS x FROM sample WHERE {SIDES})\n"
        "SELECT w, count(*) AS n, count(x) AS n_values, avg(x) AS mean, "
        "stddev_samp(x) AS std,\n"
        f"  quantile_cont(x, {_double_list(probs)}) AS q,\n"
        f"  quantile_cont(abs(x), {_double_list(TAIL_PROBS)}) AS qa\n"
        "FROM clean GROUP BY w"
    )


def _numeric_cdf_sql(
    sample_sql: str, edges: list[float], nb: int, ni: int, bounds: tuple[float, float] | None
) -> str:
    """Exact two-sample CDFs over every distinct value: KS is their largest gap, W1 the area
    between them. Grouped per PSI bin so one small result carries all three, and the counts
    of each side beyond the baseline's tail bounds (|x| over its q0.999, under its q0.001)."""
    tails = ""
    if bounds is not None:
        low, high = _double(bounds[0]), _double(bounds[1])
        tails = (
            f",\n  sum(cb) FILTER (WHERE abs(x) > {high}) AS hb, "
            f"sum(ci) FILTER (WHERE abs(x) > {high}) AS hi,\n"
            f"  sum(cb) FILTER (WHERE abs(x) < {low}) AS lb, "
            f"sum(ci) FILTER (WHERE abs(x) < {low}) AS li"
        )
    bin_case = "CASE " + " ".join(f"WHEN x < {_double(e)} THEN {i}" for i, e in enumerate(edges))
    bin_case += f" ELSE {len(edges)} END" if edges else ""
    bin_expr = bin_case if edges else "0"
    return (
        f"WITH sample AS ({sample_sql}),\n"
        f"clean AS (SELECT w, {CLEAN_NUMERIC} AS x FROM sample WHERE {SIDES}),\n"
        "grouped AS (SELECT x, count(*) FILTER (WHERE w = 'baseline') AS cb,\n"
        "  count(*) FILTER (WHERE w = 'incident') AS ci FROM clean WHERE x IS NOT NULL "
        "GROUP BY x),\n"
        f"cdf AS (SELECT x, cb, ci, sum(cb) OVER o / {nb} AS fb, sum(ci) OVER o / {ni} AS fi,\n"
        "  lead(x) OVER o - x AS dx FROM grouped WINDOW o AS (ORDER BY x))\n"
        f"SELECT {bin_expr} AS bin, sum(cb) AS nb, sum(ci) AS ni, "
        "max(abs(fb - fi)) AS ks,\n"
        f"  sum(abs(fb - fi) * dx) AS w1{tails}\n"
        "FROM cdf GROUP BY bin ORDER BY bin"
    )


def _tail_bounds(qa: Sequence[float | None]) -> tuple[float, float] | None:
    """The baseline's q0.001 and q0.999 of |x|, the bounds of the exceedance counts."""
    if len(qa) != len(TAIL_PROBS) or any(q is None or not math.isfinite(q) for q in qa):
        return None
    return float(qa[0]), float(qa[3])  # type: ignore[arg-type]


def _tail_shift(
    qa_b: Sequence[float | None],
    qa_i: Sequence[float | None],
    bounds: tuple[float, float] | None,
    per_bin: list[dict[str, Any]],
    nb: int,
    ni: int,
) -> TailShift | None:
    """The tail side whose magnitude moved by the larger factor (None: no tail to compare)."""
    if bounds is None or len(qa_i) != len(TAIL_PROBS) or None in qa_i:
        return None
    low_b, high_b = float(qa_b[1]), float(qa_b[2])  # type: ignore[arg-type]
    low_i, high_i = float(qa_i[1]), float(qa_i[2])  # type: ignore[arg-type]
    found = []
    if high_b > 0 or high_i > 0:
        beyond_b, beyond_i = _summed(per_bin, "hb"), _summed(per_bin, "hi")
        ratio = high_i / high_b if high_b > 0 else math.inf
        found.append(("upper", ratio, high_b, high_i, bounds[1], beyond_b, beyond_i))
    if low_b > 0:  # a baseline already at zero cannot shrink towards it
        beyond_b, beyond_i = _summed(per_bin, "lb"), _summed(per_bin, "li")
        ratio = low_b / low_i if low_i > 0 else math.inf
        found.append(("lower", ratio, low_b, low_i, bounds[0], beyond_b, beyond_i))
    if not found:
        return None
    side, ratio, q_b, q_i, bound, beyond_b, beyond_i = max(found, key=lambda f: f[1])
    expected = ni * chance_beyond(beyond_b, nb)
    return TailShift(
        side=side,  # type: ignore[arg-type]
        ratio=ratio,
        q_baseline=q_b,
        q_incident=q_i,
        bound=bound,
        beyond_baseline=beyond_b,
        beyond_incident=beyond_i,
        expected=expected,
        pvalue=exceedance_pvalue(beyond_i, ni, expected / ni),
    )


def chance_beyond(count: int, n: int) -> float:
    """The chance that a new row lands where `count` of `n` baseline rows did (beyond a tail
    bound, in a category seen once): (count + 3) / (n + 1), about a one-sided 95% upper bound
    (the "rule of three" when count is 0). The estimate from the baseline is itself noisy
    (the q0.999 of 2000 rows rests on 2 of them), and an underestimate would make ordinary
    rows look like an excess; for a large baseline it tends to the plain share."""
    return (count + 3) / (n + 1)


def _summed(per_bin: list[dict[str, Any]], key: str) -> int:
    return sum(int(item.get(key) or 0) for item in per_bin)


def _numeric_verdict(
    nb: int,
    ni: int,
    pvalue: float,
    psi_value: float,
    w1n: float,
    thresholds: Mapping[str, float],
    *,
    ks: float,
    min_n: int,
    tail: TailShift | None = None,
) -> tuple[Verdict, list[str]]:
    """The rules of the module docstring's "Verdicts", first the one that decided."""
    if nb < min_n or ni < min_n:
        return "inconclusive", [f"too few values: baseline {nb}, incident {ni} (need {min_n})"]
    alpha = thresholds["alpha"]
    alpha_large = thresholds.get("alpha_large", ALPHA_LARGE)
    psi_floor, w1_floor = thresholds["psi"], thresholds["w1_normalised"]
    psi_large = thresholds.get("psi_large", PSI_LARGE_FACTOR * psi_floor)
    w1_large = thresholds.get("w1_large", W1_LARGE)
    # PSI is counted per bin: with fewer than BIN_VALUES values a bin on the smaller side, an
    # empty bin by chance (floored at epsilon) makes a large PSI out of noise.
    if min(nb, ni) < BIN_VALUES * thresholds.get("bins", 10):
        psi_large = math.inf
    test = f"KS {ks:.4g}, p {pvalue:.3g}"
    fired = []
    floor = ", ".join(_over_optional(("PSI", psi_value, psi_floor), ("W1/std", w1n, w1_floor)))
    if pvalue < alpha and floor:
        fired.append(f"significant and over the floor: {test} < alpha {alpha:g}; {floor}")
    large = ", ".join(_over_optional(("PSI", psi_value, psi_large), ("W1/std", w1n, w1_large)))
    if pvalue < alpha_large and large:
        fired.append(f"large effect: {large}, with {test} < {alpha_large:g}")
    tail_ratio = thresholds.get("tail_ratio", TAIL_RATIO)
    if tail is not None and tail.ratio >= tail_ratio and tail.pvalue < alpha:
        fired.append(f"tail: {_tail_words(tail)} >= x{tail_ratio:g}, p {tail.pvalue:.3g} < alpha")
    if fired:
        return "shifted", fired
    under = f"PSI {psi_value:.3g} < {psi_floor:g} and W1/std {w1n:.3g} < {w1_floor:g}"
    not_large = "no large effect ("
    if math.isfinite(psi_large):
        not_large += f"PSI >= {psi_large:g} or "
    not_large += f"W1/std >= {w1_large:g} with p < {alpha_large:g}"
    if tail is not None:
        not_large += f"; tail {_tail_words(tail)}, p {tail.pvalue:.3g}"
    not_large += ")"
    if pvalue >= alpha:
        return "ok", [f"not significant: {test} >= alpha {alpha:g}; {not_large}"]
    return "ok", [f"significant ({test} < alpha {alpha:g}) but small: {under}; {not_large}"]


def _tail_words(tail: TailShift) -> str:
    q, beyond = ("q0.99", "over") if tail.side == "upper" else ("q0.01", "under")
    bound = "q0.999" if tail.side == "upper" else "q0.001"
    return (
        f"{q} of |x| {tail.q_baseline:.4g} -> {tail.q_incident:.4g} (x{tail.ratio:.3g}), "
        f"{tail.beyond_incident} incident values {beyond} the baseline's {bound} "
        f"{tail.bound:.4g} (expected {tail.expected:.3g})"
    )


@dataclass(frozen=True)
class CategoryCounts:
    """What the categorical query measured: the kept categories (and "(other)") per side."""

    nulls_b: int
    nulls_i: int
    counts_b: list[int]
    counts_i: list[int]
    categories: list[CategoryShare]
    new: list[CategoryShare]
    vanished: list[CategoryShare]
    category_count: int
    new_count: int
    vanished_count: int
    singletons_b: int = 0  # categories seen exactly once in the baseline


@dataclass(frozen=True)
class CategoricalNumbers:
    """The statistics a categorical verdict is decided from (None: not computed)."""

    nb: int
    ni: int
    psi: float | None
    js: float | None
    chi2: float | None
    df: int
    pvalue: float | None
    new_shares: tuple[float, ...]  # incident share of each new category
    vanished_shares: tuple[float, ...]  # baseline share of each vanished category
    novel_pvalue: float | None = None  # exceedance p of the incident rows in new categories


def categorical_shift(
    run: Run,
    sample_sql: str,
    params: Params = None,
    *,
    psi_threshold: float = 0.2,
    alpha: float = 0.001,
    js_threshold: float = 0.1,
    new_share_threshold: float = 0.01,
    min_n: int = 30,
    max_categories: int = 50,
    epsilon: float = 1e-4,
) -> CategoricalShift:
    """Shares, PSI, Jensen-Shannon distance, chi-squared, new and vanished categories."""
    keep = int(max_categories)
    if keep < 1:
        raise ValueError(f"max_categories must be at least 1, not {max_categories}")
    sql = _categorical_sql(sample_sql, keep)
    counts = _category_counts(run(sql, params).to_pylist())
    thresholds = {
        "psi": psi_threshold,
        "alpha": alpha,
        "js_distance": js_threshold,
        "new_share": new_share_threshold,
        "min_n": min_n,
        "max_categories": keep,
        "epsilon": epsilon,
    }
    n = _categorical_numbers(counts, min_n, epsilon)
    verdict = decide_categorical(n, thresholds)
    return CategoricalShift(
        sql=[sql],
        n_baseline=n.nb + counts.nulls_b,
        n_incident=n.ni + counts.nulls_i,
        nulls_baseline=counts.nulls_b,
        nulls_incident=counts.nulls_i,
        categories=counts.categories,
        category_count=counts.category_count,
        psi=n.psi,
        js_distance=n.js,
        chi2=n.chi2,
        chi2_df=n.df,
        chi2_pvalue=n.pvalue,
        new_categories=counts.new,
        vanished_categories=counts.vanished,
        new_count=counts.new_count,
        vanished_count=counts.vanished_count,
        verdict=verdict,
        shifted=verdict == "shifted",
        reasons=_categorical_reasons(n, counts, verdict, thresholds),
        thresholds=thresholds,
    )


def _categorical_sql(sample_sql: str, keep: int) -> str:
    """The most common categories are kept by name, and so are up to `keep` new and `keep`
    vanished ones; the rest are folded into one "(other)" row per result."""
    return (
        f"WITH sample AS ({sample_sql}),\n"
        "counts AS (SELECT CAST(v AS VARCHAR) AS c,\n"
        "  count(*) FILTER (WHERE w = 'baseline') AS cb,\n"
        f"  count(*) FILTER (WHERE w = 'incident') AS ci FROM sample WHERE {SIDES} GROUP BY c),\n"
        "ranked AS (SELECT c, cb, ci,\n"
        "  row_number() OVER (ORDER BY c IS NULL, cb + ci DESC, c) AS r_all,\n"
        "  row_number() OVER (PARTITION BY cb = 0, ci = 0 ORDER BY cb + ci DESC, c) AS r_kind\n"
        "  FROM counts),\n"
        "parted AS (SELECT CASE WHEN c IS NULL THEN 'null'\n"
        f"  WHEN r_all <= {keep} OR ((cb = 0 OR ci = 0) AND r_kind <= {keep}) THEN 'kept'\n"
        "  ELSE 'other' END AS part, c, cb, ci FROM ranked)\n"
        "SELECT part, CASE WHEN part = 'kept' THEN c END AS category,\n"
        "  sum(cb) AS cb, sum(ci) AS ci, count(*) AS categories,\n"
        "  count(*) FILTER (WHERE cb = 0) AS new, count(*) FILTER (WHERE ci = 0) AS vanished,\n"
        "  count(*) FILTER (WHERE cb = 1) AS singletons\n"
        "FROM parted GROUP BY 1, 2"
    )


def _category_counts(rows: list[dict[str, Any]]) -> CategoryCounts:
    buckets = [r for r in rows if r["part"] != "null"]
    buckets.sort(key=lambda r: (r["part"] == "other", -(int(r["cb"]) + int(r["ci"]))))
    counts_b = [int(r["cb"]) for r in buckets]
    counts_i = [int(r["ci"]) for r in buckets]
    share_b, share_i = shares(counts_b), shares(counts_i)
    categories = [
        CategoryShare(
            category=r["category"] if r["part"] == "kept" else "(other)",
            count_baseline=cb,
            count_incident=ci,
            share_baseline=float(sb),
            share_incident=float(si),
        )
        for r, cb, ci, sb, si in zip(buckets, counts_b, counts_i, share_b, share_i, strict=True)
    ]
    kept = [c for c, r in zip(categories, buckets, strict=True) if r["part"] == "kept"]
    return CategoryCounts(
        nulls_b=sum(int(r["cb"]) for r in rows if r["part"] == "null"),
        nulls_i=sum(int(r["ci"]) for r in rows if r["part"] == "null"),
        counts_b=counts_b,
        counts_i=counts_i,
        categories=categories,
        new=sorted(
            (c for c in kept if c.count_baseline == 0 and c.count_incident > 0),
            key=lambda c: -c.share_incident,
        ),
        vanished=sorted(
            (c for c in kept if c.count_incident == 0 and c.count_baseline > 0),
            key=lambda c: -c.share_baseline,
        ),
        category_count=sum(int(r["categories"]) for r in buckets),
        new_count=sum(int(r["new"]) for r in buckets),
        vanished_count=sum(int(r["vanished"]) for r in buckets),
        singletons_b=sum(int(r["singletons"]) for r in buckets),
    )


def _categorical_numbers(counts: CategoryCounts, min_n: int, epsilon: float) -> CategoricalNumbers:
    cb, ci = counts.counts_b, counts.counts_i
    nb, ni = sum(cb), sum(ci)
    enough = nb >= min_n and ni >= min_n
    both = bool(nb and ni) or enough
    chi2: float | None = None
    df, pvalue = 0, None
    if enough:
        chi2, df = chi2_homogeneity(cb, ci)
        pvalue = chi2_sf(chi2, df)
    novel_pvalue = None
    if enough:
        # How much of the population the baseline never showed: Good-Turing's estimate, the
        # share of baseline rows in categories seen once (with chance_beyond's margin). An
        # id-like column, mostly singletons, expects new values everywhere and earns nothing.
        unseen = chance_beyond(counts.singletons_b, nb)
        novel = sum(c.count_incident for c in counts.new)
        novel_pvalue = exceedance_pvalue(novel, ni, unseen)
    return CategoricalNumbers(
        nb=nb,
        ni=ni,
        psi=psi(cb, ci, epsilon) if both else None,
        js=js_distance(cb, ci) if both else None,
        chi2=chi2,
        df=df,
        pvalue=pvalue,
        new_shares=tuple(c.share_incident for c in counts.new),
        vanished_shares=tuple(c.share_baseline for c in counts.vanished),
        novel_pvalue=novel_pvalue,
    )


def decide_categorical(n: CategoricalNumbers, thresholds: Mapping[str, float]) -> Verdict:
    """inconclusive under min_n values a side; shifted when a rule of the module docstring's
    "Verdicts" holds (categorical_rules); else ok."""
    if n.nb < thresholds["min_n"] or n.ni < thresholds["min_n"]:
        return "inconclusive"
    return "shifted" if categorical_rules(n, thresholds) else "ok"


def categorical_rules(n: CategoricalNumbers, t: Mapping[str, float]) -> list[str]:
    """The categorical rules that hold, each in words with its numbers."""
    alpha = t["alpha"]
    share = t["new_share"]
    fired = []
    floor = [
        *_over_optional(("PSI", n.psi, t["psi"]), ("JS distance", n.js, t["js_distance"])),
        *(f"a new category at {s:.1%} of the incident" for s in n.new_shares if s >= share),
        *(
            f"a category at {s:.1%} of the baseline vanished"
            for s in n.vanished_shares
            if s >= share
        ),
    ]
    if n.pvalue is not None and n.pvalue < alpha and floor:
        fired.append(
            f"significant and over the floor: {_chi2_words(n)} < alpha {alpha:g}; "
            + ", ".join(floor)
        )
    novel = sum(n.new_shares)
    if novel >= share and n.novel_pvalue is not None and n.novel_pvalue < alpha:
        fired.append(
            f"novelty: categories the baseline never showed hold {novel:.1%} of the incident, "
            f"p {n.novel_pvalue:.3g} < alpha {alpha:g}"
        )
    return fired


def _over_optional(*checks: tuple[str, float | None, float]) -> list[str]:
    """The measures at or over their threshold, in words (a measure None: not computed)."""
    return [
        f"{name} {value:.3g} >= {limit:g}"
        for name, value, limit in checks
        if value is not None and value >= limit
    ]


def _chi2_words(n: CategoricalNumbers) -> str:
    return f"chi-squared {n.chi2:.4g} (df {n.df}), p {n.pvalue:.3g}"


def _categorical_reasons(
    n: CategoricalNumbers, counts: CategoryCounts, verdict: Verdict, t: Mapping[str, float]
) -> list[str]:
    if verdict == "inconclusive":
        return [f"too few values: baseline {n.nb}, incident {n.ni} (need {t['min_n']})"]
    if verdict == "shifted":
        named = [
            *(
                f"new category {c.category!r} at {c.share_incident:.1%} of the incident"
                for c in counts.new
                if c.share_incident >= t["new_share"]
            ),
            *(
                f"category {c.category!r} ({c.share_baseline:.1%} of the baseline) vanished"
                for c in counts.vanished
                if c.share_baseline >= t["new_share"]
            ),
        ]
        return [*categorical_rules(n, t), *named]
    not_large = f"no novelty (new categories {sum(n.new_shares):.1%} of the incident"
    if n.novel_pvalue is not None:
        not_large += f", p {n.novel_pvalue:.3g}"
    not_large += ")"
    if n.pvalue is None or n.pvalue >= t["alpha"]:
        return [f"not significant: {_chi2_words(n)} >= alpha {t['alpha']:g}; {not_large}"]
    small = f"PSI {n.psi:.3g}, JS distance {n.js:.3g}, no large new or vanished category"
    return [f"significant ({_chi2_words(n)}) but small: {small}; {not_large}"]


def null_rate_change(
    run: Run,
    sample_sql: str,
    params: Params = None,
    *,
    kind: Literal["numeric", "categorical"] = "numeric",
    max_increase: float = 0.02,
    alpha: float = 0.001,
    min_n: int = 30,
) -> NullRateChange:
    """Missing-value rate per side; flagged when it rose by >= max_increase and p < alpha."""
    missing = missing_sql(kind)
    sql = (
        f"WITH sample AS ({sample_sql})\n"
        f"SELECT w, count(*) AS n, count(*) FILTER (WHERE {missing}) AS nulls\n"
        f"FROM sample WHERE {SIDES} GROUP BY w"
    )
    sides = {r["w"]: r for r in run(sql, params).to_pylist()}
    return null_rate_from_counts(
        [sql],
        (int(sides.get("baseline", {}).get("n", 0)), int(sides.get("incident", {}).get("n", 0))),
        (
            int(sides.get("baseline", {}).get("nulls", 0)),
            int(sides.get("incident", {}).get("nulls", 0)),
        ),
        max_increase=max_increase,
        alpha=alpha,
        min_n=min_n,
    )


def missing_sql(kind: str) -> str:
    """SQL: TRUE where the value `v` is missing (numeric: NULL, NaN or infinite; categorical:
    NULL), as null_rate_change counts it."""
    if kind == "numeric":
        return "v IS NULL OR NOT isfinite(TRY_CAST(v AS DOUBLE))"
    if kind == "categorical":
        return "v IS NULL"
    raise ValueError(f"kind must be numeric or categorical, not {kind!r}")


def null_rate_from_counts(
    sql: list[str],
    rows: tuple[int, int],
    nulls: tuple[int, int],
    *,
    max_increase: float = 0.02,
    alpha: float = 0.001,
    min_n: int = 30,
) -> NullRateChange:
    """null_rate_change's test on counts already aggregated (rows and missing values, baseline
    then incident), e.g. summed from the per-bucket counts of an evidence query: the same
    numbers give the same result, so the counts can come from whichever scan reads them."""
    (nb, ni), (xb, xi) = rows, nulls
    thresholds = {"max_increase": max_increase, "alpha": alpha, "min_n": min_n}
    common: dict[str, Any] = {
        "sql": sql,
        "n_baseline": nb,
        "n_incident": ni,
        "nulls_baseline": xb,
        "nulls_incident": xi,
        "thresholds": thresholds,
    }
    if nb == 0 or ni == 0:
        return NullRateChange(
            rate_baseline=xb / nb if nb else None,
            rate_incident=xi / ni if ni else None,
            increase=None,
            z=None,
            p_value=None,
            verdict="inconclusive",
            flagged=False,
            reasons=[f"no rows: baseline {nb}, incident {ni}"],
            **common,
        )
    rb, ri = xb / nb, xi / ni
    pooled = (xb + xi) / (nb + ni)
    se = math.sqrt(pooled * (1 - pooled) * (1 / nb + 1 / ni))
    if se > 0:
        z = (ri - rb) / se
        pvalue = normal_sf(z)
    else:
        z, pvalue = 0.0, 1.0  # both sides all missing or none missing: no change
    increase = ri - rb
    rates = f"{rb:.2%} -> {ri:.2%} (+{increase:.2%})" if increase >= 0 else f"{rb:.2%} -> {ri:.2%}"
    verdict: Verdict
    if nb < min_n or ni < min_n:
        verdict, reasons = "inconclusive", [f"too few rows: baseline {nb}, incident {ni}"]
    elif increase >= max_increase and pvalue < alpha:
        verdict = "shifted"
        reasons = [f"missing rate {rates} >= +{max_increase:.2%}, p {pvalue:.3g} < {alpha:g}"]
    elif increase >= max_increase:
        verdict, reasons = "ok", [f"missing rate {rates} but p {pvalue:.3g} >= {alpha:g}"]
    else:
        verdict, reasons = "ok", [f"missing rate {rates}, under +{max_increase:.2%}"]
    return NullRateChange(
        rate_baseline=rb,
        rate_incident=ri,
        increase=increase,
        z=z,
        p_value=pvalue,
        verdict=verdict,
        flagged=verdict == "shifted",
        reasons=reasons,
        **common,
    )


def _by_side(table: pa.Table) -> dict[str, dict[str, Any]]:
    empty: dict[str, Any] = {"n": 0, "n_values": 0, "mean": None, "std": None, "q": [], "qa": []}
    found = {r["w"]: r for r in table.to_pylist()}
    out = {}
    for side in ("baseline", "incident"):
        row = dict(found.get(side, empty))
        row["n"], row["n_values"] = int(row["n"]), int(row["n_values"])
        row["q"] = row["q"] or []
        row["qa"] = [None if q is None else float(q) for q in row["qa"] or []]
        for key in ("mean", "std"):
            row[key] = None if row[key] is None else float(row[key])
        out[side] = row
    return out


def _double(value: float) -> str:
    """A number we computed (never user text) as a DuckDB DOUBLE literal."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value}")
    return f"CAST({value!r} AS DOUBLE)"


def _double_list(values: Sequence[float]) -> str:
    return "[" + ", ".join(_double(v) for v in values) + "]"
