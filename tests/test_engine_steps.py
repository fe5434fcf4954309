"""Each investigation step on a small real store: a toy model whose served feature f_x breaks.

The toy pipeline: raw_x -> f_x = ln(1 + raw_x) (reference), raw_c -> f_c = lower(raw_c),
raw_d -> f_d (a decoy: it shifts a lot at the incident, has a change event, but the model barely
weighs it), raw_age_s (freshness of raw_x). From the incident start until the fix the feature
service serves f_x one unit too high on every row, so more decisions are "yes".
"""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from console.audit import read_entries, verify
from console.cli import main
from console.engine.investigation import Investigation
from console.errors import ConsoleError
from console.playbook.loader import load_playbook

T0 = datetime(2026, 3, 2, tzinfo=UTC)
ALERT = T0 + timedelta(days=2, hours=20)
INCIDENT_START = ALERT - timedelta(hours=4)
FIX = ALERT + timedelta(hours=1)
TS = pa.timestamp("us", tz="UTC")

PLAYBOOK = """\
[model]
name = "toy"
owner = "toy-ml"
oncall = "#toy"

[windows]
incident = "4h"
baseline = "2d"
baseline_gap = "0s"
postfix = "3h"

[[nodes]]
id = "raw_x"
kind = "source"
type = "numeric"
owner = "ingest"
description = "Raw amount."
expr = "raw_x"

[[nodes]]
id = "raw_c"
kind = "source"
type = "categorical"
owner = "ingest"
description = "Raw category."
expr = "raw_c"

[[nodes]]
id = "raw_d"
kind = "source"
type = "numeric"
owner = "ingest"
description = "Raw decoy."
expr = "raw_d"

[[nodes]]
id = "f_x"
kind = "feature"
type = "numeric"
owner = "features"
description = "ln(1 + raw_x)."
expr = "feat_x"
reference = "ln(1 + raw_x)"

[[nodes]]
id = "f_c"
kind = "feature"
type = "categorical"
owner = "features"
description = "Lower-cased category."
expr = "feat_c"
reference = "lower(raw_c)"

[[nodes]]
id = "f_d"
kind = "feature"
type = "numeric"
owner = "features"
description = "The decoy, as served."
expr = "feat_d"
reference = "raw_d"

[[nodes]]
id = "toy_model"
kind = "model"
type = "numeric"
owner = "toy-ml"
description = "Logistic score."
expr = "score"

[[nodes]]
id = "toy_decision"
kind = "decision"
type = "categorical"
owner = "toy-ml"
description = "yes when score >= 0.5."
expr = "decision"

[[nodes]]
id = "yes_rate"
kind = "metric"
type = "numeric"
owner = "toy-ml"
description = "Share of yes."
expr = "avg(CASE WHEN decision = 'yes' THEN 1.0 ELSE 0.0 END)"
series = "toy_yes_rate"

[[edges]]
from = "raw_x"
to = "f_x"
mechanism = "ln(1 + x) by the feature service."
status = "unverified"
intervention = { type = "shadow_recompute" }

[[edges]]
from = "raw_c"
to = "f_c"
mechanism = "Lower-cased."
status = "verified"
intervention = { type = "distribution_shift" }

[[edges]]
from = "raw_d"
to = "f_d"
mechanism = "Copied."
status = "tentative"
intervention = { type = "distribution_shift" }

[[edges]]
from = "f_x"
to = "toy_model"
mechanism = "Weight 1.5."
status = "verified"
intervention = { type = "model_version" }

[[edges]]
from = "f_c"
to = "toy_model"
mechanism = "b gets 0.5."
status = "verified"
intervention = { type = "null_rate" }

[[edges]]
from = "f_d"
to = "toy_model"
mechanism = "Weight 0.01."
status = "verified"
intervention = { type = "freshness", age_expr = "raw_age_s", max_lag = "10m" }

[[edges]]
from = "toy_model"
to = "toy_decision"
mechanism = "Threshold 0.5."
status = "verified"

[[edges]]
from = "toy_decision"
to = "yes_rate"
mechanism = "Hourly average."
status = "verified"

[triage]
metric = "yes_rate"
direction = "up"
bucket = "1h"

[scorer]
type = "logistic"
threshold = 0.5
positive = "yes"
negative = "no"
intercept = -4.5
[scorer.weights]
f_x = 1.5
f_d = 0.01
"f_c=b" = 0.5
"""


