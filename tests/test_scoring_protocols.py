"""The http scorer's protocols against a local server speaking each of them (127.0.0.1).

The server below answers each protocol's documented shape (docs/scoring.md; the real servers
are in tests/test_model_servers.py) and misbehaves on demand: 5xx, 422, slow, dripping,
short, non-finite. Every failure ends in bounded time as one ConsoleError.
"""

from __future__ import annotations

import json
import re
import shutil
import ssl
import subprocess
import threading
import time
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import tomli_w

from console.audit import read_entries
from console.cli import main
from console.engine.investigation import Investigation
from console.errors import ConsoleError
from console.gameday.answers import ANSWER_FILE
from console.playbook.loader import load_playbook
from console.playbook.model import Scorer
from console.scoring import build_scorer

# Each protocol's keys for reading a probability-like score from this server's answers.
PRESETS: dict[str, dict[str, object]] = {
    "rows": {},
    "mlflow": {"column": 1},
    "kserve-v1": {"column": 1},
    "oip-v2": {"output": "predict_proba", "column": 1},
}
SCENARIO = Path(__file__).resolve().parent.parent / "sample_data" / "fraud-friday-noon"


def _rows(protocol: str, body: dict) -> list[dict]:
    """The request's rows, read as each protocol's server reads them."""
    if protocol == "rows":
        return body["rows"]
    if protocol == "kserve-v1":
        return body["instances"]
    if protocol == "mlflow":
        split = body["dataframe_split"]
        return [dict(zip(split["columns"], row, strict=True)) for row in split["data"]]
    inputs = body["inputs"]
    assert all(i["shape"] == [len(i["data"]), 1] for i in inputs)
    return [{i["name"]: i["data"][r] for i in inputs} for r in range(len(inputs[0]["data"]))]


def _answer(protocol: str, scores: list, body: dict) -> dict:
    if protocol == "rows":
        return {"scores": scores}
    pairs = [[None if s is None else 1 - s, s] for s in scores]
    if protocol in ("mlflow", "kserve-v1"):
        return {"predictions": pairs}
    outputs = [
        {"name": "predict", "shape": [len(scores), 1], "datatype": "INT64",
         "data": [int(s is not None and s >= 0.5) for s in scores]},
        {"name": "predict_proba", "shape": [len(scores), 2], "datatype": "FP64",
         "data": [v for pair in pairs for v in pair]},
    ]  # fmt: skip
    # Only the outputs asked for; one it lacks is ignored here (a server may refuse it).
    wanted = {o["name"] for o in body.get("outputs", [])} & {o["name"] for o in outputs}
    return {"model_name": "m", "outputs": [o for o in outputs if not wanted or o["name"] in wanted]}


class Handler(BaseHTTPRequestHandler):
    """Path /<protocol>; scores sigmoid-free a/10 + b/100 (null b -> 0) unless told otherwise."""

    def do_POST(self):
        server = self.server
        with server.lock:
            server.requests += 1
            server.in_flight += 1
            server.most_in_flight = max(server.most_in_flight, server.in_flight)
            count = server.requests
        try:
            self._answer(server, count)
        finally:
            with server.lock:
                server.in_flight -= 1

    def _answer(self, server, count):
        protocol = self.path.strip("/")
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        server.headers.append(dict(self.headers))
        server.bodies.append(body)
        behaviour = server.behaviour
        if behaviour == "fail-twice" and count <= 2:
            return self.reply(503, b"model loading")
        if behaviour == "shape":  # a server quoting the request back, control characters too
            said = f"\x1b[31mbad input\x07 (auth {self.headers.get('authorization')})"
            return self.reply(422, said.encode())
        if behaviour == "forbidden":
            return self.reply(403, b"no")
        if behaviour == "slow":
            time.sleep(server.pause)
        try:
            rows = _rows(protocol, body)
        except (KeyError, TypeError, AssertionError):
            return self.reply(400, b"unexpected request shape")
        scores = [r["a"] / 10 + (r["b"] or 0) / 100 for r in rows]
        if behaviour == "short":
            scores = scores[:-1]
        if behaviour == "nan":
            scores[-1] = None
        payload = json.dumps(_answer(protocol, scores, body)).encode()
        if behaviour == "drip":
            return self.drip(payload)
        self.reply(200, payload)

    def reply(self, status, payload):
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def drip(self, payload):
        self.send_response(200)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        for byte in payload:  # each byte well within any per-read timeout
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            time.sleep(0.25)

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that gave up on a slow or dripping answer: expected here


