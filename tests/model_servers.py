"""Real model servers on 127.0.0.1 for the http scorer's protocols (tests and bench).

The servers live in their own venv, .venv-servers (ci/model-servers.txt; .ci/run creates
it): MLflow, MLServer and KServe pin an older pyarrow than the console's .venv. This module
runs under both interpreters: imported by the tests (stdlib only at the top), and run as a
script by .venv-servers' python to build the model (`build`) and to serve KServe
(`kserve-v1`).

The model is the scenario's [scorer] logistic weights as a scikit-learn pipeline: numeric
features as float with missing values filled with 0 (the built-in scorer's NULL policy), each
categorical node one-hot encoded over its weighted values (others: all zeros), then a
LogisticRegression whose coef_ and intercept_ are the playbook's. Its predict_proba[:, 1] is
the built-in logistic scorer's score.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVERS_PYTHON = ROOT / ".venv-servers" / "bin" / "python"
MODEL = "fraud"  # the served model's name (KServe, MLServer URLs)
READY_SECONDS = 120.0  # cold imports of mlflow / mlserver on a busy 2-core machine


def layout(weights: dict[str, float]) -> tuple[list[str], dict[str, list[str]]]:
    """Numeric feature names and categorical node -> its weighted values, in weight order."""
    numeric: list[str] = []
    categories: dict[str, list[str]] = {}
    for key in weights:
        node, sep, value = key.partition("=")
        if sep:
            categories.setdefault(node, []).append(value)
        else:
            numeric.append(node)
    return numeric, categories


def build(out: Path, weights: dict[str, float], intercept: float) -> None:
    """Save the pipeline as an MLflow model (out/mlflow, pyfunc = predict_proba) and as a
    joblib file (out/model.joblib) for MLServer's sklearn runtime and the KServe model."""
    import joblib
    import mlflow.sklearn
    import numpy as np
    import pandas as pd  # only in .venv-servers: the servers' own input format
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

    numeric, categories = layout(weights)
    # np.asarray(dtype=float) turns the None of a JSON null into NaN, which the imputer fills.
    as_float = FunctionTransformer(np.asarray, kw_args={"dtype": np.float64})
    parts = [
        (
            "num",
            make_pipeline(as_float, SimpleImputer(strategy="constant", fill_value=0.0)),
            numeric,
        )
    ]
    for node, values in categories.items():
        encoder = OneHotEncoder(categories=[values], handle_unknown="ignore", sparse_output=False)
        parts.append((f"cat_{node}", encoder, [node]))
    pipe = Pipeline([("features", ColumnTransformer(parts)), ("model", LogisticRegression())])
    # Fitting sets up the shapes; the coefficients are then the playbook's, exactly.
    sample = {n: [0.0, 1.0] for n in numeric} | {n: [v[0], v[-1]] for n, v in categories.items()}
    pipe.fit(pd.DataFrame(sample), [0, 1])
    order = numeric + [f"{n}={v}" for n, values in categories.items() for v in values]
    pipe.named_steps["model"].coef_ = np.array([[weights[k] for k in order]])
    pipe.named_steps["model"].intercept_ = np.array([intercept])
    shutil.rmtree(out, ignore_errors=True)  # MLflow refuses to save over a model
    out.mkdir(parents=True)
    joblib.dump(pipe, out / "model.joblib")
    # MLflow's pyfunc answers predict() unless told otherwise; the score is a probability.
    # Its default skops format loads only trusted types: the float cast is one of ours.
    mlflow.sklearn.save_model(
        pipe, str(out / "mlflow"), pyfunc_predict_fn="predict_proba",
        skops_trusted_types=["numpy.asarray", "numpy.dtype"],
        pip_requirements=["scikit-learn"],  # served with --env-manager local: skip inferring them
    )  # fmt: skip


