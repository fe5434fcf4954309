"""A real Prometheus on 127.0.0.1 holding metric series backfilled from Parquet, for tests.

Debian's `prometheus` package provides both binaries (`apt-get install -y prometheus`; .ci/run
installs it). The series are written as OpenMetrics text (one gauge family per metric, samples
with their timestamps in seconds, `# EOF`), turned into TSDB blocks by `promtool tsdb
create-blocks-from openmetrics`, and served by `prometheus --storage.tsdb.path` on a free port.
Retention is set to a century: the bundled data is dated in the past, and the default 15 days
would delete it at start-up.

`prometheus_url` is a session-scoped fixture, stopped at the end of the session. Test modules
import it, and pytest keeps one instance per importing module, so each test file (and each
xdist worker) starts its own server: about 0.4 s to backfill two weeks and start.
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[1]
# What the session's server holds: metric name prefix -> the scenario whose metrics.parquet
# is backfilled under it (prefixes keep scenarios with the same series names apart).
SCENARIOS: dict[str, str] = {"": "fraud-friday-noon", "sunday_": "fraud-sunday-night"}
START_SECONDS = 30.0


def openmetrics(tables: Mapping[str, pa.Table]) -> str:
    """OpenMetrics text for metrics-contract tables, each metric's name given a prefix.

    A family's samples must be contiguous, and each series' samples in time order."""
    series: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for prefix, table in tables.items():
        for row in table.to_pylist():
            name = prefix + row["metric"]
            points = series.setdefault(name, {}).setdefault(row["labels"] or "{}", [])
            points.append((int(row["ts"].timestamp()), row["value"]))
    lines: list[str] = []
    for name, by_labels in series.items():
        lines.append(f"# TYPE {name} gauge")
        for labels, points in by_labels.items():
            selector = _label_text(json.loads(labels))
            for seconds, value in sorted(points, key=lambda p: p[0]):
                lines.append(f"{name}{selector} {_value_text(value)} {seconds}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def _label_text(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(_pair(k, v) for k, v in sorted(labels.items())) + "}"


def _pair(key: str, value: str) -> str:
    """A label as OpenMetrics spells it: backslash, quote and newline escaped."""
    value = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{key}="{value}"'


def _value_text(value: float) -> str:
    """repr() is the shortest text that reads back as the same double (Go parses it exactly)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def backfill(text: str, data_dir: Path) -> None:
    source = data_dir.parent / "series.om"
    source.write_text(text)
    data_dir.mkdir(parents=True, exist_ok=True)
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: apt-get install -y prometheus"
    subprocess.run(
        [
            promtool,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "-q",
            # One block per 30 days instead of the default 2 h (12 s -> 0.3 s for two
            # weeks); the flag is hidden in promtool's help but parsed (a Go duration).
            "--max-block-duration=720h",
            str(source),
            str(data_dir),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )


def start_prometheus(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing: apt-get install -y prometheus"
    config = data_dir.parent / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n")
    log = (data_dir.parent / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={data_dir}",
            "--storage.tsdb.retention.time=100y",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    ends = time.monotonic() + START_SECONDS
    while time.monotonic() < ends:
        assert process.poll() is None, (data_dir.parent / "prometheus.log").read_text()
        try:
            if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"prometheus not ready within {START_SECONDS} s")


def scenario_metrics(name: str) -> pa.Table:
    return pq.read_table(ROOT / "sample_data" / name / "metrics.parquet")


@pytest.fixture(scope="session")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running Prometheus holding SCENARIOS' metric series; its base URL."""
    home = tmp_path_factory.mktemp("prometheus")
    data_dir = home / "data"
    tables = {prefix: scenario_metrics(name) for prefix, name in SCENARIOS.items()}
    backfill(openmetrics(tables), data_dir)
    port = free_port()
    process = start_prometheus(data_dir, port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
