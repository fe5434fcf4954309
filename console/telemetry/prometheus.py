"""Metric series from Prometheus (or Thanos, Mimir: the same HTTP API) as the metrics table.

The playbook's `[telemetry.metrics]` table with `source = "prometheus"` names a base URL, a step
and one PromQL expression per metric series (docs/telemetry-prometheus.md). `metrics_table`
runs `POST <url>/api/v1/query_range` for each series over a time range and maps the answer to
the metrics contract of docs/telemetry.md: ts (timestamp[us, tz=UTC]), metric (the playbook's
series name), value (float64), labels (the result's label set as JSON text, sorted keys).

Why the choices below:
- Secrets never enter the playbook, the spec or any message: the playbook names environment
  variables (`bearer_token_env`, `basic_auth_*_env`, header values), read only when the
  requests are made; a URL with `user:password@` is refused; and any secret a server echoes in
  its error text is masked before the text reaches a message.
- Range queries evaluate at `start + k * step`. The start is rounded down to a multiple of the
  step since the Unix epoch, so hourly points land on UTC hours, as the contract's buckets do,
  whatever time the investigation asks from.
- Prometheus refuses a range query of more than 11,000 points per series; longer ranges are
  split into consecutive chunks that never share an evaluation time.
- NaN (Prometheus's answer for 0/0, e.g. a ratio over an idle bucket) and +/-Inf are not
  measurements: such points are dropped, so the bucket reads as a gap, which triage sees, rather
  than a value that would turn every average over the window into NaN. Staleness markers are
  never returned by the query API (a stale series simply has no point at that time).
- `__name__` is dropped from the labels: the series' name is the `metric` column, and range
  functions (`avg_over_time`, `rate`) drop it anyway, so the labels of a plain selector and of a
  function over it agree.
- Every request is bounded (`timeout`, from connecting to the last byte; the answer is read in
  chunks and the clock checked between them) and all requests of one call together by
  `deadline`; an answer larger than MAX_ANSWER_BYTES is refused rather than held in memory.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pyarrow as pa

from console.errors import ConsoleError
from console.text import one_line

SOURCE = "prometheus"
PREFIX = "telemetry.metrics"
# Prometheus refuses a range query whose result would exceed this many points per series
# ("exceeded maximum resolution of 11,000 points per timeseries").
MAX_POINTS = 11_000
MAX_ANSWER_BYTES = 256 * 1024 * 1024
DEFAULT_TIMEOUT = 30.0
DEFAULT_DEADLINE = 300.0
# How much of a server's error text a message quotes; secrets are masked in the first
# _TEXT_SCANNED bytes before the quote is cut, so no secret is cut in half and left showing.
SERVER_TEXT_CHARS = 300
_TEXT_SCANNED = 65_536

METRICS_SCHEMA = pa.schema(
    [
        ("ts", pa.timestamp("us", tz="UTC")),
        ("metric", pa.string()),
        ("value", pa.float64()),
        ("labels", pa.string()),
    ]
)

KEYS = frozenset(  # every key of the table (docs/telemetry-prometheus.md)
    {
        "source",
        "url",
        "step",
        "timeout",
        "deadline",
        "queries",
        "headers",
        "bearer_token_env",
        "basic_auth_user_env",
        "basic_auth_password_env",
    }
)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Headers the HTTP client itself must write.
_RESERVED_HEADERS = frozenset({"host", "content-length", "content-type", "transfer-encoding"})
# A Prometheus duration: units largest first, each at most once ("1h30m", "90s", "500ms").
_DURATION = re.compile(
    r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?"
)
# Records one problem: the key under [telemetry.metrics] and why it is wrong.
_Bad = Callable[[str, str], None]
_DURATION_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)


@dataclass(frozen=True)
class PrometheusAuth:
    """Names of the environment variables holding credentials (never the credentials)."""

    bearer_token_env: str | None = None
    basic_auth_user_env: str | None = None
    basic_auth_password_env: str | None = None


@dataclass(frozen=True)
class PrometheusSpec:
    """A validated `[telemetry.metrics]` table with `source = "prometheus"`."""

    url: str  # base URL without credentials or trailing slash, e.g. http://prom:9090
    queries: tuple[tuple[str, str], ...]  # (series name, PromQL), in playbook order
    step: timedelta
    auth: PrometheusAuth = PrometheusAuth()
    headers: tuple[tuple[str, str], ...] = ()  # (header name, environment variable name)
    timeout: float = DEFAULT_TIMEOUT  # seconds, one request from connecting to its last byte
    deadline: float = DEFAULT_DEADLINE  # seconds, every request of one metrics_table call

    @property
    def endpoint(self) -> str:
        return f"{self.url}/api/v1/query_range"


def parse_prometheus(table: Mapping[str, Any], where: str) -> PrometheusSpec:
    """The spec of a `[telemetry.metrics]` table; a ConsoleError lists every bad key.

    `where` names the playbook (a path) for the message.
    """
    problems: list[str] = []

    def bad(key: str, why: str) -> None:
        problems.append(f"{PREFIX}.{key}: {why}")

    for key in sorted(set(table) - KEYS, key=str):
        bad(one_line(key), f"unknown key (known: {', '.join(sorted(KEYS))})")
    if table.get("source", SOURCE) != SOURCE:
        bad("source", f"must be {SOURCE!r} here, not {table.get('source')!r}")
    url = _url(table.get("url"), bad)
    step = _step(table.get("step"), bad)
    queries = _queries(table.get("queries"), bad)
    timeout = _seconds(table, "timeout", DEFAULT_TIMEOUT, bad)
    deadline = _seconds(table, "deadline", DEFAULT_DEADLINE, bad)
    auth = _auth(table, bad)
    headers = _headers(table.get("headers"), auth, bad)
    if problems:
        raise ConsoleError(
            f"{where}: [{PREFIX}] with source = {SOURCE!r} has {len(problems)} problem(s)",
            problems=problems,
            key=problems[0].split(":", 1)[0],
        )
    assert url is not None and step is not None  # a None came with a problem
    return PrometheusSpec(url, queries, step, auth, headers, timeout, deadline)


def _url(value: Any, bad: _Bad) -> str | None:
    if not isinstance(value, str) or not value:
        bad("url", "required: the base URL of the Prometheus HTTP API (http://host:9090)")
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        bad("url", f"{one_line(value)!r} must be an http:// or https:// URL with a host")
        return None
    if parts.username is not None or parts.password is not None:
        # Never echo the value: it holds a password.
        bad("url", "must not hold credentials; name them with basic_auth_user_env etc.")
        return None
    if parts.query or parts.fragment:
        bad("url", f"{one_line(value)!r} must be a base URL without ?query or #fragment")
        return None
    return value.rstrip("/")


def parse_duration(text: str) -> timedelta | None:
    """A Prometheus duration ("1h", "90s", "1h30m", "500ms") as a timedelta; None if it is
    not one or is zero."""
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        return None
    ms = sum(int(n) * unit for n, unit in zip(match.groups(), _DURATION_MS, strict=True) if n)
    return timedelta(milliseconds=ms) if ms > 0 else None


def _step(value: Any, bad: _Bad) -> timedelta | None:
    step = parse_duration(value) if isinstance(value, str) else None
    if step is None:
        bad(
            "step",
            f'{one_line(repr(value))} must be a Prometheus duration such as "1h" or "5m" (not 0)',
        )
    return step


def _queries(value: Any, bad: _Bad) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping) or not value:
        bad("queries", 'required: a table of series name = "PromQL expression"')
        return ()
    found: list[tuple[str, str]] = []
    for name, promql in value.items():
        if not isinstance(promql, str) or not promql.strip():
            bad(f"queries.{one_line(name)}", "must be a non-empty PromQL expression")
        elif not name:
            bad("queries", "a series name must not be empty")
        else:
            found.append((name, promql))
    return tuple(found)


def _seconds(table: Mapping[str, Any], key: str, default: float, bad: _Bad) -> float:
    value = table.get(key, default)
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        bad(key, f"{value!r} must be a positive number of seconds")
        return default
    return float(value)


def _env_name(table: Mapping[str, Any], key: str, bad: _Bad) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
        bad(key, f"{one_line(value)!r} must be the name of an environment variable")
        return None
    return value


def _auth(table: Mapping[str, Any], bad: _Bad) -> PrometheusAuth:
    auth = PrometheusAuth(
        _env_name(table, "bearer_token_env", bad),
        _env_name(table, "basic_auth_user_env", bad),
        _env_name(table, "basic_auth_password_env", bad),
    )
    basic = (auth.basic_auth_user_env, auth.basic_auth_password_env)
    if (basic[0] is None) != (basic[1] is None):
        bad("basic_auth_user_env", "basic auth needs both basic_auth_user_env and _password_env")
    if auth.bearer_token_env is not None and basic[0] is not None:
        bad("bearer_token_env", "use either a bearer token or basic auth, not both")
    return auth


def _headers(value: Any, auth: PrometheusAuth, bad: _Bad) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        bad("headers", 'must be a table of header name = "ENVIRONMENT_VARIABLE"')
        return ()
    authorised = auth.bearer_token_env is not None or auth.basic_auth_user_env is not None
    found: list[tuple[str, str]] = []
    for name, env in value.items():
        key = f"headers.{one_line(name)}"
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            bad(key, "is not an HTTP header name")
        elif name.lower() in _RESERVED_HEADERS or (name.lower() == "authorization" and authorised):
            bad(key, "is set by the console itself")
        elif not isinstance(env, str) or not _ENV_NAME.fullmatch(env):
            # The value is the variable's name, so a pasted secret is refused, not echoed.
            bad(key, "must name an environment variable holding the header's value")
        else:
            found.append((name, env))
    return tuple(found)


# -- querying -------------------------------------------------------------------------------


def metrics_table(spec: PrometheusSpec, start: datetime, end: datetime) -> pa.Table:
    """Every series of `spec` over [start, end] at `spec.step`, as a metrics-contract table
    ordered by metric, labels and ts. ConsoleError names the URL and the series' key."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("metrics_table needs timezone-aware start and end")
    headers, secrets = _credentials(spec)
    auth = None
    if spec.auth.basic_auth_user_env and spec.auth.basic_auth_password_env:
        user, password = (
            _env_value(spec, spec.auth.basic_auth_user_env, "basic_auth_user_env"),
            _env_value(spec, spec.auth.basic_auth_password_env, "basic_auth_password_env"),
        )
        auth = httpx.BasicAuth(user, password)
        secrets += [user, password]
    ends_at = time.monotonic() + spec.deadline
    columns: dict[str, list[Any]] = {"ts": [], "metric": [], "value": [], "labels": []}
    with httpx.Client(auth=auth, headers=headers, follow_redirects=False) as client:
        for series, promql in spec.queries:
            call = _Call(spec, series, promql, client, secrets, ends_at)
            for chunk_start, chunk_end in _chunks(start, end, spec.step):
                call.run(chunk_start, chunk_end, columns)
    table = pa.table(columns, schema=METRICS_SCHEMA)
    return table.sort_by([("metric", "ascending"), ("labels", "ascending"), ("ts", "ascending")])