def serve_kserve(model_path: Path, port: int) -> None:
    """KServe's own python ModelServer, V1 protocol, with a custom Model around the pipeline."""
    import joblib
    import kserve
    import pandas as pd

    class Fraud(kserve.Model):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(MODEL)
            self.pipe = joblib.load(model_path)
            self.ready = True

        def predict(self, payload, headers=None):  # type: ignore[no-untyped-def]
            # V1: {"instances": [...]} -> {"predictions": [...]} (kserve.github.io, "V1 Protocol")
            frame = pd.DataFrame(payload["instances"])
            return {"predictions": self.pipe.predict_proba(frame).tolist()}

    kserve.ModelServer(http_port=port, grpc_port=free_port(), workers=1).start([Fraud()])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    """One server process: its scoring URL, the URL that answers 200 once it is ready."""

    name: str
    url: str
    ready: str
    process: subprocess.Popen[bytes]
    log: Path
    extra: dict[str, str] = field(default_factory=dict)

    def wait(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-3000:]}")
            with contextlib.suppress(OSError), urllib.request.urlopen(self.ready, timeout=2) as up:
                if up.status == 200:
                    return
            time.sleep(0.3)
        raise RuntimeError(
            f"{self.name} not ready in {READY_SECONDS} s: {self.log.read_text()[-3000:]}"
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            # Its own session: the group holds the workers it started, and nothing else.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def _start(
    name: str, args: list[str], url: str, ready: str, work: Path, cwd: Path | None = None
) -> Server:
    log = work / f"{name}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{SERVERS_PYTHON.parent}{os.pathsep}{env.get('PATH', '')}"
    env["MLFLOW_TRACKING_URI"] = (work / "mlruns").as_uri()
    with log.open("wb") as sink:
        process = subprocess.Popen(
            args, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=cwd or work, env=env, start_new_session=True,
        )  # fmt: skip
    return Server(name, url, ready, process, log)


def start_all(work: Path, weights: dict[str, float], intercept: float) -> dict[str, Server]:
    """Build the model and start MLflow, MLServer (OIP V2) and KServe (V1) on free ports,
    in parallel; each is ready when this returns. The caller stops them (Server.stop)."""
    if not SERVERS_PYTHON.exists():
        raise RuntimeError(
            f"{SERVERS_PYTHON} is missing: .ci/run creates it from ci/model-servers.txt"
        )
    work.mkdir(parents=True, exist_ok=True)
    spec = work / "weights.json"
    spec.write_text(json.dumps({"weights": weights, "intercept": intercept}))
    built = subprocess.run(
        [str(SERVERS_PYTHON), __file__, "build", str(work / "model"), str(spec)],
        timeout=180, capture_output=True, text=True,
    )  # fmt: skip
    if built.returncode:
        raise RuntimeError(f"building the model failed: {built.stderr[-3000:]}")
    servers: dict[str, Server] = {}
    try:
        port = free_port()
        servers["mlflow"] = _start(
            "mlflow",
            [str(SERVERS_PYTHON.parent / "mlflow"), "models", "serve", "-m", str(work / "model" / "mlflow"),
             "-h", "127.0.0.1", "-p", str(port), "--env-manager", "local", "-w", "1"],
            f"http://127.0.0.1:{port}/invocations", f"http://127.0.0.1:{port}/ping", work,
        )  # fmt: skip
        servers["oip-v2"] = _start_mlserver(work)
        port = free_port()
        servers["kserve-v1"] = _start(
            "kserve",
            [str(SERVERS_PYTHON), __file__, "kserve-v1", str(work / "model" / "model.joblib"), str(port)],
            f"http://127.0.0.1:{port}/v1/models/{MODEL}:predict",
            f"http://127.0.0.1:{port}/v1/models/{MODEL}", work,
        )  # fmt: skip
        deadline = time.monotonic() + READY_SECONDS
        for server in servers.values():
            server.wait(deadline)
    except BaseException:
        for server in servers.values():
            server.stop()
        raise
    return servers


def _start_mlserver(work: Path) -> Server:
    """MLServer with its scikit-learn runtime: settings.json (ports) and the model's folder."""
    folder = work / "mlserver"
    (folder / MODEL).mkdir(parents=True, exist_ok=True)
    http, grpc = free_port(), free_port()
    settings = {"host": "127.0.0.1", "http_port": http, "grpc_port": grpc, "parallel_workers": 0,
                "metrics_endpoint": None, "debug": False}  # fmt: skip
    (folder / "settings.json").write_text(json.dumps(settings))
    model = {
        "name": MODEL,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": str(work / "model" / "model.joblib")},
    }
    (folder / MODEL / "model-settings.json").write_text(json.dumps(model))
    return _start(
        "mlserver",
        [str(SERVERS_PYTHON.parent / "mlserver"), "start", str(folder)],
        f"http://127.0.0.1:{http}/v2/models/{MODEL}/infer",
        f"http://127.0.0.1:{http}/v2/models/{MODEL}/ready", work, cwd=folder,
    )  # fmt: skip


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    if command == "build":
        data = json.loads(Path(rest[1]).read_text())
        build(Path(rest[0]), data["weights"], data["intercept"])
    elif command == "kserve-v1":
        serve_kserve(Path(rest[0]), int(rest[1]))
    else:
        raise SystemExit(f"unknown command {command!r}")
