"""Re-scoring through real model servers on 127.0.0.1: rows/s per protocol and concurrency.

python bench/run.py --only scoring_http

The servers of tests/model_servers.py (MLflow, MLServer for oip-v2, KServe for kserve-v1,
from .venv-servers) serve fraud-friday-noon's logistic model; they start once, untimed. For
each protocol, ROWS synthetic rows of its 8 features are scored in batches of BATCH with
`concurrency` 1 and 4, one line each: `scorer_seconds` times score() alone. The reference,
measured in the same run, is the server by itself: the same batches' request bodies, encoded
beforehand, POSTed one after another over one kept-alive connection with no parsing of the
answers. `ratio` is the scorer's time over the reference's: near 1 or below, the server is
the limit, not the client.
"""

from __future__ import annotations

import atexit
import json
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
from harness import Bench, Measured, Reference

from console.playbook.model import Scorer
from console.scoring import build_scorer
from console.scoring.protocols import columns, request

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "sample_data" / "fraud-friday-noon"
ROWS = 20_000
BATCH = 500
KEYS = {
    "mlflow": {"column": 1},
    "oip-v2": {"output": "predict_proba", "column": 1},
    "kserve-v1": {"column": 1},
}
CATEGORIES = np.array(["gambling", "grocery", "travel", "fuel", "electronics", "books"])


def _features(n: int) -> pa.Table:
    rng = np.random.default_rng(3)
    card_age = rng.gamma(2.0, 200.0, n)
    return pa.table(
        {
            "f_log_amount": rng.normal(4.0, 1.0, n),
            "f_card_age": pa.array(
                np.where(rng.random(n) < 0.1, np.nan, card_age), from_pandas=True
            ),
            "f_velocity_1h": rng.poisson(1.0, n).astype(float),
            "f_velocity_24h": rng.poisson(4.0, n).astype(float),
            "f_device_risk": rng.random(n),
            "f_ip_risk": rng.random(n),
            "f_geo_mismatch": (rng.random(n) < 0.1).astype(float),
            "f_merchant_category": CATEGORIES[rng.integers(0, len(CATEGORIES), n)],
        }
    )


def _reference(url: str, protocol: str, features: pa.Table, output: str) -> float:
    bodies = []
    for start in range(0, features.num_rows, BATCH):
        batch = features.slice(start, BATCH)
        body = request(protocol, columns(batch, {}, {}), batch.num_rows, output)  # type: ignore[arg-type]
        bodies.append(json.dumps(body).encode())
    headers = {"content-type": "application/json"}
    with httpx.Client(timeout=60) as client:
        started = time.perf_counter()
        for body in bodies:
            client.post(url, content=body, headers=headers).raise_for_status()
        return time.perf_counter() - started


@dataclass
class Serving:
    servers: dict[str, Any]
    features: pa.Table


def _setup(ctx) -> Serving:
    sys.path.insert(0, str(ROOT))
    from tests.model_servers import start_all

    ctx.setup("start model servers")
    weights = tomllib.loads((SCENARIO / "playbook.toml").read_text())["scorer"]
    servers = start_all(ctx.work / "servers", weights["weights"], weights["intercept"])
    atexit.register(lambda: [server.stop() for server in servers.values()])
    return Serving(servers, _features(ROWS))


def bench_scoring_http(state: Serving) -> Measured:
    features = state.features
    scored = 0
    total = 0.0
    for protocol, keys in KEYS.items():
        url = state.servers[protocol].url
        for concurrency in (1, 4):
            spec = Scorer(
                type="http", url=url, protocol=protocol, batch_size=BATCH, timeout=60.0,
                deadline=600.0, concurrency=concurrency, **keys,  # type: ignore[arg-type]
            )  # fmt: skip
            scorer = build_scorer(spec, features=features.column_names)
            started = time.perf_counter()
            scores = scorer.score(features)
            seconds = time.perf_counter() - started
            total += seconds
            assert scores.shape == (ROWS,) and np.isfinite(scores).all()
            scored += ROWS
            figures = {
                "name": f"scoring_http_{protocol}_c{concurrency}",
                "rows": ROWS,
                "batch_size": BATCH,
                "scorer_seconds": round(seconds, 3),
                "rows_per_second": round(ROWS / seconds),
            }
            print(json.dumps(figures), flush=True)
    return Measured(scored, total)


def _servers_alone(state: Serving) -> None:
    # Twice per protocol, as the figure scores each protocol at two concurrencies.
    for protocol, keys in KEYS.items():
        url = state.servers[protocol].url
        for _ in range(2):
            _reference(url, protocol, state.features, str(keys.get("output", "")))


BENCHMARKS = [
    Bench(
        "scoring_http",
        _setup,
        bench_scoring_http,
        Reference("server_alone_prepared_bodies", _servers_alone),
    )
]
