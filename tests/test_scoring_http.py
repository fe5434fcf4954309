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
        if behaviour.startswith("raw:"):  # the scores list exactly as written, e.g. NaN
            return self.reply(200, b'{"scores": ' + behaviour[4:].encode() + b"}")
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
    # Batches go out concurrently (scorer.concurrency): they may arrive in any order.
    assert sorted(len(b["rows"]) for b in server.bodies) == [200, 500, 500]
    first = next(b["rows"] for b in server.bodies if b["rows"][0]["a"] == 0.0)
    assert first[1] == {"a": 1.0, "b": 1.0}  # only the scorer's features
    assert first[0] == {"a": 0.0, "b": None}


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
    with pytest.raises(ConsoleError) as caught:
        scorer.score(table(2))
    assert str(caught.value) == (
        f"scorer http {server.url} refused the request: HTTP 422: the server did not accept "
        "a 'rows' request (scorer.protocol, names, datatypes): unknown feature b"
    )
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


# NaN, null, "inf" and 1e999 used to be read as scores (NaN counted as the negative decision,
# infinity as the positive one) and made a wrong blast radius: each is now an error naming
# the row's position in the scored table (batches included).
@pytest.mark.parametrize(
    ("scores", "shown"),
    [
        ("[1.0, NaN]", "NaN"),
        ("[1.0, null]", "null"),
        ('[1.0, "inf"]', "'inf'"),
        ("[1.0, 1e999]", "Infinity"),
        ("[1.0, -Infinity]", "-Infinity"),
        ("[1.0, true]", "true"),
    ],
)
def test_a_score_that_is_not_a_finite_number_is_an_error_naming_the_row(server, scores, shown):
    server.behaviour = "raw:" + scores
    scorer = scorer_for(server.url, batch_size=2, retries=2)
    with pytest.raises(ConsoleError) as caught:
        scorer.score(table(2))
    assert str(caught.value) == (
        f"scorer http {server.url} returned {shown} for row 1: not a "
        + ("number" if shown in ("null", "'inf'", "true") else "finite number")
    )
    assert server.requests == 1  # an answer is not retried


def test_the_row_is_counted_across_batches(server):
    server.behaviour = "raw:[1.0, NaN]"
    with pytest.raises(ConsoleError, match="returned NaN for row 1: "):
        scorer_for(server.url, batch_size=2).score(table(2))
    server.behaviour = "formula"
    scorer = scorer_for(server.url, batch_size=2)
    first = scorer.score(table(4))
    assert first.tolist() == [0.0, 3.0, 6.0, 9.0]
    server.behaviour = "raw:[1.0, NaN]"
    with pytest.raises(ConsoleError, match="returned NaN for row 1: "):
        scorer.score(table(2))


class Dripper(ThreadingHTTPServer):
    """Answers one byte every 0.6 s: each read comes well within any per-read timeout."""

    daemon_threads = True
    # Drip from the status line on (`headers`) or only the body after full headers.
    headers_too = True

    def handle_error(self, request, client_address):
        pass  # the client hangs up on the drip: expected


class DripHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        body = b'{"scores": [1.0, 2.0]}'
        head = (
            f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        ).encode()
        if not self.server.headers_too:
            self.wfile.write(head)
            self.wfile.flush()
            head = b""
        for byte in head + body:
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            time.sleep(0.6)
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def dripper():
    httpd = Dripper(("127.0.0.1", 0), DripHandler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/score"
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.mark.parametrize("headers_too", [True, False])
def test_timeout_bounds_the_whole_request_against_a_dripping_server(dripper, headers_too):
    dripper.headers_too = headers_too
    scorer = scorer_for(dripper.url, timeout=1, retries=0)
    started = time.monotonic()
    with pytest.raises(ConsoleError) as caught:
        scorer.score(table(2))
    elapsed = time.monotonic() - started
    assert str(caught.value) == (
        f"scorer http {dripper.url}: no scores after 1 attempt(s); "
        "last error: no answer within the timeout of 1 s"
    )
    assert 0.9 < elapsed < 1.8


def test_the_deadline_bounds_every_attempt_of_a_step(dripper):
    scorer = scorer_for(dripper.url, timeout=1, retries=5, deadline=1.5)
    started = time.monotonic()
    with pytest.raises(ConsoleError) as caught, scorer.deadline():
        scorer.score(table(2))
    elapsed = time.monotonic() - started
    assert str(caught.value).startswith(
        f"scorer http {dripper.url}: no scores within the step's deadline of 1.5 s "
        "(scorer.deadline) after 2 attempt(s); last error: no answer within the timeout of 1 s"
    )
    assert 1.4 < elapsed < 2.3
    assert scorer.requests_sent == 2


def test_one_deadline_covers_every_call_inside_a_step(server):
    server.behaviour = "slow"  # each answer takes 1 s
    scorer = scorer_for(server.url, timeout=5, retries=0, deadline=1.5)
    started = time.monotonic()
    deadline = r"deadline of 1\.5 s \(scorer\.deadline\)"
    with pytest.raises(ConsoleError, match=deadline), scorer.deadline():
        scorer.score(table(2))  # 1 s
        scorer.score(table(2))  # cut at 1.5 s
    assert time.monotonic() - started < 2.2
    assert server.requests == 2
    # Outside a step each call has the whole deadline to itself.
    server.requests = 0
    scorer.score(table(2))
    scorer.score(table(2))
    assert server.requests == 2


def test_timeout_and_deadline_must_be_positive():
    with pytest.raises(ConsoleError, match=r"timeout \(5\.0\) and deadline \(0\) must be positive"):
        scorer_for("http://127.0.0.1:9/score", deadline=0)
