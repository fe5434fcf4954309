"""The http scorer: POST batches of feature rows to a scoring service.

Protocol (docs/scoring.md): POST `url` with JSON {"rows": [{feature: value, ...}, ...]}, at
most `batch_size` rows per request; the answer is 200 with {"scores": [number, ...]}, one per
row in order. NaN and NULL inputs are sent as JSON null; timestamps as ISO 8601 text.

A batch is retried `retries` times (exponential backoff) when the connection fails, the
request times out or the service answers 5xx; a 4xx answer or a malformed body is not retried.
After the last attempt a ConsoleError names the url and the last error.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import time

import httpx
import numpy as np
import pyarrow as pa

from console.errors import ConsoleError
from console.playbook.model import Scorer
from console.scoring.base import BaseScorer, as_scores


def json_rows(table: pa.Table) -> list[dict[str, object]]:
    """The table's rows as JSON-ready dicts (NaN/inf -> None, dates -> ISO text)."""
    rows = table.to_pylist()
    for row in rows:
        for key, value in row.items():
            if isinstance(value, float) and not math.isfinite(value):
                row[key] = None
            elif isinstance(value, dt.date | dt.time):
                row[key] = value.isoformat()
            elif isinstance(value, decimal.Decimal):
                row[key] = float(value)
            elif isinstance(value, bytes):
                row[key] = value.decode("utf-8", "replace")
    return rows


class HttpScorer(BaseScorer):
    """Scores through a remote service; see the module docstring for the protocol."""

    def __init__(self, spec: Scorer, features: list[str], backoff: float = 0.2) -> None:
        if not spec.url.startswith(("http://", "https://")):
            raise ConsoleError(f"[scorer] url {spec.url!r} must start with http:// or https://")
        if spec.batch_size < 1:
            raise ConsoleError(f"[scorer] batch_size must be at least 1, not {spec.batch_size}")
        if spec.retries < 0:
            raise ConsoleError(f"[scorer] retries must be 0 or more, not {spec.retries}")
        super().__init__(spec, features)
        self.backoff = backoff  # seconds before the first retry; doubles each time, max 5 s
        self.requests_sent = 0  # every POST attempted, retries included

    @property
    def name(self) -> str:
        return f"scorer http {self.spec.url}"

    def score(self, table: pa.Table) -> np.ndarray:
        features = self.feature_table(table)
        parts: list[np.ndarray] = []
        with httpx.Client(timeout=self.spec.timeout) as client:
            for start in range(0, features.num_rows, self.spec.batch_size):
                batch = features.slice(start, self.spec.batch_size)
                parts.append(self._score_batch(client, batch))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float64)

    def _score_batch(self, client: httpx.Client, batch: pa.Table) -> np.ndarray:
        body = json.dumps({"rows": json_rows(batch)}, allow_nan=False)
        attempts = self.spec.retries + 1
        last_error = ""
        for attempt in range(attempts):
            if attempt:
                time.sleep(min(self.backoff * 2 ** (attempt - 1), 5.0))
            self.requests_sent += 1
            try:
                response = client.post(
                    self.spec.url, content=body, headers={"content-type": "application/json"}
                )
            except httpx.TimeoutException:
                last_error = f"no answer within the timeout of {self.spec.timeout:g} s"
                continue
            except httpx.TransportError as exc:
                last_error = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code >= 500:
                last_error = f"HTTP {response.status_code}: {response.text[:200]}"
                continue
            if response.status_code != 200:
                raise ConsoleError(
                    f"{self.name} refused the request: HTTP {response.status_code}: "
                    f"{response.text[:200]}"
                )
            return self._parse(response, batch.num_rows)
        raise ConsoleError(
            f"{self.name}: no scores after {attempts} attempt(s); last error: {last_error}"
        )

    def _parse(self, response: httpx.Response, expected: int) -> np.ndarray:
        try:
            answer = response.json()
        except ValueError:
            raise ConsoleError(
                f"{self.name} answered with a body that is not JSON: {response.text[:200]!r}"
            ) from None
        if not isinstance(answer, dict) or not isinstance(answer.get("scores"), list):
            raise ConsoleError(f'{self.name} answered without a "scores" list: {answer!r:.200}')
        return as_scores(answer["scores"], expected, self.name)
