"""The http scorer: POST batches of feature rows to a model server, in its protocol.

Protocols (console/scoring/protocols.py, docs/scoring.md): `rows` (the console's own
{"rows": [...]} -> {"scores": [...]}), `mlflow`, `kserve-v1` and `oip-v2`. At most
`batch_size` rows go in one request, and at most `concurrency` requests are in flight at once
(a thread pool: each request keeps its own socket and watchdog). `output` and `column` choose
the value read from each prediction; the first answer that does not fit them is an error
naming what came back.

A batch is retried `retries` times (exponential backoff) when the connection fails, the
request times out or the server answers 5xx. A 400, 415 or 422 means the server did not
accept the request's shape (wrong protocol, names or types): not retried, the message carries
the server's own words. No other 4xx is retried either. `timeout` bounds each request from
connecting to the last byte of the answer (not each read: a server dripping bytes cannot hold
a request open), and `deadline` bounds every request, retry and pause of one score() call, or
of one engine step that opens `deadline()` around its calls. A score that is null, NaN,
infinite or not a number is an error naming the row.

Headers: a `${VAR}` in a value is read from the environment when the scorer is built (a
missing variable is an error naming it). Header values are secrets: they appear in no message
(a server echoing one back has it masked), and the Scorer spec the engine may record holds
only the variable names.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa

from console.errors import ConsoleError
from console.playbook.model import Scorer
from console.playbook.scorer_http import ENV_REFERENCE
from console.scoring.base import BaseScorer, as_scores
from console.scoring.protocols import columns, item_key, predictions, request, select
from console.text import one_line

# Answers that mean "this request's shape is wrong", whatever the server: retrying sends the
# same shape again, so they are reported at once with the server's explanation.
SHAPE_MISMATCH = (400, 415, 422)
MASK = "****"


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
    """Scores through a model server; see the module docstring for the protocol."""

    def __init__(self, spec: Scorer, features: list[str], backoff: float = 0.2) -> None:
        if not spec.url.startswith(("http://", "https://")):
            raise ConsoleError(f"[scorer] url {spec.url!r} must start with http:// or https://")
        if spec.batch_size < 1 or spec.concurrency < 1:
            raise ConsoleError(
                f"[scorer] batch_size ({spec.batch_size}) and concurrency ({spec.concurrency}) "
                f"must be at least 1"
            )
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
        self._count = threading.Lock()
        self._step = threading.local()  # the open deadline() block's end, per thread
        self._headers = {name: _resolved(name, value) for name, value in spec.headers}
        # Every value a header carries, longest first (so a token inside a longer value is
        # masked whole), and the variables' values on their own.
        secrets = {v for v in self._headers.values() if v}
        for _, template in spec.headers:
            secrets.update(os.environ.get(m, "") for m in ENV_REFERENCE.findall(template))
        self._secrets = sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True)
        self._verify = _verify(spec)

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
        starts = range(0, features.num_rows, self.spec.batch_size)
        with self.deadline():
            end: float = self._step.end
            # No kept-alive connections: each request gets its own socket for its watchdog.
            limits = httpx.Limits(max_keepalive_connections=0)
            with httpx.Client(limits=limits, verify=self._verify, headers=self._headers) as client:
                if len(starts) <= 1 or self.spec.concurrency == 1:
                    parts = [self._batch(client, features, start, end) for start in starts]
                else:
                    parts = self._in_parallel(client, features, starts, end)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float64)

    def _in_parallel(
        self, client: httpx.Client, features: pa.Table, starts: range, end: float
    ) -> list[np.ndarray]:
        workers = min(self.spec.concurrency, len(starts))
        pool = ThreadPoolExecutor(workers, thread_name_prefix="scorer-http")
        futures: list[Future[np.ndarray]] = []
        try:
            futures = [pool.submit(self._batch, client, features, s, end) for s in starts]
            # In order, so the error reported is the first batch's (rows are named by position).
            return [future.result() for future in futures]
        finally:
            # On an error the batches not started are dropped; those in flight end within
            # their timeout (the watchdog), so waiting for them is bounded.
            pool.shutdown(wait=True, cancel_futures=True)

    def _batch(
        self, client: httpx.Client, features: pa.Table, start: int, end: float
    ) -> np.ndarray:
        batch = features.slice(start, self.spec.batch_size)
        cols = columns(batch, self.spec.names, self.spec.datatypes)
        body = request(self.spec.protocol, cols, batch.num_rows, self.spec.output)
        return self._score_batch(
            client, json.dumps(body, allow_nan=False), batch.num_rows, start, end
        )

    def _score_batch(
        self, client: httpx.Client, body: str, rows: int, offset: int, end: float
    ) -> np.ndarray:
        attempts = self.spec.retries + 1
        last_error = ""
        for attempt in range(attempts):
            pause = min(self.backoff * 2 ** (attempt - 1), 5.0) if attempt else 0.0
            if time.monotonic() + pause >= end:
                raise self._past_deadline(attempt, last_error)
            time.sleep(pause)
            budget = min(self.spec.timeout, end - time.monotonic())
            with self._count:
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
                last_error = f"HTTP {response.status_code}: {self._said(response)}"
                continue
            if response.status_code in SHAPE_MISMATCH:
                raise self._error(
                    f"{self.name} refused the request: HTTP {response.status_code}: the server "
                    f"did not accept a {self.spec.protocol!r} request (scorer.protocol, names, "
                    f"datatypes): {self._said(response)}"
                )
            if response.status_code != 200:
                raise self._error(
                    f"{self.name} refused the request: HTTP {response.status_code}: "
                    f"{self._said(response)}"
                )
            return self._parse(response, rows, offset)
        raise self._error(
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

    def _said(self, response: httpx.Response) -> str:
        """The start of what the server said, on one line, control characters made visible."""
        return one_line(response.text[:300])

    def _error(self, message: str) -> ConsoleError:
        for secret in self._secrets:
            message = message.replace(secret, MASK)
        return ConsoleError(message)

    def _past_deadline(self, attempts: int, last_error: str) -> ConsoleError:
        last = f"; last error: {last_error}" if last_error else ""
        return self._error(
            f"{self.name}: no scores within the step's deadline of {self.spec.deadline:g} s "
            f"(scorer.deadline) after {attempts} attempt(s){last}"
        )

    def _parse(self, response: httpx.Response, expected: int, offset: int) -> np.ndarray:
        try:
            answer = response.json()
        except ValueError:
            raise self._error(
                f"{self.name} answered with a body that is not JSON: {self._said(response)!r}"
            ) from None
        try:
            items, where = predictions(self.spec.protocol, answer, self.spec.output)
            key = item_key(self.spec.protocol, self.spec.output)
            values = select(items, where, key, self.spec.column)
        except ConsoleError as exc:
            raise self._error(f"{self.name} ({self.spec.protocol}) {exc}") from None
        return as_scores(values, expected, self.name, offset)


def _resolved(header: str, template: str) -> str:
    """A header value with each ${VAR} replaced by the variable's value."""

    def value(match: Any) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConsoleError(f"[scorer.headers] {header}: environment variable {name} is not set")
        return os.environ[name]

    return ENV_REFERENCE.sub(value, template)


def _verify(spec: Scorer) -> ssl.SSLContext:
    """httpx's verify: the CA bundle's context, else httpx's own for on or off (off only when
    asked for). Made once per scorer: httpx given a bool loads its CA bundle again for every
    client, which is every scoring call (35 ms each)."""
    if not spec.ca_bundle:
        return httpx.create_ssl_context(verify=spec.verify)
    path = Path(spec.ca_bundle).expanduser()
    try:
        context = ssl.create_default_context(cafile=str(path))
    except (OSError, ssl.SSLError) as exc:
        raise ConsoleError(
            f"[scorer] ca_bundle {str(path)!r}: not a readable PEM file of certificates ({exc})"
        ) from None
    if not spec.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