def build_toy(
    folder: Path, broken_series: bool = False, break_feature: bool = True, shift_hours: int = 0
) -> Path:
    """Write the toy store (3 days, 60 decisions an hour) and its playbook into folder."""
    rng = np.random.default_rng(5)
    folder.mkdir(parents=True, exist_ok=True)
    hours = 72
    per_hour = 200
    n = hours * per_hour
    # One day of traffic repeated three times: without a break every day is the same, so the
    # false-alarm store has exactly no change (no sampling noise to argue about).
    day = 24 * per_hour
    day_seconds = np.sort(np.repeat(np.arange(24) * 3600, per_hour) + rng.integers(0, 3600, day))
    seconds = np.concatenate([day_seconds + d * 86400 for d in range(3)])
    ts = np.array([T0 + timedelta(seconds=int(s)) for s in seconds])
    in_incident = np.array([INCIDENT_START <= t < FIX for t in ts])
    raw_x = np.tile(np.round(np.exp(rng.normal(3.0, 0.6, day)), 2), 3)
    raw_c = np.tile(rng.choice(["A", "B", "C"], day, p=[0.5, 0.3, 0.2]), 3)
    # Without the break nothing happens at all (the false-alarm store): no decoy shift either.
    raw_d = np.tile(rng.normal(10.0, 1.0, day), 3) + np.where(in_incident & break_feature, 3.0, 0.0)
    feat_x = np.log1p(raw_x) + np.where(in_incident & break_feature, 1.0, 0.0)
    feat_c = np.char.lower(raw_c.astype(str))
    margin = -4.5 + 1.5 * feat_x + 0.01 * raw_d + 0.5 * (feat_c == "b")
    score = 1 / (1 + np.exp(-margin))
    decision = np.where(score >= 0.5, "yes", "no")
    table = pa.table(
        {
            "prediction_id": [f"toy-{i:06d}" for i in range(n)],
            "ts": pa.array(ts.tolist(), TS),
            "model_version": ["toy-1"] * n,
            "score": score,
            "decision": decision,
            "latency_ms": rng.normal(20, 2, n),
            "status": ["ok"] * n,
            "raw_x": raw_x,
            "raw_c": raw_c,
            "raw_d": raw_d,
            "raw_age_s": np.tile(rng.integers(0, 300, day).astype(np.float64), 3),
            "feat_x": feat_x,
            "feat_c": feat_c,
            "feat_d": raw_d,
            "seg_region": np.tile(rng.choice(["north", "south"], day), 3),
        }
    )
    pq.write_table(table, folder / "decisions.parquet")
    bucket_start = [T0 + timedelta(hours=h) for h in range(hours)]
    rates = [
        float((decision[(seconds >= h * 3600) & (seconds < (h + 1) * 3600)] == "yes").mean())
        for h in range(hours)
    ]
    metric_ts, values = [t + timedelta(hours=shift_hours) for t in bucket_start], list(rates)
    if broken_series:
        # The metrics agent: silent for three hours, then doubled rows dated five hours ahead.
        keep = [not (INCIDENT_START <= t < ALERT - timedelta(hours=1)) for t in metric_ts]
        metric_ts = [t for t, k in zip(metric_ts, keep, strict=True) if k]
        values = [v for v, k in zip(values, keep, strict=True) if k]
        late = [t for t in bucket_start if t >= ALERT - timedelta(hours=1)]
        for t in late:
            for _ in range(2):
                metric_ts.append(t + timedelta(hours=5))
                values.append(0.9)
    metrics = pa.table(
        {
            "ts": pa.array(metric_ts, TS),
            "metric": ["toy_yes_rate"] * len(metric_ts),
            "value": values,
            "labels": ["{}"] * len(metric_ts),
        }
    )
    pq.write_table(metrics, folder / "metrics.parquet")
    changes = pa.table(
        {
            "ts": pa.array([INCIDENT_START, INCIDENT_START + timedelta(minutes=5), FIX], TS),
            "kind": ["deploy", "data_source", "config"],
            "node": ["f_x", "raw_d", "f_x"],
            "summary": [
                "feature service 2.0",
                "decoy feed v2",
                "feature service rolled back to 1.9",
            ],
            "actor": ["ci", "vendor", "oncall"],
        }
    )
    pq.write_table(changes, folder / "changes.parquet")
    (folder / "playbook.toml").write_text(PLAYBOOK, encoding="utf-8")
    return folder