def _serve(context: ssl.SSLContext | None = None):
    httpd = Server(("127.0.0.1", 0), Handler)
    if context is not None:
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    httpd.lock = threading.Lock()
    httpd.requests = httpd.in_flight = httpd.most_in_flight = 0
    httpd.headers = []
    httpd.bodies = []
    httpd.behaviour = "formula"
    httpd.pause = 1.0
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    scheme = "https" if context else "http"
    httpd.base = f"{scheme}://127.0.0.1:{httpd.server_address[1]}"
    return httpd, thread


@pytest.fixture
def server():
    httpd, thread = _serve()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def scorer_for(url: str, protocol: str, **spec):
    spec = {"retries": 0, "timeout": 2.0, **PRESETS[protocol], **spec}
    scorer = build_scorer(
        Scorer(type="http", url=url, protocol=protocol, **spec), features=["a", "b"]
    )
    scorer.backoff = 0.01
    return scorer


def table(n: int) -> pa.Table:
    b = [float(i) if i % 3 else None for i in range(n)]
    return pa.table({"a": np.arange(n, dtype=float), "b": pa.array(b, pa.float64()), "z": [1] * n})


def expected(n: int) -> list[float]:
    return [i / 10 + (i if i % 3 else 0) / 100 for i in range(n)]


@pytest.mark.parametrize("protocol", PRESETS)
def test_each_protocol_scores_in_order_across_concurrent_batches(server, protocol):
    scorer = scorer_for(f"{server.base}/{protocol}", protocol, batch_size=7, concurrency=3)
    np.testing.assert_allclose(scorer.score(table(50)), expected(50))
    assert server.requests == 8 and server.most_in_flight <= 3


def test_batches_run_concurrently_within_the_bound(server):
    server.behaviour, server.pause = "slow", 0.3
    scorer = scorer_for(f"{server.base}/oip-v2", "oip-v2", batch_size=5, concurrency=4, timeout=5)
    started = time.monotonic()
    np.testing.assert_allclose(scorer.score(table(40)), expected(40))
    # 8 requests of 0.3 s: 2.4 s one at a time, two rounds of 4 at once.
    assert time.monotonic() - started < 1.8
    assert 2 <= server.most_in_flight <= 4


@pytest.mark.parametrize("protocol", PRESETS)
def test_a_shape_mismatch_is_not_retried_and_names_the_protocol(server, protocol, monkeypatch):
    monkeypatch.setenv("MODEL_TOKEN", "tok-5ecret-0xbeef")
    server.behaviour = "shape"
    url = f"{server.base}/{protocol}"
    headers = (("Authorization", "Bearer ${MODEL_TOKEN}"),)
    scorer = scorer_for(url, protocol, retries=3, headers=headers)
    with pytest.raises(ConsoleError) as caught:
        scorer.score(table(2))
    assert str(caught.value) == (
        f"scorer http {url} refused the request: HTTP 422: the server did not accept a "
        f"{protocol!r} request (scorer.protocol, names, datatypes): "
        r"\x1b[31mbad input\x07 (auth ****)"
    )
    assert server.requests == 1
    assert server.headers[0]["Authorization"] == "Bearer tok-5ecret-0xbeef"


def test_other_client_errors_are_not_retried(server):
    server.behaviour = "forbidden"
    with pytest.raises(ConsoleError, match=r"refused the request: HTTP 403: no$"):
        scorer_for(f"{server.base}/mlflow", "mlflow", retries=3).score(table(2))
    assert server.requests == 1


@pytest.mark.parametrize("protocol", PRESETS)
def test_server_errors_are_retried_with_backoff(server, protocol):
    server.behaviour = "fail-twice"
    scorer = scorer_for(f"{server.base}/{protocol}", protocol, retries=2)
    np.testing.assert_allclose(scorer.score(table(3)), expected(3))
    assert server.requests == 3


