"""The blast radius through real model servers on 127.0.0.1 equals the built-in scorer's.

One scikit-learn pipeline carrying fraud-friday-noon's [scorer] logistic weights
(tests/model_servers.py) is served by `mlflow models serve`, by MLServer's scikit-learn
runtime (Open Inference Protocol V2) and by KServe's python ModelServer (V1); each is started
once for the session from .venv-servers. Shapes, from the servers' docs:
- MLflow: POST /invocations {"dataframe_split": {"columns", "data"}} -> {"predictions": ...}
  (mlflow.org, "Deploy MLflow Model as a Local Inference Server"); predict_proba rows.
- OIP V2: POST /v2/models/<name>/infer {"inputs": [{"name", "shape", "datatype", "data"}]}
  -> {"outputs": [{"name", "shape", "datatype", "data"}]} (kserve.github.io, "Open Inference
  Protocol (V2 Inference Protocol)"); MLServer's sklearn runtime names its outputs
  "predict" and "predict_proba".
- KServe V1: POST /v1/models/<name>:predict {"instances": [...]} -> {"predictions": [...]}
  (kserve.github.io, "V1 Protocol").
Before the presets, each of these servers refused the console's {"rows": ...} request.
"""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import pyarrow as pa
import pytest
import tomli_w

from console.engine.investigation import Investigation
from console.errors import ConsoleError
from console.gameday.answers import ANSWER_FILE
from console.playbook.model import Scorer
from console.scoring import build_scorer
from tests.model_servers import start_all

SCENARIO = Path(__file__).resolve().parent.parent / "sample_data" / "fraud-friday-noon"
EDGE = ("raw_card_age_days", "f_card_age")
# Each protocol's keys, as docs/scoring.md's fragment for it writes them (its url aside): the
# doc's fragments are what these servers are scored through.
DOC = (Path(__file__).resolve().parent.parent / "docs" / "scoring.md").read_text()
FRAGMENTS = {
    tag: tomllib.loads(text)["scorer"]
    for tag, text in re.findall(r"```toml (\S+)\n(.*?)```", DOC, re.S)
}
PRESETS = {
    protocol: {
        k: v
        for k, v in FRAGMENTS[protocol].items()
        if k not in ("url", "type", "threshold", "positive", "negative")
    }
    for protocol in ("mlflow", "oip-v2", "kserve-v1")
}


def _copy(tmp_path: Path, scorer: dict[str, object] | None) -> Path:
    folder = tmp_path / "telemetry"
    shutil.copytree(SCENARIO, folder, ignore=shutil.ignore_patterns(ANSWER_FILE))
    if scorer is not None:
        path = folder / "playbook.toml"
        data = tomllib.loads(path.read_text())
        kept = {k: data["scorer"][k] for k in ("threshold", "positive", "negative")}
        data["scorer"] = {"type": "http", **kept, "timeout": 10.0, "retries": 0, **scorer}
        path.write_text(tomli_w.dumps(data))
    return folder


def _blast(folder: Path, incident: Path | None):
    with Investigation.open(folder / "playbook.toml", folder, incident or folder / "inc") as inv:
        inv.intervene(EDGE)
        inv.mark_edge(EDGE, "broken")
        return inv.counterfactual()


def _same_blast_radius(protocol: str, url: str, builtin, tmp_path: Path) -> None:
    remote = _blast(_copy(tmp_path, {"url": url, "batch_size": 250, **PRESETS[protocol]}), None)
    assert (remote.flipped, remote.total) == (builtin.flipped, builtin.total), protocol
    for key, value in builtin.score_delta.items():
        assert remote.score_delta[key] == pytest.approx(value, abs=1e-9), (protocol, key)
    assert remote.flipped_ids == builtin.flipped_ids, protocol


def _features():
    """Two rows of every feature the model reads; a NULL card age and category included."""
    numbers = ["f_log_amount", "f_card_age", "f_velocity_1h", "f_velocity_24h",
               "f_device_risk", "f_ip_risk", "f_geo_mismatch"]  # fmt: skip
    columns = {name: pa.array([1.0, None if name == "f_card_age" else 2.0]) for name in numbers}
    return pa.table({**columns, "f_merchant_category": ["gambling", None]})


def _scorer(url: str, **spec: object):
    features = _features()
    scorer = build_scorer(
        Scorer(type="http", url=url, retries=0, timeout=10.0, **spec),  # type: ignore[arg-type]
        features=list(features.column_names),
    )
    return scorer, features


def _the_old_rows_request_is_refused_by_every_server_with_its_own_words(servers):
    said = {}
    for protocol, server in servers.items():
        scorer, features = _scorer(server.url)
        with pytest.raises(ConsoleError) as caught:
            scorer.score(features)
        said[protocol] = str(caught.value)
    # MLflow (400) and MLServer (422) refuse the shape: reported at once, with their words.
    assert "did not accept a 'rows' request" in said["mlflow"]
    assert "dataframe_split" in said["mlflow"]
    assert "did not accept a 'rows' request" in said["oip-v2"] and "inputs" in said["oip-v2"]
    # KServe V1 answers 500 for a missing "instances": a server error, so it is retried.
    assert "HTTP 500" in said["kserve-v1"] and "instances" in said["kserve-v1"]


def _an_output_the_server_lacks_is_its_refusal_naming_its_outputs(servers):
    scorer, features = _scorer(servers["oip-v2"].url, protocol="oip-v2", output="proba")
    with pytest.raises(ConsoleError) as caught:
        scorer.score(features)
    message = str(caught.value)
    assert "did not accept a 'oip-v2' request" in message and "HTTP 400" in message
    assert "'predict', 'predict_proba'" in message  # MLServer's own list


def _predict_proba_without_a_column_names_what_came_back(servers):
    scorer, features = _scorer(servers["mlflow"].url, protocol="mlflow")
    with pytest.raises(ConsoleError) as caught:
        scorer.score(features)
    assert str(caught.value).startswith(
        f"scorer http {servers['mlflow'].url} (mlflow) answered predictions as lists of 2 "
        "value(s), e.g. [0."
    )
    assert str(caught.value).endswith(": set scorer.column (0 to 1)")


def test_three_model_servers(tmp_path):
    """One test, so that one pytest-xdist worker starts the servers (some 30 s of CPU), not
    each worker that would take a share of several tests."""
    scorer = tomllib.loads((SCENARIO / "playbook.toml").read_text())["scorer"]
    builtin = _blast(_copy(tmp_path / "builtin", None), None)
    assert builtin.flipped > 0
    servers = start_all(tmp_path / "servers", scorer["weights"], scorer["intercept"])
    try:
        for protocol, server in servers.items():
            _same_blast_radius(protocol, server.url, builtin, tmp_path / protocol)
        _the_old_rows_request_is_refused_by_every_server_with_its_own_words(servers)
        _an_output_the_server_lacks_is_its_refusal_naming_its_outputs(servers)
        _predict_proba_without_a_column_names_what_came_back(servers)
    finally:
        for server in servers.values():
            server.stop()
