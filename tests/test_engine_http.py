"""Counterfactuals through an http scorer on 127.0.0.1, and an unreachable one."""

from __future__ import annotations

import json
import math
import shutil
import socket
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import tomli_w

from console.audit import read_entries
from console.cli import main
from console.engine.investigation import Investigation
from console.errors import ConsoleError
from console.gameday.answers import ANSWER_FILE

SCENARIO = Path(__file__).resolve().parent.parent / "sample_data" / "fraud-friday-noon"
EDGE = ("raw_card_age_days", "f_card_age")


def _copy(tmp_path: Path, url: str | None) -> Path:
    folder = tmp_path / "telemetry"
    shutil.copytree(SCENARIO, folder, ignore=shutil.ignore_patterns(ANSWER_FILE))
    if url is not None:
        path = folder / "playbook.toml"
        data = tomllib.loads(path.read_text())
        data["scorer"] = {
            "type": "http", "url": url, "threshold": data["scorer"]["threshold"],
            "positive": data["scorer"]["positive"], "negative": data["scorer"]["negative"],
            "timeout": 2.0, "retries": 0, "batch_size": 200,
        }  # fmt: skip
        path.write_text(tomli_w.dumps(data))
    return folder


def _logistic_server(weights: dict[str, float], intercept: float):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            scores = []
            for row in body["rows"]:
                margin = intercept
                for key, weight in weights.items():
                    node, sep, value = key.partition("=")
                    if sep:
                        margin += weight if row.get(node) == value else 0.0
                    else:
                        margin += weight * (row.get(node) or 0.0)
                scores.append(1 / (1 + math.exp(-margin)))
            data = json.dumps({"scores": scores}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def server():
    scorer = tomllib.loads((SCENARIO / "playbook.toml").read_text())["scorer"]
    running = _logistic_server(scorer["weights"], scorer["intercept"])
    yield f"http://127.0.0.1:{running.server_address[1]}/score"
    running.shutdown()
    running.server_close()


def _blast(folder: Path, incident: Path):
    with Investigation.open(folder / "playbook.toml", folder, incident) as inv:
        inv.intervene(EDGE)
        inv.mark_edge(EDGE, "broken")
        blast = inv.counterfactual()
        return blast, inv.explain(blast.flipped_ids[0])


def test_counterfactual_through_an_http_scorer_matches_the_builtin_one(tmp_path, server):
    remote, remote_why = _blast(_copy(tmp_path / "a", server), tmp_path / "inc-http")
    local, local_why = _blast(_copy(tmp_path / "b", None), tmp_path / "inc-local")
    assert remote.flipped > 0
    assert (remote.flipped, remote.total) == (local.flipped, local.total)
    assert remote.score_delta["mean"] == pytest.approx(local.score_delta["mean"], abs=1e-9)
    assert (remote_why.method, local_why.method) == ("sampled-shapley", "exact-linear")
    assert remote_why.corrected_score == pytest.approx(local_why.corrected_score)
    # Both name the missing card age as the feature that drove the decline.
    assert remote_why.attributions[0].feature == local_why.attributions[0].feature == "f_card_age"


def test_an_unreachable_scorer_is_a_clear_error_in_the_trail(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/score"
    folder = _copy(tmp_path, url)
    incident = tmp_path / "inc"
    with Investigation.open(folder / "playbook.toml", folder, incident) as inv:
        inv.intervene(EDGE)
        inv.mark_edge(EDGE, "broken")
        with pytest.raises(ConsoleError, match=f"127.0.0.1:{port}"):
            inv.counterfactual()
        with pytest.raises(ConsoleError, match=f"127.0.0.1:{port}"):
            inv.intervene(("f_card_age", "fraud_model"))  # model_version re-scores remotely
    entries = list(read_entries(incident))
    assert [(e.step, e.action) for e in entries[-2:]] == [
        ("counterfactual", "failed"),
        ("intervene", "failed"),
    ]
    assert all(f"127.0.0.1:{port}" in e.result["error"] for e in entries[-2:])

    out = tmp_path / "summary.json"
    code = main([
        "investigate", str(folder / "playbook.toml"), "--telemetry", str(folder),
        "--incident-dir", str(tmp_path / "inc-auto"), "--auto", "--json", str(out),
    ])  # fmt: skip
    assert code == 0
    summary = json.loads(out.read_text())
    assert summary["root_cause"]["edge"] == list(EDGE)
    assert any(f"127.0.0.1:{port}" in e for e in summary["errors"])
    assert f"127.0.0.1:{port}" in summary["counterfactual"]["error"]