@pytest.fixture
def toy(tmp_path):
    return build_toy(tmp_path / "telemetry")


@pytest.fixture
def inv(toy, tmp_path):
    with Investigation.open(
        toy / "playbook.toml", toy, tmp_path / "inc", actor="tester", alert_at=ALERT
    ) as opened:
        yield opened


def test_triage_confirms_a_real_change(inv):
    result = inv.triage()
    assert result.verdict == "confirmed"
    assert result.tier == "critical"
    assert result.relative_change > 0.15
    assert all(c.passed for c in result.checks), [c.detail for c in result.checks]
    assert {c.name for c in result.checks} == {
        "gaps",
        "staleness",
        "clock_skew",
        "duplicates",
        "recompute",
    }
    assert result.classification == "input_distribution_shift"
    incident = [p for p in result.series if INCIDENT_START <= p.ts < ALERT]
    assert len(incident) == 4 and all(
        p.reported is not None and p.recomputed is not None for p in incident
    )
    assert any("relative change" in r for r in result.reasons)
    entry = list(read_entries(inv.incident_dir))[-1]
    kept = pq.read_table(inv.incident_dir / entry.evidence[0].path)
    assert kept.num_rows == len(result.series)
    assert kept.column_names == ["ts", "reported", "recomputed"]


def test_triage_false_alarm_when_only_the_series_is_broken(tmp_path):
    store = build_toy(tmp_path / "t", broken_series=True, break_feature=False)
    with Investigation.open(
        store / "playbook.toml", store, tmp_path / "inc", alert_at=ALERT
    ) as inv:
        result = inv.triage()
    assert result.verdict == "false_alarm"
    failed = {c.name for c in result.checks if not c.passed}
    assert {"gaps", "clock_skew", "duplicates"} <= failed
    skew = next(c for c in result.checks if c.name == "clock_skew")
    assert skew.evidence["points_ahead"] > 0
    assert "false alarm" in result.reasons[-2] or any("false alarm" in r for r in result.reasons)


def test_locate_ranks_the_broken_feature_over_the_decoy(inv):
    inv.triage()
    result = inv.locate()
    first = result.candidates[0]
    assert (first.node, first.edge) == ("f_x", ("raw_x", "f_x"))
    assert any("differs" in r or "disagrees" in r for r in first.reasons)
    assert any("%" in r for r in first.reasons)
    ranks = {c.node: c.rank for c in result.candidates}
    assert ranks["raw_d"] > ranks["f_x"] and ranks["f_d"] > ranks["f_x"]
    decoy = next(c for c in result.candidates if c.node == "raw_d")
    assert decoy.changes and decoy.shift > 1.0  # it moved and was changed, yet ranks lower
    assert result.ancestors[0] == "toy_decision"
    assert "mismatch:f_x" in result.screening and len(result.sql) == 1