@pytest.mark.parametrize(
    ("behaviour", "message"),
    [
        ("short", "returned 1 scores for 2 rows"),
        ("nan", "returned null for row 1: not a number"),
    ],
)
@pytest.mark.parametrize("protocol", ["mlflow", "kserve-v1", "oip-v2"])
def test_wrong_length_and_non_finite_answers(server, protocol, behaviour, message):
    server.behaviour = behaviour
    url = f"{server.base}/{protocol}"
    with pytest.raises(ConsoleError) as caught:
        scorer_for(url, protocol, retries=2).score(table(2))
    assert str(caught.value) == f"scorer http {url} {message}"
    assert server.requests == 1


@pytest.mark.parametrize(
    ("protocol", "spec", "message"),
    [
        ("oip-v2", {"output": "proba"},
         "answered outputs ['predict', 'predict_proba'] without 'proba' (scorer.output)"),
        ("oip-v2", {"output": ""},
         "answered outputs ['predict', 'predict_proba']: set scorer.output to one of them"),
        ("mlflow", {"column": None},
         "answered predictions as lists of 2 value(s), e.g. [1.0, 0.0]: set scorer.column (0 to 1)"),
        ("kserve-v1", {"column": 2},
         "answered predictions as lists of 2 value(s), e.g. [1.0, 0.0]: scorer.column 2 is "
         "outside (0 to 1)"),
        ("rows", {"output": "score"},
         "answered scores as plain values, e.g. 0.0: scorer.output 'score' names no key in them"),
    ],
)  # fmt: skip
def test_the_output_is_checked_on_the_first_answer(server, protocol, spec, message):
    url = f"{server.base}/{protocol}"
    scorer = scorer_for(url, protocol, **spec)
    with pytest.raises(ConsoleError) as caught:
        scorer.score(table(2))
    assert str(caught.value) == f"scorer http {url} ({protocol}) {message}"


@pytest.mark.parametrize("behaviour", ["slow", "drip"])
def test_slow_and_dripping_servers_are_cut_at_the_timeout(server, behaviour):
    server.behaviour = behaviour
    url = f"{server.base}/oip-v2"
    scorer = scorer_for(url, "oip-v2", timeout=0.6, retries=1)
    started = time.monotonic()
    with pytest.raises(ConsoleError) as caught:
        scorer.score(table(2))
    assert str(caught.value) == (
        f"scorer http {url}: no scores after 2 attempt(s); "
        "last error: no answer within the timeout of 0.6 s"
    )
    assert time.monotonic() - started < 2.0


def test_a_down_server_is_a_clear_error_in_bounded_time(server):
    url = f"{server.base}/mlflow"
    server.shutdown()
    server.server_close()
    started = time.monotonic()
    with pytest.raises(ConsoleError, match=f"{url}: no scores after 2 attempt.*ConnectError"):
        scorer_for(url, "mlflow", retries=1).score(table(2))
    assert time.monotonic() - started < 2.0


def test_a_missing_environment_variable_is_named(monkeypatch):
    monkeypatch.delenv("MODEL_TOKEN", raising=False)
    with pytest.raises(ConsoleError) as caught:
        scorer_for(
            "http://127.0.0.1:9/x", "mlflow", headers=(("Authorization", "Bearer ${MODEL_TOKEN}"),)
        )
    assert str(caught.value) == (
        "[scorer.headers] Authorization: environment variable MODEL_TOKEN is not set"
    )


def test_names_and_datatypes_map_nodes_to_the_model_inputs(server):
    scorer = scorer_for(
        f"{server.base}/oip-v2", "oip-v2",
        names={"a": "amount"}, datatypes={"b": "INT32"},
    )  # fmt: skip
    with pytest.raises(ConsoleError):  # this server reads "a": the request carries "amount"
        scorer.score(table(3))
    inputs = server.bodies[0]["inputs"]
    assert [(i["name"], i["datatype"], i["data"]) for i in inputs] == [
        ("amount", "FP64", [0.0, 1.0, 2.0]),
        ("b", "INT32", [None, 1, 2]),
    ]


