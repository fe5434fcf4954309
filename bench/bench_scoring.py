"""Scoring and drift-statistics benchmarks.

score_logistic_1m: the logistic scorer over 1 million rows (4 numeric + 1 categorical feature;
the features and the scorer are built in setup). Reference (--compare): the same linear
combination as one numpy pass.
numeric_shift / categorical_shift / screen_many: DuckDB statistics over a synthetic Parquet
file of ctx.rows rows (80% baseline, 20% incident with a small shift), generated in setup
(once, under ctx.store_root, reused). Reference: one DuckDB scan of the same file computing
count and avg by side.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from harness import Bench, Reference

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


WEIGHTS = {
    "f_a": 0.4,
    "f_b": -0.3,
    "f_c": 0.01,
    "f_d": 1.1,
    "f_merchant=gambling": 1.5,
    "f_merchant=travel": 0.3,
}


def _setup_logistic(ctx):
    ctx.setup("features and scorer")
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
    scorer = build_scorer(Scorer(type="logistic", intercept=-2.0, weights=WEIGHTS))
    return scorer, table


def bench_score_logistic(state) -> int:
    scorer, table = state
    decisions = scorer.decide(scorer.score(table))
    assert len(decisions) == table.num_rows
    return table.num_rows


def _numpy_logistic(state) -> None:
    _, table = state
    merchant = table.column("f_merchant").to_numpy(zero_copy_only=False)
    z = -2.0 + sum(WEIGHTS[c] * table.column(c).to_numpy() for c in ("f_a", "f_b", "f_c", "f_d"))
    z = z + 1.5 * (merchant == "gambling") + 0.3 * (merchant == "travel")
    _ = 1.0 / (1.0 + np.exp(-z)) >= 0.5


def _setup_synthetic(ctx) -> Path:
    ctx.setup("synthetic parquet")
    return synthetic(ctx)


def _state_rows(path: Path) -> int:
    return pq.ParquetFile(path).metadata.num_rows


def bench_numeric_shift(path: Path) -> int:
    result = numeric_shift(_runner(), "SELECT side AS w, x AS v FROM read_parquet(?)", [str(path)])
    assert result.n_baseline + result.n_incident == _state_rows(path)
    return result.n_baseline + result.n_incident


def bench_categorical_shift(path: Path) -> int:
    sql = "SELECT side AS w, category AS v FROM read_parquet(?)"
    result = categorical_shift(_runner(), sql, [str(path)])
    return result.n_baseline + result.n_incident


def bench_screen_many(path: Path) -> int:
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
    return _state_rows(path)


def _scan_by_side(path: Path) -> None:
    duckdb.connect().sql(
        "SELECT side, count(*), avg(x) FROM read_parquet(?) GROUP BY side", params=[str(path)]
    ).fetchall()


LOGISTIC = Reference("numpy_logistic", _numpy_logistic)
SCAN = Reference("duckdb_scan_count_avg_by_side", _scan_by_side)

BENCHMARKS = [
    Bench("score_logistic_1m", _setup_logistic, bench_score_logistic, LOGISTIC),
    Bench("numeric_shift", _setup_synthetic, bench_numeric_shift, SCAN),
    Bench("categorical_shift", _setup_synthetic, bench_categorical_shift, SCAN),
    Bench("screen_many_5_exprs", _setup_synthetic, bench_screen_many, SCAN),
]
