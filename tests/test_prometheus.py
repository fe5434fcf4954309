"""Metric series from a real Prometheus (tests/prometheus_server.py) and from a recording HTTP
server on 127.0.0.1 (headers, credentials, malformed and slow answers)."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
import time
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import duckdb
import pyarrow as pa
import pytest
from prometheus_server import ROOT, free_port, scenario_metrics

from console.errors import ConsoleError
from console.telemetry.prometheus import (
    KEYS,
    METRICS_SCHEMA,
    PrometheusSpec,
    metrics_table,
    parse_prometheus,
)

SERIES = ("fraud_decline_rate", "fraud_error_rate", "fraud_latency_p99_ms")
DATA_START = datetime(2026, 11, 2, tzinfo=UTC)
DATA_END = datetime(2026, 11, 16, 5, tzinfo=UTC)  # the last hour either scenario holds


def spec(url: str, queries: dict[str, str], **extra: Any) -> PrometheusSpec:
    table = {"source": "prometheus", "url": url, "step": "1h", "queries": queries, **extra}
    return parse_prometheus(table, "playbook.toml")


def rows(table: pa.Table) -> list[tuple[Any, ...]]:
    return sorted((r["metric"], r["labels"], r["ts"], r["value"]) for r in table.to_pylist())


# -- a real Prometheus ---------------------------------------------------------------------


def test_plain_selectors_return_the_local_series_exactly(prometheus_url: str) -> None:
    local = scenario_metrics("fraud-friday-noon")
    remote = metrics_table(spec(prometheus_url, {s: s for s in SERIES}), DATA_START, DATA_END)
    assert remote.schema == METRICS_SCHEMA
    assert remote.num_rows == local.num_rows == 1008
    # Values compare exactly: the OpenMetrics text and Prometheus's JSON both use the
    # shortest text that reads back as the same double.
    assert rows(remote) == rows(local)


def test_a_range_function_over_a_window_not_on_the_hour(prometheus_url: str) -> None:
    local = scenario_metrics("fraud-friday-noon")
    start = datetime(2026, 11, 12, 7, 40, tzinfo=UTC)  # rounded down to 07:00, the bucket
    end = datetime(2026, 11, 13, 20, tzinfo=UTC)
    queries = {"fraud_decline_rate": "last_over_time(fraud_decline_rate[1h])"}
    remote = metrics_table(spec(prometheus_url, queries), start, end)
    floor = datetime(2026, 11, 12, 7, tzinfo=UTC)
    expected = [r for r in rows(local) if r[0] == "fraud_decline_rate" and floor <= r[2] <= end]
    assert len(expected) == 38
    assert rows(remote) == expected


def test_long_ranges_are_split_under_the_points_limit(prometheus_url: str) -> None:
    # 9 days at 1m is 12,961 points: one query_range would be refused by Prometheus
    # ("exceeded maximum resolution of 11,000 points per timeseries").
    start, end = datetime(2026, 11, 3, tzinfo=UTC), datetime(2026, 11, 12, tzinfo=UTC)
    remote = metrics_table(
        parse_prometheus(
            {"url": prometheus_url, "step": "1m", "queries": {"e": "fraud_error_rate"}}, "p"
        ),
        start,
        end,
    )
    times = remote.column("ts").to_pylist()
    assert len(times) == len(set(times))  # consecutive chunks share no evaluation time
    on_the_hour = [
        (t, v)
        for t, v in zip(times, remote.column("value").to_pylist(), strict=True)
        if t.minute == 0
    ]
    local = [
        (r["ts"], r["value"])
        for r in scenario_metrics("fraud-friday-noon").to_pylist()
        if r["metric"] == "fraud_error_rate" and start <= r["ts"] <= end
    ]
    assert on_the_hour == sorted(local) and len(local) == 9 * 24 + 1


def test_duplicated_pushes_are_stored_once_and_gaps_stay_gaps(prometheus_url: str) -> None:
    """fraud-sunday-night's metrics agent sends each late point twice with the same value;
    Prometheus's TSDB keeps one sample per series and timestamp (an identical sample appended
    again is dropped, a different value would be refused), so the source returns the distinct
    rows; the three hours with no point at all stay without rows."""
    local = scenario_metrics("fraud-sunday-night")
    queries = {s: f"sunday_{s}" for s in SERIES}
    remote = metrics_table(spec(prometheus_url, queries), DATA_START, DATA_END)
    local_rows = rows(local)
    assert len(local_rows) - len(set(local_rows)) == 15  # the scenario's duplicates
    assert rows(remote) == sorted(set(local_rows))
    decline = {r[2] for r in rows(remote) if r[0] == "fraud_decline_rate"}
    gap = [datetime(2026, 11, 15, 16, tzinfo=UTC) + timedelta(hours=h) for h in range(9)]
    assert not decline & set(gap)


def test_a_promql_syntax_error_names_the_source_and_key(prometheus_url: str) -> None:
    bad = spec(prometheus_url, {"fraud_decline_rate": "rate(fraud_decline_rate[5m"})
    with pytest.raises(ConsoleError) as caught:
        metrics_table(bad, DATA_START, DATA_END)
    message = str(caught.value)
    assert message.startswith(f"Prometheus at {prometheus_url}, series 'fraud_decline_rate'")
    assert "telemetry.metrics.queries.fraud_decline_rate" in message
    assert "HTTP 400, bad_data: " in message and "parse error" in message
    assert caught.value.key == "telemetry.metrics.queries.fraud_decline_rate"


def test_an_unreachable_port_names_the_source_and_key() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ConsoleError) as caught:
        metrics_table(spec(url, {"x": "up"}), DATA_START, DATA_END)
    message = str(caught.value)
    assert message.startswith(f"Prometheus at {url}, series 'x' (telemetry.metrics.queries.x)")
    assert "cannot reach the server" in message


# -- a recording server --------------------------------------------------------------------


class Recorder:
    """What the fake API answers next, and every request it received."""

    def __init__(self) -> None:
        self.status = 200
        self.body: bytes = matrix([])
        self.delay = 0.0
        self.requests: list[tuple[dict[str, str], dict[str, list[str]]]] = []


def matrix(result: list[dict[str, Any]], kind: str = "matrix") -> bytes:
    return json.dumps(
        {"status": "success", "data": {"resultType": kind, "result": result}}
    ).encode()


@pytest.fixture
def fake() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            form = parse_qs(self.rfile.read(length).decode())
            recorder.requests.append((dict(self.headers.items()), form))
            time.sleep(recorder.delay)
            self.send_response(recorder.status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(recorder.body)))
            self.end_headers()
            # A client that gave up on a slow answer has closed the connection.
            with contextlib.suppress(ConnectionError):
                self.wfile.write(recorder.body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/prometheus", recorder
    finally:
        server.shutdown()
        server.server_close()


TOKEN = "s3cr3t-t0ken-value"


def test_bearer_token_and_tenant_header_come_from_the_environment(
    fake: tuple[str, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, recorder = fake
    monkeypatch.setenv("PROM_TOKEN", TOKEN)
    monkeypatch.setenv("MIMIR_TENANT", "team-fraud")
    recorder.body = matrix(
        [{"metric": {"__name__": "x", "job": "api"}, "values": [[1793577600, "0.5"]]}]
    )
    the_spec = spec(
        url,
        {"x": "x"},
        bearer_token_env="PROM_TOKEN",
        headers={"X-Scope-OrgID": "MIMIR_TENANT"},
    )
    table = metrics_table(the_spec, DATA_START, DATA_START + timedelta(hours=2))
    headers, form = recorder.requests[0]
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["X-Scope-OrgID"] == "team-fraud"
    assert form["query"] == ["x"] and form["step"] == ["3600.000"]
    assert form["start"] == ["1793577600.000"] and form["end"] == ["1793584800.000"]
    assert table.to_pylist() == [
        {
            "ts": datetime(2026, 11, 2, tzinfo=UTC),
            "metric": "x",
            "value": 0.5,
            "labels": '{"job": "api"}',
        }
    ]
    # The spec holds the variables' names only; nothing written from the table holds the token.
    assert TOKEN not in repr(the_spec) and "team-fraud" not in repr(the_spec)
    sink = pa.BufferOutputStream()
    pa.ipc.new_file(sink, table.schema).close()
    assert TOKEN.encode() not in table.to_string().encode() + sink.getvalue().to_pybytes()


def test_an_error_echoing_the_token_is_masked_and_control_characters_shown(
    fake: tuple[str, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, recorder = fake
    monkeypatch.setenv("PROM_TOKEN", TOKEN)
    recorder.status = 401
    recorder.body = f"token {TOKEN} refused\x1b]0;owned\x07".encode()
    with pytest.raises(ConsoleError) as caught:
        metrics_table(spec(url, {"x": "x"}, bearer_token_env="PROM_TOKEN"), DATA_START, DATA_START)
    message = str(caught.value)
    assert TOKEN not in message and "\x1b" not in message
    assert message.endswith("HTTP 401: token <redacted> refused\\x1b]0;owned\\x07")


def test_basic_auth_from_the_environment(
    fake: tuple[str, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, recorder = fake
    monkeypatch.setenv("PROM_USER", "ops")
    monkeypatch.setenv("PROM_PASSWORD", "pa:ss")
    the_spec = spec(
        url, {"x": "x"}, basic_auth_user_env="PROM_USER", basic_auth_password_env="PROM_PASSWORD"
    )
    metrics_table(the_spec, DATA_START, DATA_START)
    expected = base64.b64encode(b"ops:pa:ss").decode()
    assert recorder.requests[0][0]["Authorization"] == f"Basic {expected}"


def test_an_unset_credential_variable_names_the_key(fake: tuple[str, Recorder]) -> None:
    url, _ = fake
    with pytest.raises(
        ConsoleError, match=r"PROM_UNSET_TOKEN \(telemetry.metrics.bearer_token_env\)"
    ):
        metrics_table(
            spec(url, {"x": "x"}, bearer_token_env="PROM_UNSET_TOKEN"), DATA_START, DATA_START
        )


def test_nan_and_infinite_points_are_gaps(fake: tuple[str, Recorder]) -> None:
    url, recorder = fake
    values = [[1793577600, "NaN"], [1793581200, "1.25"], [1793584800, "+Inf"], [1793588400, "-Inf"]]
    recorder.body = matrix([{"metric": {}, "values": values}])
    table = metrics_table(spec(url, {"x": "x"}), DATA_START, DATA_START + timedelta(hours=3))
    assert table.column("value").to_pylist() == [1.25]
    assert table.column("labels").to_pylist() == ["{}"]


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            422,
            b'{"status":"error","errorType":"execution","error":"query timed out\\u001b[2J"}',
            "HTTP 422, execution: query timed out\\x1b[2J",
        ),
        (200, matrix([], kind="vector"), "returned 'vector', not a range vector (matrix)"),
        (502, b"<html>bad gateway</html>", "HTTP 502: <html>bad gateway</html>"),
        (200, b"not json", "not a Prometheus API response: not json"),
        (200, matrix([{"metric": {}, "values": [["x", "1"]]}]), 'a value is not [time, "number"]'),
    ],
)
def test_bad_answers_name_the_source_and_key(
    fake: tuple[str, Recorder], status: int, body: bytes, expected: str
) -> None:
    url, recorder = fake
    recorder.status, recorder.body = status, body
    with pytest.raises(ConsoleError) as caught:
        metrics_table(spec(url, {"rate": "x"}), DATA_START, DATA_START)
    message = str(caught.value)
    assert message.startswith(
        f"Prometheus at {url}, series 'rate' (telemetry.metrics.queries.rate)"
    )
    assert expected in message


def test_a_slow_answer_stops_at_the_timeout(fake: tuple[str, Recorder]) -> None:
    url, recorder = fake
    recorder.delay = 2.0
    began = time.monotonic()
    with pytest.raises(
        ConsoleError, match=r"no complete answer within 0.3 s \(telemetry.metrics.timeout\)"
    ):
        metrics_table(spec(url, {"x": "x"}, timeout=0.3), DATA_START, DATA_START)
    assert time.monotonic() - began < 1.5


def test_the_deadline_bounds_all_requests_together(fake: tuple[str, Recorder]) -> None:
    url, recorder = fake
    recorder.delay = 0.25
    slow = spec(url, {"a": "a", "b": "b", "c": "c"}, timeout=5, deadline=0.4)
    with pytest.raises(ConsoleError, match=r"longer than 0.4 s \(telemetry.metrics.deadline\)"):
        metrics_table(slow, DATA_START, DATA_START)
    assert len(recorder.requests) == 2


# -- the playbook table --------------------------------------------------------------------


def test_every_bad_key_is_listed() -> None:
    table = {
        "source": "prometheus",
        "url": "https://ops:hunter2@prom.example:9090",
        "step": "1 hour",
        "queries": {"ok": "up", "empty": ""},
        "timeout": -1,
        "bearer_token_env": "PROM_TOKEN",
        "basic_auth_user_env": "U",
        "headers": {"X-Scope-OrgID": "tenant-1 literal value", "Host": "H"},
        "colour": "blue",
    }
    with pytest.raises(ConsoleError) as caught:
        parse_prometheus(table, "playbooks/fraud.toml")
    error = caught.value
    keys = [p.split(":", 1)[0] for p in error.problems]
    assert keys == [
        "telemetry.metrics.colour",
        "telemetry.metrics.url",
        "telemetry.metrics.step",
        "telemetry.metrics.queries.empty",
        "telemetry.metrics.timeout",
        "telemetry.metrics.basic_auth_user_env",
        "telemetry.metrics.bearer_token_env",
        "telemetry.metrics.headers.X-Scope-OrgID",
        "telemetry.metrics.headers.Host",
    ]
    assert str(error).startswith("playbooks/fraud.toml: [telemetry.metrics] with source")
    assert "hunter2" not in str(error) and "tenant-1 literal value" not in str(error)


def test_a_good_table_becomes_a_spec() -> None:
    parsed = parse_prometheus(
        {
            "source": "prometheus",
            "url": "https://mimir.example/prometheus/",
            "step": "1h30m",
            "queries": {"fraud_decline_rate": "sum(rate(declines[5m])) / sum(rate(all[5m]))"},
            "headers": {"X-Scope-OrgID": "MIMIR_TENANT"},
            "deadline": 20,
        },
        "p.toml",
    )
    assert parsed.endpoint == "https://mimir.example/prometheus/api/v1/query_range"
    assert parsed.step == timedelta(hours=1, minutes=30)
    assert parsed.headers == (("X-Scope-OrgID", "MIMIR_TENANT"),)
    assert (parsed.timeout, parsed.deadline) == (30.0, 20.0)


def test_the_table_reads_as_the_metrics_contract(prometheus_url: str) -> None:
    """DuckDB reads the returned table with the contract's types (docs/telemetry.md)."""
    table = metrics_table(
        spec(prometheus_url, {"fraud_decline_rate": "fraud_decline_rate"}), DATA_START, DATA_END
    )
    con = duckdb.connect()
    con.register("metrics", table)
    described = {r[0]: r[1] for r in con.sql("DESCRIBE metrics").fetchall()}
    assert described == {
        "ts": "TIMESTAMP WITH TIME ZONE",
        "metric": "VARCHAR",
        "value": "DOUBLE",
        "labels": "VARCHAR",
    }


DOC = ROOT / "docs" / "telemetry-prometheus.md"


def test_the_doc_example_parses_and_every_key_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    example = re.search(r"```toml\n(.*?)```", text, re.S)
    assert example is not None
    table = tomllib.loads(example.group(1))["telemetry"]["metrics"]
    parsed = parse_prometheus(table, str(DOC))
    assert [name for name, _ in parsed.queries] == list(SERIES)
    documented = set(re.findall(r"^\| ([a-z_]+)(?:, ([a-z_]+))? \|", text, re.M))
    names = {n for pair in documented for n in pair if n} - {"key"}
    assert names == set(KEYS)