# --- TLS ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd, thread = _serve(context)
    httpd.cert = cert
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_tls_with_a_ca_bundle_verify_off_and_an_untrusted_certificate(tls_server):
    url = f"{tls_server.base}/kserve-v1"
    trusted = scorer_for(url, "kserve-v1", ca_bundle=str(tls_server.cert))
    np.testing.assert_allclose(trusted.score(table(3)), expected(3))
    unchecked = scorer_for(url, "kserve-v1", verify=False)
    np.testing.assert_allclose(unchecked.score(table(3)), expected(3))
    with pytest.raises(ConsoleError, match="CERTIFICATE_VERIFY_FAILED"):
        scorer_for(url, "kserve-v1").score(table(3))
    with pytest.raises(ConsoleError, match=r"\[scorer\] ca_bundle .*missing.pem"):
        scorer_for(url, "kserve-v1", ca_bundle=str(tls_server.cert.parent / "missing.pem"))


def test_the_trust_store_is_loaded_once_per_scorer_not_per_call(server, monkeypatch):
    # Loading the CA bundle costs about 35 ms; httpx given verify=True loads it for each
    # client, and the scorer makes a client for each scoring call.
    loads = []
    create = ssl.create_default_context
    monkeypatch.setattr(
        ssl, "create_default_context", lambda *a, **k: loads.append(1) or create(*a, **k)
    )
    scorer = scorer_for(f"{server.base}/kserve-v1", "kserve-v1")
    for _ in range(3):
        np.testing.assert_allclose(scorer.score(table(3)), expected(3))
    assert len(loads) == 1


# --- the playbook ------------------------------------------------------------------------


def _playbook(tmp_path: Path, scorer: dict) -> Path:
    folder = tmp_path / "telemetry"
    shutil.copytree(SCENARIO, folder, ignore=shutil.ignore_patterns(ANSWER_FILE))
    path = folder / "playbook.toml"
    data = tomllib.loads(path.read_text())
    kept = {k: data["scorer"][k] for k in ("threshold", "positive", "negative")}
    data["scorer"] = {"type": "http", **kept, **scorer}
    path.write_text(tomli_w.dumps(data))
    return path


def test_the_playbook_reads_every_http_key(tmp_path):
    path = _playbook(tmp_path, {
        "url": "https://example.invalid/v2/models/fraud/infer", "protocol": "oip-v2",
        "output": "predict_proba", "column": 1, "concurrency": 8, "verify": True,
        "ca_bundle": "ca.pem", "names": {"f_log_amount": "log_amount"},
        "datatypes": {"f_velocity_1h": "INT64"},
        "headers": {"Authorization": "Bearer ${MODEL_TOKEN}"},
    })  # fmt: skip
    spec = load_playbook(path).scorer
    assert (spec.protocol, spec.output, spec.column, spec.concurrency) == (
        "oip-v2",
        "predict_proba",
        1,
        8,
    )
    assert spec.names == {"f_log_amount": "log_amount"}
    assert spec.datatypes == {"f_velocity_1h": "INT64"}
    assert spec.headers == (("Authorization", "Bearer ${MODEL_TOKEN}"),)  # the name, not a value
    assert load_playbook(_playbook(tmp_path / "d", {"url": "http://x/s"})).scorer.protocol == "rows"


def test_bad_http_keys_are_named_without_repeating_a_header_value(tmp_path):
    path = _playbook(tmp_path, {
        "url": "http://127.0.0.1:9/x", "protocol": "tfserving",
        "names": {"nope": "x"}, "datatypes": {"f_log_amount": "FLOAT"},
        "headers": {"X-Key": "hunter2-literal\n", "X-Other": "${MODEL TOKEN}"},
    })  # fmt: skip
    with pytest.raises(ConsoleError) as caught:
        load_playbook(path)
    message = str(caught.value)
    assert (
        'scorer.protocol = "tfserving": unknown http protocol; expected one of rows, mlflow, kserve-v1, oip-v2'
        in message
    )
    assert "scorer.names.nope: no such node" in message
    assert 'scorer.datatypes.f_log_amount = "FLOAT": expected one of BOOL' in message
    assert "scorer.headers.X-Key: a header value holds no line breaks" in message
    assert 'scorer.headers.X-Other: write an environment variable as "${NAME}"' in message
    assert "hunter2" not in message


# --- header values never reach the incident ------------------------------------------------