def test_intervene_shadow_recompute_finds_the_break_and_keeps_evidence(inv):
    result = inv.intervene(("raw_x", "f_x"))
    assert result.verdict == "broken"
    assert result.node == "f_x"
    assert result.statistics["mismatch_rate_incident"] == pytest.approx(1.0)
    assert result.statistics["mismatch_rate_baseline"] == 0.0
    assert result.rows["incident"] == 800
    assert result.histogram is not None and set(result.histogram.series) == {"served", "recomputed"}
    (evidence,) = result.evidence
    path = inv.incident_dir / evidence["path"]
    assert path.is_file()
    rows = pq.read_table(path)
    assert rows.num_rows == 800 and {"served", "recomputed"} <= set(rows.column_names)
    entry = list(read_entries(inv.incident_dir))[-1]
    assert (entry.step, entry.action) == ("intervene", "shadow_recompute")
    assert entry.evidence[0].sha256 == evidence["sha256"]


def test_intervene_each_type(inv):
    shift = inv.intervene(("raw_d", "f_d"))
    assert (shift.type, shift.verdict, shift.node) == ("distribution_shift", "broken", "raw_d")
    assert len(shift.histogram.edges) == len(shift.histogram.series["baseline"]) + 1
    steady = inv.intervene(("raw_c", "f_c"))
    assert steady.verdict == "ok" and steady.histogram.edges  # category labels
    nulls = inv.intervene(("f_c", "toy_model"))
    assert (nulls.type, nulls.verdict) == ("null_rate", "ok")
    fresh = inv.intervene(("f_d", "toy_model"))
    assert (fresh.type, fresh.verdict) == ("freshness", "ok")
    assert fresh.statistics["stale_share_incident"] == 0.0
    rescored = inv.intervene(("f_x", "toy_model"))
    assert (rescored.type, rescored.verdict) == ("model_version", "ok")
    assert rescored.statistics["share_over_max_delta_incident"] == 0.0
    unplanned = inv.intervene(("toy_decision", "yes_rate"))
    assert "no planned intervention" in unplanned.reasons[0]


def test_counterfactual_and_explain(inv):
    inv.intervene(("raw_x", "f_x"))
    inv.mark_edge(("raw_x", "f_x"), "broken", note="served one unit high")
    blast = inv.counterfactual()
    assert blast.total == 800
    assert 0 < blast.flipped < blast.total
    assert "reference" in blast.correction
    assert blast.score_delta["mean"] < 0
    assert {s.column for s in blast.segments} == {"seg_region"}
    assert sum(s.flipped for s in blast.segments) == blast.flipped
    explanation = inv.explain(blast.flipped_ids[0])
    assert explanation.decision == "yes"
    assert explanation.corrected_score < 0.5 <= explanation.score
    assert explanation.method == "exact-linear"
    assert explanation.attributions[0].feature == "f_x"
    assert explanation.flip is not None and explanation.flip.new_score < 0.5


def test_validate_proposes_and_accepts_the_verified_edge(inv, toy):
    inv.intervene(("raw_x", "f_x"))
    inv.mark_edge(("raw_x", "f_x"), "broken")
    result = inv.validate()
    assert result.window.start == FIX
    assert result.intervention.verdict == "ok"
    assert result.recovered
    assert result.metric_postfix < result.metric_incident
    assert result.proposal is not None and "verified" in result.proposal.diff
    assert (inv.incident_dir / result.proposal.path).is_file()
    authored = toy / "playbook.toml"
    before = authored.read_text()
    assert inv.decide_proposal(False) is None
    assert authored.read_text() == before
    assert inv.decide_proposal(True) == authored
    accepted = load_playbook(authored)
    edge = accepted.edge("raw_x", "f_x")
    assert edge.status == "verified"
    assert list(toy.glob("playbook.toml.*.bak"))
    proven = tomllib.loads(authored.read_text())["edges"][0]["proven_by"][0]
    assert proven["intervention"] == "shadow_recompute"


def test_validate_starts_loading_the_reports_figure_library(inv, monkeypatch):
    # Validation is the step before the report: matplotlib's import (0.35 to 0.5 s) overlaps
    # its queries rather than the person's wait for the report.
    started = []
    monkeypatch.setattr("console.engine.investigation.warm_up", lambda: started.append(True))
    inv.intervene(("raw_x", "f_x"))
    inv.mark_edge(("raw_x", "f_x"), "broken")
    assert not started
    inv.validate()
    assert started == [True]


