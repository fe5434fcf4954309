"""The http scorer: POST batches of feature rows to a scoring service.

Protocol (docs/scoring.md): POST `url` with JSON {"rows": [{feature: value, ...}, ...]}, at
most `batch_size` rows per request; the answer is 200 with {"scores": [number, ...]}, one per
row in order. NaN and NULL inputs are sent as JSON null; timestamps as ISO 8601 text.

A batch is retried `retries` times (exponential backoff) when the connection fails, the
request times out or the service answers 5xx; a 4xx answer or a malformed body is not retried.
After the last attempt a ConsoleError names the url and the last error. `timeout` bounds each
request from connecting to the last byte of the answer (not each read: a server dripping
bytes cannot hold a request open), and `deadline` bounds every request, retry and pause of one
score() call, or of one engine step that opens `deadline()` around its calls. A score that is
null, NaN, infinite or not a number is an error naming the row.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import json
import math
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import numpy as np
import pyarrow as pa

from console.errors import ConsoleError
from console.playbook.model import Scorer
from console.scoring.base import BaseScorer, as_scores


def json_rows(table: pa.Table) -> list[dict[str, object]]:
    """The table's rows as JSON-ready dicts (NaN/inf -> None, dates -> ISO text)."""
    rows: list[dict[str, object]] = table.to_pylist()
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


class _Watchdog:
    """Ends one request when its time is up, whatever the server does.

    httpx's timeout bounds each read, so a server dripping a byte at a time never trips it.
    The trace extension hands over the request's socket as it connects; a timer shuts it
    down at the deadline, which wakes the blocked read and fails the request at once.
    """

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event != "connection.connect_tcp.complete":
            return
        sock = info["return_value"].get_extra_info("socket")
        with self._lock:
            self._sock = sock
            late = self.fired
        if late:
            _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            sock = self._sock
        if sock is not None:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the client: nothing left to stop
        sock.shutdown(socket.SHUT_RDWR)


class HttpScorer(BaseScorer):
    """Scores through a remote service; see the module docstring for the protocol."""

    def __init__(self, spec: Scorer, features: list[str], backoff: float = 0.2) -> None:
        if not spec.url.startswith(("http://", "https://")):
            raise ConsoleError(f"[scorer] url {spec.url!r} must start with http:// or https://")
        if spec.batch_size < 1:
            raise ConsoleError(f"[scorer] batch_size must be at least 1, not {spec.batch_size}")
        if spec.retries < 0:
            raise ConsoleError(f"[scorer] retries must be 0 or more, not {spec.retries}")
        if not (spec.timeout > 0 and spec.deadline > 0):
            raise ConsoleError(
                f"[scorer] timeout ({spec.timeout}) and deadline ({spec.deadline}) must be "
                f"positive numbers of seconds"
            )
        super().__init__(spec, features)
        self.backoff = backoff  # seconds before the first retry; doubles each time, max 5 s
        self.requests_sent = 0  # every POST attempted, retries included
        self._step = threading.local()  # the open deadline() block's end, per thread

    @property
    def name(self) -> str:
        return f"scorer http {self.spec.url}"

    @contextmanager
    def deadline(self) -> Iterator[None]:
        if getattr(self._step, "end", None) is not None:
            yield  # inside a step already: its deadline holds
            return
        self._step.end = time.monotonic() + self.spec.deadline
        try:
            yield
        finally:
            self._step.end = None

    def score(self, table: pa.Table) -> np.ndarray:
        features = self.feature_table(table)
        parts: list[np.ndarray] = []
        with self.deadline():
            # No kept-alive connections: each request gets its own socket for its watchdog.
            limits = httpx.Limits(max_keepalive_connections=0)
            with httpx.Client(limits=limits) as client:
                for start in range(0, features.num_rows, self.spec.batch_size):
                    batch = features.slice(start, self.spec.batch_size)
                    parts.append(self._score_batch(client, batch, start))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float64)

    def _score_batch(self, client: httpx.Client, batch: pa.Table, offset: int) -> np.ndarray:
        body = json.dumps({"rows": json_rows(batch)}, allow_nan=False)
        end: float = self._step.end
        attempts = self.spec.retries + 1
        last_error = ""
        for attempt in range(attempts):
            pause = min(self.backoff * 2 ** (attempt - 1), 5.0) if attempt else 0.0
            if time.monotonic() + pause >= end:
                raise self._past_deadline(attempt, last_error)
            time.sleep(pause)
            budget = min(self.spec.timeout, end - time.monotonic())
            self.requests_sent += 1
            try:
                response = self._post(client, body, budget)
            except httpx.TransportError as exc:
                last_error = f"{type(exc).__name__}: {exc}"
                continue
            except TimeoutError:
                if budget < self.spec.timeout:
                    raise self._past_deadline(attempt + 1, last_error) from None
                last_error = f"no answer within the timeout of {self.spec.timeout:g} s"
                continue
            if response.status_code >= 500:
                last_error = f"HTTP {response.status_code}: {response.text[:200]}"
                continue
            if response.status_code != 200:
                raise ConsoleError(
                    f"{self.name} refused the request: HTTP {response.status_code}: "
                    f"{response.text[:200]}"
                )
            return self._parse(response, batch.num_rows, offset)
        raise ConsoleError(
            f"{self.name}: no scores after {attempts} attempt(s); last error: {last_error}"
        )

    def _post(self, client: httpx.Client, body: str, seconds: float) -> httpx.Response:
        """One POST, answered in full within `seconds` (TimeoutError otherwise)."""
        with _Watchdog(seconds) as watchdog:
            try:
                response = client.post(
                    self.spec.url,
                    content=body,
                    headers={"content-type": "application/json"},
                    timeout=seconds,
                    extensions={"trace": watchdog.trace},
                )
            except httpx.TimeoutException:
                raise TimeoutError from None
            except httpx.TransportError:
                if watchdog.fired:
                    raise TimeoutError from None
                raise
        if watchdog.fired:  # a body cut short by the watchdog may still parse: never trust it
            raise TimeoutError
        return response

    def _past_deadline(self, attempts: int, last_error: str) -> ConsoleError:
        last = f"; last error: {last_error}" if last_error else ""
        return ConsoleError(
            f"{self.name}: no scores within the step's deadline of {self.spec.deadline:g} s "
            f"(scorer.deadline) after {attempts} attempt(s){last}"
        )

    def _parse(self, response: httpx.Response, expected: int, offset: int) -> np.ndarray:
        try:
            answer = response.json()
        except ValueError:
            raise ConsoleError(
                f"{self.name} answered with a body that is not JSON: {response.text[:200]!r}"
            ) from None
        if not isinstance(answer, dict) or not isinstance(answer.get("scores"), list):
            raise ConsoleError(f'{self.name} answered without a "scores" list: {answer!r:.200}')
        return as_scores(answer["scores"], expected, self.name, offset)
