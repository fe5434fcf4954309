"""drift_all: the exact drift statistics of many columns from one pass over the data.

numeric_shift and categorical_shift (console.engine.stats) judge one value with two queries
each (a summary, then the exact CDF over every distinct value). Comparing a whole table that
way reads it twice per column, and the exact CDF query is most of the cost. drift_all reads
the rows of both windows once, every column at a time, and computes per column:

- numeric: the exact two-sample KS statistic (the largest gap between the two empirical CDFs
  over every value seen) with its p-value, and the Wasserstein-1 distance (the area between
  the CDFs), both as numeric_shift defines them, plus W1 over the baseline's standard
  deviation; NULL, NaN and infinities are missing and left out;
- categorical: Pearson's chi-squared of the 2 x k table with its p-value, the Jensen-Shannon
  distance (log base 2) and PSI over every category (values compared as text, NULL missing).

Why the rows come back rather than aggregates: an exact CDF needs the count of every distinct
value per side, which for a continuous column is about one group per row, so an aggregate in
SQL (GROUP BY value, then a window over the sorted groups) moves as much data as the values
themselves and then sorts it again. The columns instead come back once as Arrow arrays; each
side's values are sorted once in numpy, the two sorted runs merged (a stable sort of two runs
is a linear merge) and the CDF gaps read off integer running counts, so KS and W1 are the
numbers numeric_shift's SQL computes (counts divided by totals, the same step widths). The
query itself is a plain projection, portable to Spark through console.sql.dialect unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from console.engine.stats_math import (
    chi2_homogeneity,
    chi2_sf,
    js_distance,
    jsonable,
    ks_pvalue,
    psi,
)
from console.engine.stats_screen import Params, Run

Kind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class ColumnDrift:
    """Baseline vs incident distribution of one column (None: not computed, too few values)."""

    name: str
    kind: Kind
    n_baseline: int  # rows of the window, missing values included
    n_incident: int
    values_baseline: int  # non-missing values
    values_incident: int
    ks: float | None = None  # numeric: max |F_baseline - F_incident| over every value seen
    ks_pvalue: float | None = None
    w1: float | None = None  # numeric: integral of |F_baseline - F_incident|
    std_baseline: float | None = None  # sample standard deviation
    w1_normalised: float | None = None  # w1 / std_baseline
    chi2: float | None = None  # categorical: Pearson's chi-squared, 2 x k
    chi2_df: int = 0
    chi2_pvalue: float | None = None
    js_distance: float | None = None  # categorical: Jensen-Shannon distance, log base 2
    psi: float | None = None  # categorical: over every category
    categories: int = 0  # categorical: distinct non-missing values over both sides

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = jsonable(asdict(self))
        return data


def drift_all(
    run: Run,
    columns: Mapping[str, tuple[str, Kind]],
    from_sql: str,
    params: Params,
    baseline: str,
    incident: str,
    *,
    epsilon: float = 1e-4,
) -> dict[str, ColumnDrift]:
    """The drift statistics of every column in one query; results keyed like `columns`.

    columns: name -> (row-level SQL expression over from_sql's rows, "numeric" or
    "categorical"), taking no parameters. from_sql, baseline, incident and params as in
    screen_many: the text after FROM and the SQL predicates choosing each window's rows (a row
    matching both counts as baseline).
    """
    if not columns:
        return {}
    values = []
    for i, (name, (expr, kind)) in enumerate(columns.items()):
        if kind == "numeric":
            # NaN and infinities are missing, as numeric_shift has them.
            raw = f"CAST(({expr}) AS DOUBLE)"
            values.append(f"CASE WHEN isfinite({raw}) THEN {raw} END AS c{i}")
        elif kind == "categorical":
            values.append(f"CAST(({expr}) AS VARCHAR) AS c{i}")
        else:
            raise ValueError(f"{name}: kind must be numeric or categorical, not {kind!r}")
    sql = (
        f"SELECT CASE WHEN ({baseline}) THEN TRUE ELSE FALSE END AS b, {', '.join(values)} "
        f"FROM {from_sql} WHERE ({baseline}) OR ({incident})"
    )
    table = run(sql, params)
    baseline_rows = table.column("b").to_numpy(zero_copy_only=False).astype(bool)

    def one(i: int, name: str, kind: Kind) -> ColumnDrift:
        column = table.column(f"c{i}")
        if kind == "numeric":
            return numeric_drift(name, column, baseline_rows)
        return categorical_drift(name, column, baseline_rows, epsilon)

    # numpy's sorts and Arrow's hashing release the GIL: columns run side by side on every core.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        futures = {
            name: pool.submit(one, i, name, kind)
            for i, (name, (_, kind)) in enumerate(columns.items())
        }
        return {name: future.result() for name, future in futures.items()}


def numeric_drift(name: str, column: pa.ChunkedArray, baseline_rows: np.ndarray) -> ColumnDrift:
    """KS and W1 of a column's values (NULL: missing), baseline where baseline_rows is true,
    from each side's sorted values."""
    # NULL -> NaN; no copy of a column already DOUBLE. Each step below makes as few arrays
    # of a column's size as it can: every new one costs its pages' faults (large arrays are
    # fresh mappings), as much again as the arithmetic on them.
    values = column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    b, i = values[baseline_rows], values[~baseline_rows]
    common = {
        "name": name,
        "kind": "numeric",
        "n_baseline": b.size,
        "n_incident": i.size,
    }
    # Sorted in place, missing values (NaN) last: each side's values are the run before them.
    b.sort()
    i.sort()
    nb, ni = _before_nan(b), _before_nan(i)
    b, i = b[:nb], i[:ni]
    common |= {"values_baseline": nb, "values_incident": ni}
    if nb == 0 or ni == 0:
        return ColumnDrift(**common)
    merged = np.concatenate([b, i])
    order = np.argsort(merged, kind="stable")  # two sorted runs: a linear merge
    from_baseline = order < nb
    merged = merged[order]
    del order
    # Running counts of each side's values at or below each merged value; a value's CDF is
    # read at the last of its ties, as grouping by value would.
    count_b: np.ndarray[Any, np.dtype[np.signedinteger[Any]]] = np.cumsum(
        from_baseline, dtype=np.int64 if nb + ni >= 2**31 else np.int32
    )
    last = np.empty(merged.size, dtype=bool)
    np.not_equal(merged[1:], merged[:-1], out=last[:-1])
    last[-1] = True
    at = np.flatnonzero(last)
    below_b = count_b[at]
    values = merged[at]
    # |F_b - F_i| at each distinct value, then W1 as the sum of each gap times the step to
    # the next value: the arithmetic of `abs(below_b / nb - (at + 1 - below_b) / ni)`, into
    # three arrays where those expressions made nine (each a fresh mapping to fault in).
    gaps = np.divide(below_b, nb)
    below_i = np.subtract(np.add(at, 1, out=at), below_b, out=at)
    other = np.divide(below_i, ni)
    np.abs(np.subtract(gaps, other, out=gaps), out=gaps)
    ks = float(gaps.max())
    steps = np.subtract(values[1:], values[:-1], out=other[:-1])
    w1 = float(np.sum(np.multiply(gaps[:-1], steps, out=steps)))
    std = float(np.std(b, ddof=1)) if nb > 1 else None
    return ColumnDrift(
        ks=ks,
        ks_pvalue=ks_pvalue(ks, nb, ni),
        w1=w1,
        std_baseline=std,
        w1_normalised=w1 / std if std else None,
        **common,
    )