def test_report_and_trail_hold_every_step_in_order(inv):
    inv.triage()
    inv.decide_triage("confirmed", note="real")
    inv.locate()
    inv.intervene(("raw_x", "f_x"))
    inv.mark_edge(("raw_x", "f_x"), "broken")
    inv.counterfactual()
    inv.validate()
    inv.note("paged the feature-service owner")
    report = inv.report()
    steps = [(e.step, e.action) for e in read_entries(inv.incident_dir)]
    assert steps == [
        ("session", "open"),
        ("triage", "triage"),
        ("triage", "decide"),
        ("locate", "rank_candidates"),
        ("intervene", "shadow_recompute"),
        ("intervene", "mark_edge"),
        ("counterfactual", "blast_radius"),
        ("validate", "postfix"),
        ("note", "note"),
        ("report", "write"),
    ]
    assert verify(inv.incident_dir).ok
    text = (inv.incident_dir / "report.md").read_text()
    assert text == report.markdown
    headings = [
        "## Status", "## Summary", "## Impact", "## Root causes", "## Trigger", "## Detection",
        "## Resolution", "## Action items", "## Lessons learned", "### What went well",
        "### What went wrong", "### Where we got lucky", "## Timeline (UTC)", "## Causal path",
        "## Interventions", "## Blast radius", "## Audit trail",
    ]  # fmt: skip
    positions = [text.index(h + "\n") for h in headings]
    assert positions == sorted(positions)
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("#"):
            following = next(x for x in lines[i + 1 :] if x.strip())
            assert following.startswith("#") is (line.startswith("## Lessons")), line
    assert "**`raw_x`** -> **`f_x`**" in text  # node ids are code spans in the report
    assert report.trail_count == 9 and report.trail_head in text
    assert "feature service 2.0" in text  # the trigger (data text is Markdown-escaped)
    assert "incident 800" in text  # the intervention's rows


def test_mark_edge_and_decisions_reject_bad_values(inv):
    with pytest.raises(ConsoleError, match="broken, external, cleared"):
        inv.mark_edge(("raw_x", "f_x"), "guilty")
    with pytest.raises(ConsoleError, match="no edge raw_c -> f_x"):
        inv.intervene(("raw_c", "f_x"))
    with pytest.raises(ConsoleError, match="confirmed or false_alarm"):
        inv.decide_triage("maybe")
    with pytest.raises(ConsoleError, match="mark the root cause first"):
        inv.counterfactual()


def test_cli_auto_on_the_toy_store(toy, tmp_path, capsys):
    out = tmp_path / "summary.json"
    code = main([
        "investigate", str(toy / "playbook.toml"), "--telemetry", str(toy),
        "--incident-dir", str(tmp_path / "inc"), "--auto", "--json", str(out),
        "--alert-at", ALERT.isoformat(), "--actor", "cli-test",
    ])  # fmt: skip
    assert code == 0
    summary = json.loads(out.read_text())
    root = summary["root_cause"]
    assert {k: root[k] for k in ("node", "edge", "kind")} == {
        "node": "f_x",
        "edge": ["raw_x", "f_x"],
        "kind": "broken_edge",
    }
    # The correction (the reference) takes back the whole move of the decisions.
    assert root["explained"] == pytest.approx(1.0, abs=0.1)
    assert root["explained_by"] == "decisions"
    assert summary["locate"]["candidates"][0] == "f_x"
    assert summary["counterfactual"]["flipped"] > 0
    printed = capsys.readouterr().out
    assert "root cause: broken_edge raw_x -> f_x" in printed


def test_cli_json_into_a_missing_folder_is_said_before_anything_runs(toy, tmp_path, capsys):
    code = main([
        "investigate", str(toy / "playbook.toml"), "--telemetry", str(toy),
        "--incident-dir", str(tmp_path / "inc"), "--auto",
        "--json", str(tmp_path / "nowhere" / "summary.json"), "--alert-at", ALERT.isoformat(),
    ])  # fmt: skip
    assert code == 2
    assert "nowhere" in capsys.readouterr().err
    assert not (tmp_path / "inc").exists()