def _credentials(spec: PrometheusSpec) -> tuple[dict[str, str], list[str]]:
    headers: dict[str, str] = {}
    if spec.auth.bearer_token_env:
        token = _env_value(spec, spec.auth.bearer_token_env, "bearer_token_env")
        headers["Authorization"] = f"Bearer {token}"
    for name, env in spec.headers:
        headers[name] = _env_value(spec, env, f"headers.{name}")
    # Header values count as secrets too (a Mimir tenant id is not public either).
    secrets = [v.removeprefix("Bearer ") for v in headers.values()]
    return headers, secrets


def _env_value(spec: PrometheusSpec, env: str, key: str) -> str:
    value = os.environ.get(env, "")
    if not value:
        raise ConsoleError(
            f"Prometheus at {spec.url}: environment variable {env} ({PREFIX}.{key}) is not set",
            key=f"{PREFIX}.{key}",
        )
    return value


def _chunks(start: datetime, end: datetime, step: timedelta) -> Iterator[tuple[int, int]]:
    """Evaluation ranges in epoch milliseconds: from `start` rounded down to a multiple of the
    step, at most MAX_POINTS points each, consecutive without sharing a point."""
    step_ms = step // timedelta(milliseconds=1)
    first = _epoch_ms(start) // step_ms * step_ms
    last = _epoch_ms(end)
    while first <= last:
        chunk_end = min(first + (MAX_POINTS - 1) * step_ms, last)
        yield first, chunk_end
        first = chunk_end // step_ms * step_ms + step_ms


