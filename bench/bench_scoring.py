"""Scoring and drift-statistics benchmarks.

score_logistic_1m: the logistic scorer over 1 million rows (4 numeric + 1 categorical feature).
numeric_shift / categorical_shift / screen_many: DuckDB statistics over a synthetic Parquet
file of ctx.rows rows (80% baseline, 20% incident with a small shift), generated once under
ctx.store_root and reused.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from console.engine.stats import categorical_shift, numeric_shift, screen_many
from console.files import atomic_path
from console.playbook.model import Scorer
from console.scoring import build_scorer

CHUNK = 1_000_000
CATEGORIES = np.array(["grocery", "travel", "gambling", "fuel", "online"])


def synthetic(ctx) -> Path:
    """ctx.rows rows of (side, x, y, category), written once; reused by later runs."""
    path = ctx.store_root / f"scoring-synthetic-{ctx.rows}.parquet"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    schema = pa.schema(
        [("side", pa.string()), ("x", pa.float64()), ("y", pa.float64()), ("category", pa.string())]
    )
    with atomic_path(path) as partial, pq.ParquetWriter(partial, schema) as writer:
        for start in range(0, ctx.rows, CHUNK):
            n = min(CHUNK, ctx.rows - start)
            incident = np.arange(start, start + n) >= 0.8 * ctx.rows
            x = rng.normal(0.0, 1.0, n) + 0.05 * incident
            y = rng.gamma(2.0, 2.0, n)
            y[rng.random(n) < 0.01 + 0.05 * incident] = np.nan
            category = CATEGORIES[rng.choice(5, n, p=[0.4, 0.2, 0.1, 0.2, 0.1])]
            side = np.where(incident, "incident", "baseline")
            writer.write_table(
                pa.table({"side": side, "x": x, "y": y, "category": category}, schema=schema)
            )
    return path


def _runner():
    con = duckdb.connect()
    return lambda sql, params: con.sql(sql, params=params).to_arrow_table()


def bench_score_logistic(ctx) -> int:
    n = 1_000_000
    rng = np.random.default_rng(1)
    table = pa.table(
        {
            "f_a": rng.normal(size=n),
            "f_b": rng.normal(size=n),
            "f_c": pa.array(rng.integers(0, 100, n)),
            "f_d": rng.random(n),
            "f_merchant": CATEGORIES[rng.integers(0, 5, n)],
        }
    )
    spec = Scorer(
        type="logistic",
        intercept=-2.0,
        weights={
            "f_a": 0.4,
            "f_b": -0.3,
            "f_c": 0.01,
            "f_d": 1.1,
            "f_merchant=gambling": 1.5,
            "f_merchant=travel": 0.3,
        },
    )
    scorer = build_scorer(spec)
    decisions = scorer.decide(scorer.score(table))
    assert len(decisions) == n
    return n


def bench_numeric_shift(ctx) -> int:
    path = synthetic(ctx)
    result = numeric_shift(_runner(), "SELECT side AS w, x AS v FROM read_parquet(?)", [str(path)])
    assert result.n_baseline + result.n_incident == ctx.rows
    return ctx.rows


def bench_categorical_shift(ctx) -> int:
    path = synthetic(ctx)
    sql = "SELECT side AS w, category AS v FROM read_parquet(?)"
    result = categorical_shift(_runner(), sql, [str(path)])
    assert result.n_baseline + result.n_incident == ctx.rows
    return ctx.rows


def bench_screen_many(ctx) -> int:
    path = synthetic(ctx)
    exprs = {
        "x": ("x", "numeric"),
        "y": ("y", "numeric"),
        "log_y": ("ln(1 + y)", "numeric"),
        "x_squared": ("x * x", "numeric"),
        "category": ("category", "categorical"),
    }
    found = screen_many(
        _runner(),
        exprs,
        "read_parquet($path)",
        {"path": str(path)},
        "side = 'baseline'",
        "side = 'incident'",
    )
    assert len(found) == len(exprs)
    return ctx.rows


def bench_generate(ctx) -> int | None:
    """First, so the statistics benchmarks below time the statistics alone; None (nothing
    measured) when the store is already there."""
    if (ctx.store_root / f"scoring-synthetic-{ctx.rows}.parquet").exists():
        return None
    synthetic(ctx)
    return ctx.rows


BENCHMARKS = [
    ("score_logistic_1m", bench_score_logistic),
    ("scoring_synthetic_store", bench_generate),
    ("numeric_shift", bench_numeric_shift),
    ("categorical_shift", bench_categorical_shift),
    ("screen_many_5_exprs", bench_screen_many),
]
