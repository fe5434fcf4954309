"""docs/scoring.md's examples are what the code does."""

import json
import re
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import pytest

from console.playbook.model import Scorer
from console.scoring import build_scorer

DOC = (Path(__file__).resolve().parents[1] / "docs" / "scoring.md").read_text()


def blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.S)


def doc_scorer_spec():
    (toml_text,) = blocks("toml")
    return Scorer(**tomllib.loads(toml_text)["scorer"])


def doc_request_and_response():
    request, response = (json.loads(text) for text in blocks("json"))
    return request, response


def test_the_toml_example_builds_and_answers_as_the_response_example():
    scorer = build_scorer(doc_scorer_spec())
    request, response = doc_request_and_response()
    rows = pa.Table.from_pylist(request["rows"])
    scores = scorer.score(rows)
    assert scores.tolist() == pytest.approx(response["scores"], abs=5e-5)
    assert list(scorer.decide(scores)) == ["decline", "approve", "approve"]


class Recorder(BaseHTTPRequestHandler):
    def do_POST(self):
        self.server.bodies.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
        payload = json.dumps(self.server.answer).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def test_the_http_scorer_sends_the_request_example():
    request, response = doc_request_and_response()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    httpd.daemon_threads = True
    httpd.bodies, httpd.answer = [], response
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/score"
        features = list(request["rows"][0])
        scorer = build_scorer(Scorer(type="http", url=url), features=features)
        table = pa.Table.from_pylist(request["rows"]).append_column("ignored", pa.array([1, 2, 3]))
        scores = scorer.score(table)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
    assert httpd.bodies == [request]
    assert scores.tolist() == response["scores"]