def _before_nan(ordered: np.ndarray) -> int:
    """How many values of a sorted array come before its NaNs (numpy sorts NaN last)."""
    return int(np.searchsorted(ordered, np.nan))


def categorical_drift(
    name: str, column: pa.ChunkedArray, baseline_rows: np.ndarray, epsilon: float = 1e-4
) -> ColumnDrift:
    """Chi-squared, JS distance and PSI of a column's category counts per side (NULL:
    missing), baseline where baseline_rows is true."""
    # Each row's category as a code, counted per side: one hashing pass over the text.
    encoded = column.combine_chunks().dictionary_encode()
    labels = encoded.dictionary.to_pylist()
    codes = encoded.indices.fill_null(len(labels)).to_numpy(zero_copy_only=False)
    size = len(labels) + 1  # the last code: missing
    counts_b = np.bincount(codes[baseline_rows], minlength=size)[:-1]
    counts_i = np.bincount(codes[~baseline_rows], minlength=size)[:-1]
    order = sorted(range(len(labels)), key=lambda k: labels[k])
    cb = [int(counts_b[k]) for k in order]
    ci = [int(counts_i[k]) for k in order]
    vb, vi = sum(cb), sum(ci)
    common = {
        "name": name,
        "kind": "categorical",
        "n_baseline": int(baseline_rows.sum()),
        "n_incident": int((~baseline_rows).sum()),
        "values_baseline": vb,
        "values_incident": vi,
        "categories": len(labels),
    }
    if vb == 0 or vi == 0:
        return ColumnDrift(**common)  # type: ignore[arg-type]
    chi2, df = chi2_homogeneity(cb, ci)
    return ColumnDrift(
        chi2=chi2,
        chi2_df=df,
        chi2_pvalue=chi2_sf(chi2, df),
        js_distance=js_distance(cb, ci),
        psi=psi(cb, ci, epsilon),
        **common,  # type: ignore[arg-type]
    )
