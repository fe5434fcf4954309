"""Triage on a bundled scenario whose metrics come from a real Prometheus
(`[telemetry.metrics] source = "prometheus"`) gives the local folder's numbers."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from prometheus_server import ROOT

from console.engine.context import Context, read_scenario_hints, result_window
from console.engine.results import TriageResult
from console.engine.triage import run_triage
from console.playbook.loader import load_playbook
from console.telemetry.store import open_store
from console.telemetry.windows import resolve_windows

SERIES = ("fraud_decline_rate", "fraud_error_rate", "fraud_latency_p99_ms")
# The scenarios' data span: given to the store explicitly, so the test does not depend on
# today's date (the store's default span is the 30 days up to now).
SPAN = (datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 16, 5, tzinfo=UTC))


def prometheus_scenario(name: str, url: str, prefix: str, home: Path) -> Path:
    """A copy of the scenario folder without metrics.parquet, its playbook reading the metric
    series from Prometheus (backfilled under `prefix` by tests/prometheus_server.py)."""
    folder = home / name
    shutil.copytree(ROOT / "sample_data" / name, folder)
    (folder / "metrics.parquet").unlink()
    playbook = folder / "playbook.toml"
    text = playbook.read_text()
    assert 'metrics = "metrics.parquet"\n' in text
    text = text.replace('metrics = "metrics.parquet"\n', "")
    text += (
        f'\n[telemetry.metrics]\nsource = "prometheus"\nurl = "{url}"\nstep = "1h"\n\n'
        "[telemetry.metrics.queries]\n"
    )
    text += "".join(f'{s} = "{prefix}{s}"\n' for s in SERIES)
    playbook.write_text(text)
    return folder


def triage(folder: Path, incident: Path) -> TriageResult:
    """run_triage as Investigation.open sets it up, with the store read over SPAN."""
    playbook = load_playbook(folder / "playbook.toml")
    hints = read_scenario_hints(folder)
    assert hints.alert_at is not None and hints.metric is not None
    windows = {
        name: result_window(w)
        for name, w in resolve_windows(playbook.windows, hints.alert_at).items()
    }
    with open_store(folder, playbook.tables, span=SPAN) as store:
        ctx = Context(playbook, store, incident, hints.alert_at, hints.metric, windows)
        return run_triage(ctx)


def test_triage_from_prometheus_equals_the_local_folder(
    prometheus_url: str, tmp_path: Path
) -> None:
    name = "fraud-friday-noon"
    local = triage(ROOT / "sample_data" / name, tmp_path / "local")
    remote = triage(prometheus_scenario(name, prometheus_url, "", tmp_path), tmp_path / "prom")
    assert local.verdict == "confirmed" and local.series
    # Every number, check, reason and query is the same.
    assert remote == local


def test_a_false_alarm_stays_one_though_prometheus_stores_duplicates_once(
    prometheus_url: str, tmp_path: Path
) -> None:
    """fraud-sunday-night's agent sends each late point twice (same value). Prometheus keeps
    one sample per series and timestamp, so from it the duplicates check passes and the
    clock-skew check counts half the points ahead; the gap, the staleness and the skew itself
    remain, and triage still calls the false alarm with the same numbers."""
    name = "fraud-sunday-night"
    local = triage(ROOT / "sample_data" / name, tmp_path / "local")
    remote = triage(
        prometheus_scenario(name, prometheus_url, "sunday_", tmp_path), tmp_path / "prom"
    )
    assert local.verdict == remote.verdict == "false_alarm"
    assert (remote.series, remote.baseline_value, remote.incident_value) == (
        local.series,
        local.baseline_value,
        local.incident_value,
    )
    local_checks = {c.name: c for c in local.checks}
    remote_checks = {c.name: c for c in remote.checks}
    assert local_checks.keys() == remote_checks.keys()
    for check in local_checks.keys() - {"duplicates", "clock_skew"}:
        assert remote_checks[check] == local_checks[check]
    assert not local_checks["duplicates"].passed and remote_checks["duplicates"].passed
    assert local_checks["duplicates"].evidence["duplicated"] == 5
    skew_local, skew_remote = local_checks["clock_skew"], remote_checks["clock_skew"]
    assert not skew_local.passed and not skew_remote.passed
    assert (skew_local.evidence["points_ahead"], skew_remote.evidence["points_ahead"]) == (8, 4)


def test_an_investigation_reading_prometheus_gives_the_local_triage(
    prometheus_url: str, tmp_path: Path
) -> None:
    """Through Investigation.open, which reads a declared source from the earliest time a step
    reads (not over a span given by the test): the first baseline bucket starts before the
    baseline does (buckets align on the clock), and its reported point must be captured too."""
    from console.engine.investigation import Investigation

    name = "fraud-friday-noon"
    folder = prometheus_scenario(name, prometheus_url, "", tmp_path)
    with Investigation.open(ROOT / "sample_data" / name / "playbook.toml",
                            ROOT / "sample_data" / name, tmp_path / "local") as inv:  # fmt: skip
        local = inv.triage()
    with Investigation.open(folder / "playbook.toml", folder, tmp_path / "prom") as inv:
        remote = inv.triage()
    assert local.series[0].reported is not None
    assert remote.series == local.series and remote.checks == local.checks
