"""The http scorer against real HTTP servers on 127.0.0.1 (ephemeral ports, bounded requests)."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pyarrow as pa
import pytest

from console.errors import ConsoleError
from console.playbook.model import Scorer
from console.scoring import build_scorer


class Handler(BaseHTTPRequestHandler):
    """Scores a*2 + b (null b -> 0) unless the server's `behaviour` says otherwise."""

    def do_POST(self):
        server = self.server
        with server.lock:
            server.requests += 1
            count = server.requests
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        server.bodies.append(body)
        behaviour = server.behaviour
        if behaviour == "always-500" or (behaviour == "fail-twice" and count <= 2):
            return self.reply(500, b"model not loaded")
        if behaviour == "slow":
            time.sleep(1.0)
        if behaviour == "bad-request":
            return self.reply(422, b"unknown feature b")
        if behaviour == "no-scores":
            return self.reply(200, json.dumps({"predictions": []}).encode())
        if behaviour == "short":
            return self.reply(200, json.dumps({"scores": [1.0]}).encode())
        scores = [2 * row["a"] + (row["b"] or 0) for row in body["rows"]]
        self.reply(200, json.dumps({"scores": scores}).encode())

    def reply(self, status, payload):
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # the slow handler writes to a client that has given up: expected here


@pytest.fixture
def server():
    httpd = Server(("127.0.0.1", 0), Handler)
    httpd.lock = threading.Lock()
    httpd.requests = 0
    httpd.bodies = []
    httpd.behaviour = "formula"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/score"
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def scorer_for(url, **spec):
    scorer = build_scorer(Scorer(type="http", url=url, **spec), features=["a", "b"])
    scorer.backoff = 0.01  # keep the retry tests fast
    return scorer


def table(n):
    b = [float(i) if i % 7 else None for i in range(n)]
    return pa.table({"a": np.arange(n, dtype=float), "b": pa.array(b, pa.float64()), "z": [1] * n})


def test_scores_in_batches_and_in_order(server):
    scorer = scorer_for(server.url, batch_size=500)
    data = table(1200)
    scores = scorer.score(data)
    expected = [2 * i + (i if i % 7 else 0) for i in range(1200)]
    np.testing.assert_allclose(scores, expected)
    assert server.requests == 3 and scorer.requests_sent == 3
    assert [len(b["rows"]) for b in server.bodies] == [500, 500, 200]
    assert server.bodies[0]["rows"][1] == {"a": 1.0, "b": 1.0}  # only the scorer's features
    assert server.bodies[0]["rows"][0] == {"a": 0.0, "b": None}


def test_nan_is_sent_as_json_null(server):
    scorer = scorer_for(server.url)
    scores = scorer.score(pa.table({"a": [1.0], "b": [float("nan")]}))
    assert server.bodies[0]["rows"] == [{"a": 1.0, "b": None}]
    assert scores.tolist() == [2.0]


def test_retries_after_two_failures_then_answers(server):
    server.behaviour = "fail-twice"
    scorer = scorer_for(server.url, retries=2)
    np.testing.assert_allclose(scorer.score(table(3)), [0.0, 3.0, 6.0])
    assert server.requests == 3


def test_always_500_ends_in_a_clear_error_after_bounded_attempts(server):
    server.behaviour = "always-500"
    scorer = scorer_for(server.url, retries=2)
    with pytest.raises(ConsoleError) as caught:
        scorer.score(table(3))
    message = str(caught.value)
    assert server.url in message
    assert "3 attempt(s)" in message and "HTTP 500" in message and "model not loaded" in message
    assert "Traceback" not in message
    assert server.requests == 3


def test_slow_service_times_out(server):
    server.behaviour = "slow"
    scorer = scorer_for(server.url, timeout=0.2, retries=1)
    with pytest.raises(ConsoleError, match=r"no answer within the timeout of 0\.2 s"):
        scorer.score(table(2))
    assert scorer.requests_sent == 2


def test_unreachable_port_names_the_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/score"
    scorer = scorer_for(url, retries=1)
    with pytest.raises(ConsoleError, match=f"{url}.*2 attempt.*ConnectError"):
        scorer.score(table(2))
    assert scorer.requests_sent == 2


def test_client_errors_are_not_retried(server):
    server.behaviour = "bad-request"
    scorer = scorer_for(server.url, retries=3)
    with pytest.raises(ConsoleError, match="refused the request: HTTP 422: unknown feature b"):
        scorer.score(table(2))
    assert server.requests == 1


@pytest.mark.parametrize(
    ("behaviour", "message"),
    [("no-scores", 'without a "scores" list'), ("short", "returned 1 scores for 2 rows")],
)
def test_malformed_answers_are_clear_errors(server, behaviour, message):
    server.behaviour = behaviour
    with pytest.raises(ConsoleError, match=message):
        scorer_for(server.url).score(table(2))
    assert server.requests == 1


def test_empty_table_sends_nothing(server):
    assert scorer_for(server.url).score(table(0)).size == 0
    assert server.requests == 0