def test_cli_without_auto_points_to_the_console(toy, tmp_path, capsys):
    code = main(
        [
            "investigate",
            str(toy / "playbook.toml"),
            "--telemetry",
            str(toy),
            "--incident-dir",
            str(tmp_path / "i"),
        ]
    )
    assert code == 2
    assert "incident-console open" in capsys.readouterr().err
    assert not (tmp_path / "i").exists()


def test_default_alert_is_the_end_of_the_newest_metric_bucket(toy, tmp_path):
    with Investigation.open(toy / "playbook.toml", toy, tmp_path / "inc") as inv:
        assert inv.alert_at == T0 + timedelta(days=3)
        assert inv.windows["incident"].start == T0 + timedelta(days=2, hours=20)
        assert inv.metric == "yes_rate"


def test_an_empty_incident_window_is_named(toy, tmp_path):
    late = T0 + timedelta(days=30)
    with (
        Investigation.open(toy / "playbook.toml", toy, tmp_path / "inc", alert_at=late) as inv,
        pytest.raises(ConsoleError, match="incident window .* holds no rows in .*decisions"),
    ):
        inv.triage()


def test_triage_finds_a_series_shifted_against_its_decisions(tmp_path):
    store = build_toy(tmp_path / "t", break_feature=False, shift_hours=3)
    with Investigation.open(
        store / "playbook.toml", store, tmp_path / "inc", alert_at=ALERT
    ) as inv:
        result = inv.triage()
    skew = next(c for c in result.checks if c.name == "clock_skew")
    assert not skew.passed
    assert skew.evidence["lag_buckets"] == 3
    assert "3 bucket(s) earlier" in skew.detail
    assert result.verdict == "false_alarm"


def test_cancel_interrupts_the_running_query(inv):
    import threading
    import time

    from console.telemetry.store import QueryCancelled

    failures: list[BaseException] = []

    def heavy() -> None:
        try:
            inv.ctx.run("SELECT count(*) AS n FROM range(100000000000) AS r(i) WHERE i % 7 = 3")
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            failures.append(exc)

    worker = threading.Thread(target=heavy)
    worker.start()
    deadline = time.monotonic() + 5
    while not inv.store.running and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.5)  # let DuckDB start executing (the store registers the call just before)
    inv.cancel()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert len(failures) == 1 and isinstance(failures[0], QueryCancelled)
    assert inv.triage().verdict == "confirmed"  # the investigation goes on


def test_reopening_keeps_the_calls_of_the_earlier_session(toy, tmp_path):
    incident = tmp_path / "inc"
    with Investigation.open(toy / "playbook.toml", toy, incident, alert_at=ALERT) as first:
        first.decide_triage("confirmed")
        first.mark_edge(("raw_d", "f_d"), "broken", note="first guess")
        first.mark_edge(("raw_x", "f_x"), "broken", note="shadow recompute")
        first.mark_edge(("raw_d", "f_d"), "cleared")
    with Investigation.open(toy / "playbook.toml", toy, incident, alert_at=ALERT) as again:
        assert again.triage_decision == "confirmed"
        assert again.root_cause() == (("raw_x", "f_x"), "broken")
        assert again.counterfactual().edge == ("raw_x", "f_x")
    assert verify(incident).ok


def test_a_store_missing_a_playbook_column_is_named_before_any_step(toy, tmp_path):
    decisions = pq.read_table(toy / "decisions.parquet").drop(["feat_x"])
    pq.write_table(decisions, toy / "decisions.parquet")
    with pytest.raises(ConsoleError) as caught:
        Investigation.open(toy / "playbook.toml", toy, tmp_path / "inc", alert_at=ALERT)
    assert "does not fit" in str(caught.value)
    assert "feat_x" in str(caught.value) and "decisions.parquet" in str(caught.value)
    assert not (tmp_path / "inc" / "trail.jsonl").exists()