def test_header_values_reach_neither_the_trail_the_report_nor_an_export(
    server, tmp_path, monkeypatch
):
    secret = "tok-Zq81-never-written"
    monkeypatch.setenv("MODEL_TOKEN", secret)
    path = _playbook(tmp_path, {
        "url": f"{server.base}/rows", "protocol": "rows", "timeout": 5.0, "retries": 0,
        "headers": {"Authorization": "Bearer ${MODEL_TOKEN}", "X-Tenant": "${MODEL_TOKEN}"},
    })  # fmt: skip
    server.behaviour = "shape"  # its refusal quotes the header: the error lands in the trail
    incident = tmp_path / "inc"
    out = tmp_path / "summary.json"
    code = main([
        "investigate", str(path), "--telemetry", str(path.parent), "--incident-dir", str(incident),
        "--auto", "--json", str(out),
    ])  # fmt: skip
    assert code == 0
    assert main(["trail", "export", str(incident), "--all"]) == 0
    assert server.headers and all(h["Authorization"] == f"Bearer {secret}" for h in server.headers)
    written = [p for p in [*incident.rglob("*"), out] if p.is_file()]
    assert len(written) >= 5 and any(p.suffix == ".md" for p in written)
    assert any("****" in p.read_bytes().decode("utf-8", "replace") for p in written)
    for file in written:
        assert secret.encode() not in file.read_bytes(), file


# --- the docs' fragments -------------------------------------------------------------------


def test_every_protocol_fragment_in_the_docs_loads_and_builds(tmp_path, monkeypatch):
    doc = (SCENARIO.parent.parent / "docs" / "scoring.md").read_text()
    fragments = dict(re.findall(r"```toml (\S+)\n(.*?)```", doc, re.S))
    assert set(fragments) == {"rows", "mlflow", "databricks", "sagemaker", "kserve-v1", "oip-v2"}
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-test")
    monkeypatch.setenv("FRAUD_MODEL_API_KEY", "key-test")
    for tag, text in fragments.items():
        path = _playbook(tmp_path / tag, tomllib.loads(text)["scorer"])
        playbook = load_playbook(path)
        expected_protocol = {"databricks": "mlflow", "sagemaker": "mlflow"}.get(tag, tag)
        assert playbook.scorer.protocol == expected_protocol, tag
        features = [n.id for n in playbook.nodes.values() if n.kind == "feature"]
        assert build_scorer(playbook.scorer, features=features).features == features


def test_a_missing_variable_fails_the_step_naming_it_in_the_trail(tmp_path, monkeypatch):
    monkeypatch.delenv("FRAUD_MODEL_TOKEN", raising=False)
    path = _playbook(tmp_path, {
        "url": "http://127.0.0.1:9/invocations", "protocol": "mlflow", "column": 1,
        "headers": {"Authorization": "Bearer ${FRAUD_MODEL_TOKEN}"},
    })  # fmt: skip
    edge = ("raw_card_age_days", "f_card_age")
    with Investigation.open(path, path.parent, tmp_path / "inc") as inv:
        inv.intervene(edge)
        inv.mark_edge(edge, "broken")
        with pytest.raises(ConsoleError, match="environment variable FRAUD_MODEL_TOKEN is not set"):
            inv.counterfactual()
    failed = [e for e in read_entries(tmp_path / "inc") if e.action == "failed"]
    assert [e.step for e in failed] == ["counterfactual"]
    assert "FRAUD_MODEL_TOKEN is not set" in failed[0].result["error"]


def test_a_datatype_the_values_cannot_take_is_named():
    scorer = build_scorer(
        Scorer(type="http", url="http://127.0.0.1:9/x", datatypes={"c": "FP64"}), features=["c"]
    )
    with pytest.raises(ConsoleError) as caught:
        scorer.score(pa.table({"c": ["grocery"]}))
    assert str(caught.value) == (
        "feature c cannot be sent as FP64 (scorer.datatypes): "
        "could not convert string to float: 'grocery'"
    )


def test_integers_are_sent_exactly():
    from console.scoring.protocols import columns

    (column,) = columns(pa.table({"id": pa.array([2**62 + 1, None], pa.int64())}), {}, {})
    assert (column.datatype, column.values) == ("INT64", [2**62 + 1, None])