def _epoch_ms(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def _seconds_text(ms: int) -> str:
    return f"{ms // 1000}.{ms % 1000:03d}"


@dataclass
class _Call:
    """The requests for one series: every failure names the URL and the series' key."""

    spec: PrometheusSpec
    series: str
    promql: str
    client: httpx.Client
    secrets: list[str]
    ends_at: float  # time.monotonic() when the whole metrics_table call must be done

    @property
    def key(self) -> str:
        return f"{PREFIX}.queries.{self.series}"

    def fail(self, why: str) -> ConsoleError:
        return ConsoleError(
            f"Prometheus at {self.spec.url}, series {one_line(self.series)!r} "
            f"({one_line(self.key)}): {why}",
            key=self.key,
        )

    def run(self, start_ms: int, end_ms: int, columns: dict[str, list[Any]]) -> None:
        answer = self.fetch(
            {
                "query": self.promql,
                "start": _seconds_text(start_ms),
                "end": _seconds_text(end_ms),
                "step": _seconds_text(self.spec.step // timedelta(milliseconds=1)),
                # The server's own evaluation limit (seconds); ours bounds the whole request.
                "timeout": f"{self.spec.timeout:g}",
            }
        )
        for labels, ts, value in self.points(answer):
            columns["ts"].append(ts)
            columns["metric"].append(self.series)
            columns["value"].append(value)
            columns["labels"].append(labels)

    def fetch(self, form: dict[str, str]) -> Any:
        remaining = self.ends_at - time.monotonic()
        if remaining <= 0:
            raise self.fail(self.over_deadline())
        seconds = min(self.spec.timeout, remaining)
        request_ends = time.monotonic() + seconds
        try:
            with self.client.stream(
                "POST", self.spec.endpoint, data=form, timeout=seconds
            ) as response:
                body = bytearray()
                for part in response.iter_bytes():
                    body += part
                    if len(body) > MAX_ANSWER_BYTES:
                        raise self.fail(f"the answer is larger than {MAX_ANSWER_BYTES:,} bytes")
                    if time.monotonic() > request_ends:
                        raise httpx.ReadTimeout("answer too slow")
        except httpx.TimeoutException:
            if seconds < self.spec.timeout:  # the deadline, not the timeout, cut it short
                raise self.fail(self.over_deadline()) from None
            raise self.fail(f"no complete answer within {seconds:g} s ({PREFIX}.timeout)") from None
        except httpx.HTTPError as exc:
            raise self.fail(f"cannot reach the server: {self.server_text(str(exc))}") from None
        return self.answer(response.status_code, bytes(body))

    def over_deadline(self) -> str:
        return f"the queries took longer than {self.spec.deadline:g} s ({PREFIX}.deadline)"

    def answer(self, status: int, body: bytes) -> Any:
        try:
            answer = json.loads(body)
        except ValueError:
            answer = None
        if isinstance(answer, dict) and answer.get("status") == "error":
            what = f"{answer.get('errorType', 'error')}: {answer.get('error', '')}"
            prefix = f"HTTP {status}, " if status >= 400 else ""
            raise self.fail(f"{prefix}{self.server_text(what)}")
        if status >= 400:
            text = body[:_TEXT_SCANNED].decode("utf-8", "replace")
            raise self.fail(f"HTTP {status}: {self.server_text(text)}")
        if not isinstance(answer, dict) or answer.get("status") != "success":
            text = body[:_TEXT_SCANNED].decode("utf-8", "replace")
            raise self.fail(
                f"the answer is not a Prometheus API response: {self.server_text(text)}"
            )
        return answer.get("data")

    def server_text(self, text: str) -> str:
        """A server's text, safe for one terminal line and free of any credential we sent."""
        for secret in self.secrets:
            text = text.replace(secret, "<redacted>")
        return one_line(text[:SERVER_TEXT_CHARS])

    def points(self, data: Any) -> Iterator[tuple[str, datetime, float]]:
        if not isinstance(data, dict) or data.get("resultType") != "matrix":
            kind = data.get("resultType") if isinstance(data, dict) else None
            raise self.fail(
                f"the query returned {self.server_text(str(kind))!r}, not a range vector "
                "(matrix); query_range needs an expression of instant-vector type"
            )
        result = data.get("result")
        if not isinstance(result, list):
            raise self.fail("the answer's data.result is not a list")
        for item in result:
            labels, values = self.series_of(item)
            for pair in values:
                point = self.point(pair)
                if point is not None:
                    yield labels, point[0], point[1]

    def series_of(self, item: Any) -> tuple[str, list[Any]]:
        metric = item.get("metric") if isinstance(item, dict) else None
        values = item.get("values", []) if isinstance(item, dict) else None
        if not isinstance(metric, dict) or not isinstance(values, list):
            raise self.fail("a result series has no label set or no list of values")
        if not all(isinstance(v, str) for v in metric.values()):
            raise self.fail("a result series has no label set or no list of values")
        labels = {k: v for k, v in metric.items() if k != "__name__"}
        return json.dumps(labels, sort_keys=True), values

    def point(self, pair: Any) -> tuple[datetime, float] | None:
        """One [unix seconds, "value"] pair; None for NaN and +/-Inf (see the module doc)."""
        try:
            seconds, text = pair
            value = float(text)
            micros = round(float(seconds) * 1_000_000)
        except (TypeError, ValueError):
            why = f'a value is not [time, "number"]: {self.server_text(repr(pair))}'
            raise self.fail(why) from None
        if not math.isfinite(value):
            return None
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros), value
