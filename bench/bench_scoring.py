"""Scoring and drift-statistics benchmarks.

score_logistic_1m: the logistic scorer over 1 million rows (4 numeric + 1 categorical feature;
the features and the scorer are built in setup). Reference (--compare): the same linear
combination as one numpy pass.
numeric_shift / categorical_shift / screen_many: DuckDB statistics over a synthetic Parquet
file of ctx.rows rows (80% baseline, 20% incident with a small shift), generated in setup
(once, under ctx.store_root, reused). Reference: one DuckDB scan of the same file computing
count and avg by side.
numeric_and_categorical_shift_13_columns: console.engine.stats_drift.drift_all over 13 columns
(8 numeric: continuous, cents-rounded and whole-number values; 5 categorical of 3 to 40
categories) of ctx.rows rows per side (run it with --rows 1000000), in one pass. Reference:
Evidently's DataDriftPreset on the same data, data loaded and datasets built in setup, in a
process of its own from the bench venv (bench/references.py); scipy per column when Evidently
is not installed. rows counts both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from harness import Bench, Reference
from references import EvidentlyDrift, evidently_python, scipy_drift

from console.engine.stats import categorical_shift, numeric_shift, screen_many
from console.engine.stats_drift import drift_all
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


DRIFT_NUMERIC = ["amount", "balance", "age_days", "velocity", "risk", "latency_ms", "z1", "z2"]
DRIFT_CATEGORICAL = ["merchant", "country", "channel", "device", "tier"]


def drift_data(ctx) -> Path:
    """ctx.rows rows per side of 13 telemetry-like columns, the incident's slightly moved;
    written once under ctx.store_root and reused."""
    path = ctx.store_root / f"drift-13-columns-{ctx.rows}.parquet"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    n = ctx.rows

    def side(moved: int) -> dict[str, Any]:
        merchant_p = [0.35, 0.2, 0.15, 0.2, 0.1] if moved else [0.4, 0.2, 0.1, 0.2, 0.1]
        return {
            "amount": np.round(rng.lognormal(3 + 0.05 * moved, 1.0, n), 2),
            "balance": np.round(rng.normal(1000 + 30 * moved, 300, n), 2),
            "age_days": rng.integers(0, 3650, n).astype(np.float64),
            "velocity": rng.poisson(3 + moved, n).astype(np.float64),
            "risk": rng.beta(2, 5 + moved, n),
            "latency_ms": rng.gamma(2.0, 20.0, n),
            "z1": rng.normal(0.05 * moved, 1.0, n),
            "z2": rng.standard_t(5, n),
            "merchant": CATEGORIES[rng.choice(5, n, p=merchant_p)],
            "country": np.array([f"C{i:02d}" for i in range(40)])[rng.zipf(1.5, n) % 40],
            "channel": np.array(["web", "app", "pos"])[rng.integers(0, 3, n)],
            "device": np.array([f"d{i}" for i in range(12)])[rng.integers(0, 12, n)],
            "tier": np.array(["a", "b", "c", "d"])[rng.choice(4, n, p=[0.1, 0.2, 0.3, 0.4])],
        }

    base, inc = side(0), side(1)
    columns = {k: np.concatenate([base[k], inc[k]]) for k in base}
    table = pa.table({"side": np.repeat(["baseline", "incident"], n), **columns})
    with atomic_path(path) as partial:
        pq.write_table(table, partial)
    return path


@dataclass
class Drift:
    path: Path
    run: Any  # the DuckDB query runner
    evidently: EvidentlyDrift | None
    numeric: dict[str, tuple[np.ndarray, np.ndarray]]  # scipy's input, when no Evidently
    categorical: dict[str, tuple[np.ndarray, np.ndarray]]


def _setup_drift(ctx) -> Drift:
    ctx.setup("drift parquet")
    path = drift_data(ctx)
    python = evidently_python()
    if python is not None:
        ctx.setup("evidently process, data loaded")
        evidently = EvidentlyDrift(python, path, DRIFT_NUMERIC, DRIFT_CATEGORICAL)
        return Drift(path, _runner(), evidently, {}, {})
    ctx.setup("numpy arrays for scipy")
    table = pq.read_table(path)
    incident = table.column("side").to_numpy(zero_copy_only=False) == "incident"

    def split(name: str) -> tuple[np.ndarray, np.ndarray]:
        values = table.column(name).to_numpy(zero_copy_only=False)
        return values[~incident], values[incident]

    return Drift(
        path,
        _runner(),
        None,
        {c: split(c) for c in DRIFT_NUMERIC},
        {c: split(c) for c in DRIFT_CATEGORICAL},
    )


def bench_drift_all(state: Drift) -> int:
    columns: dict[str, tuple[str, Any]] = {c: (c, "numeric") for c in DRIFT_NUMERIC}
    columns |= {c: (c, "categorical") for c in DRIFT_CATEGORICAL}
    found = drift_all(
        state.run,
        columns,
        "read_parquet($path)",
        {"path": str(state.path)},
        "side = 'baseline'",
        "side = 'incident'",
    )
    return found["amount"].n_baseline + found["amount"].n_incident


def _peer_drift(state: Drift) -> None:
    if state.evidently is not None:
        state.evidently.run()
    else:
        scipy_drift(state.numeric, state.categorical)


LOGISTIC = Reference("numpy_logistic", _numpy_logistic)
SCAN = Reference("duckdb_scan_count_avg_by_side", _scan_by_side)
PEER_DRIFT = Reference(
    "evidently_data_drift_preset" if evidently_python() else "scipy_per_column", _peer_drift
)

BENCHMARKS = [
    Bench("score_logistic_1m", _setup_logistic, bench_score_logistic, LOGISTIC),
    Bench("numeric_shift", _setup_synthetic, bench_numeric_shift, SCAN),
    Bench("categorical_shift", _setup_synthetic, bench_categorical_shift, SCAN),
    Bench("screen_many_5_exprs", _setup_synthetic, bench_screen_many, SCAN),
    Bench(
        "numeric_and_categorical_shift_13_columns",
        _setup_drift,
        bench_drift_all,
        PEER_DRIFT,
    ),
]
