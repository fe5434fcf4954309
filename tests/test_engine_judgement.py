"""Broken pipeline or changing world, decided from the data (console.engine.verdict, auto).

A toy pipeline on small generated Parquet: an external node (the weather) moves two inputs,
raw_a and raw_b; raw_c has no external cause; three sites produce rows (seg_site). Each test
writes one incident and runs `investigate --auto` on it:

- the world moves raw_a and raw_b together, plausibly, on every site, and an innocent deploy
  lands on raw_a an hour into the shift: an external shift, never a broken edge;
- raw_a arrives x100 on every row with no change event anywhere: a broken edge;
- raw_a arrives scaled on one site only: a broken edge;
- raw_c breaks visibly but the model barely weighs it (flips nothing), while a tenth of raw_a's
  rows arrive x100: the search does not stop at raw_c and names raw_a.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from console.cli import main
from console.engine.auto import Break, choose_break
from console.engine.change_events import proximity
from console.engine.onset import Onset
from console.engine.results import BlastRadius, Candidate, ChangeEvent, InterventionResult, Window
from console.engine.verdict import SIGNALS, confidence, rise_start, time_fit

T0 = datetime(2026, 5, 4, tzinfo=UTC)
ALERT = T0 + timedelta(days=3, hours=20)
INCIDENT = timedelta(hours=4)
START = ALERT - INCIDENT
TS = pa.timestamp("us", tz="UTC")
SITES = ["north", "south", "east"]

PLAYBOOK = """\
[model]
name = "toy-claims"
owner = "toy-ml"
oncall = "#toy"

[windows]
incident = "4h"
baseline = "2d"
baseline_gap = "12h"
postfix = "3h"

[[nodes]]
id = "ext_market"
kind = "external"
type = "categorical"
owner = "nobody"
description = "Repair prices in the market (listed first: the engine must not just take it)."

[[nodes]]
id = "ext_weather"
kind = "external"
type = "categorical"
owner = "nobody"
description = "The weather."

[[nodes]]
id = "raw_a"
kind = "source"
type = "numeric"
owner = "ingest"
description = "Repair estimate (EUR)."
expr = "raw_a"

[[nodes]]
id = "raw_b"
kind = "source"
type = "numeric"
owner = "ingest"
description = "Photos attached."
expr = "raw_b"

[[nodes]]
id = "raw_c"
kind = "source"
type = "numeric"
owner = "ingest"
description = "Policy tenure (days)."
expr = "raw_c"

[[nodes]]
id = "f_a"
kind = "feature"
type = "numeric"
owner = "features"
description = "ln(1 + raw_a)."
expr = "feat_a"
reference = "ln(1 + raw_a)"

[[nodes]]
id = "f_b"
kind = "feature"
type = "numeric"
owner = "features"
description = "raw_b / 10."
expr = "feat_b"
reference = "raw_b / 10.0"

[[nodes]]
id = "f_c"
kind = "feature"
type = "numeric"
owner = "features"
description = "raw_c / 100."
expr = "feat_c"
reference = "raw_c / 100.0"

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
description = "review when score >= 0.5."
expr = "decision"

[[nodes]]
id = "review_rate"
kind = "metric"
type = "numeric"
owner = "toy-ml"
description = "Share sent to review."
expr = "avg(CASE WHEN decision = 'review' THEN 1.0 ELSE 0.0 END)"
series = "toy_review_rate"

[[edges]]
from = "ext_market"
to = "raw_a"
mechanism = "Garages raise their prices."

[[edges]]
from = "ext_weather"
to = "raw_a"
mechanism = "Storms make repairs dearer."

[[edges]]
from = "ext_weather"
to = "raw_b"
mechanism = "Storms make people attach more photos."

[[edges]]
from = "raw_a"
to = "f_a"
mechanism = "The feature service takes ln(1 + estimate)."
intervention = { type = "distribution_shift" }

[[edges]]
from = "raw_b"
to = "f_b"
mechanism = "The feature service divides by 10."
intervention = { type = "distribution_shift" }

[[edges]]
from = "raw_c"
to = "f_c"
mechanism = "The feature service divides by 100."
status = "tentative"
intervention = { type = "null_rate" }

[[edges]]
from = "f_a"
to = "toy_model"
mechanism = "A term of the score."
status = "verified"

[[edges]]
from = "f_b"
to = "toy_model"
mechanism = "A term of the score."
status = "verified"

[[edges]]
from = "f_c"
to = "toy_model"
mechanism = "A term of the score."
status = "verified"

[[edges]]
from = "toy_model"
to = "toy_decision"
mechanism = "review when score >= 0.5."
status = "verified"

[[edges]]
from = "toy_decision"
to = "review_rate"
mechanism = "The hourly share sent to review."
status = "verified"

[triage]
metric = "review_rate"
direction = "up"

[scorer]
type = "logistic"
threshold = 0.5
positive = "review"
negative = "fast_track"
intercept = -8.0
weights = { f_a = 1.0, f_b = 0.5, f_c = 0.02 }
"""


def _write(folder: Path, fault: str, changes: list[tuple[datetime, str, str, str]]) -> None:
    """Six days of hourly traffic; `fault` acts from START to the end of the data."""
    rng = np.random.default_rng(7)
    hours = 6 * 24
    per_hour = 120
    n = hours * per_hour
    ts = np.array(
        [T0 + timedelta(hours=h, seconds=int(s)) for h in range(hours) for s in
         np.sort(rng.integers(0, 3600, per_hour))]
    )  # fmt: skip
    site = rng.integers(0, 3, n)
    raw_a = np.round(np.exp(7.0 + 0.5 * rng.standard_normal(n)), 2)
    raw_b = rng.poisson(6, n).astype(np.float64)
    raw_c = np.round(rng.gamma(3, 200, n))
    after = np.array([t >= START for t in ts])
    if fault == "world":
        # A storm: dearer repairs and more photos, everywhere; the amounts stay plausible.
        raw_a = np.where(after, np.round(raw_a * 1.6, 2), raw_a)
        raw_b = np.where(after, raw_b + rng.poisson(4, n), raw_b)
    elif fault == "units":
        raw_a = np.where(after, raw_a * 100, raw_a)
    elif fault == "one_site":
        raw_a = np.where(after & (site == 1), raw_a * 3.5, raw_a)
    elif fault == "gap":
        # Tenure moves (a migration of old policies?) and nothing in the playbook causes it.
        raw_c = np.where(after, raw_c * 7, raw_c)
    elif fault == "two_bugs":
        raw_c = np.where(after & (rng.random(n) < 0.6), np.nan, raw_c)
        raw_a = np.where(after & (rng.random(n) < 0.1), raw_a * 100, raw_a)
    feat_a = np.log1p(raw_a)
    feat_b = raw_b / 10.0
    feat_c = raw_c / 100.0
    margin = -8.0 + feat_a + 0.5 * feat_b + 0.02 * np.nan_to_num(feat_c)
    score = 1 / (1 + np.exp(-margin))
    decision = np.where(score >= 0.5, "review", "fast_track")
    decisions = pa.table(
        {
            "prediction_id": pa.array([f"c{i:06d}" for i in range(n)]),
            "ts": pa.array(ts, TS),
            "raw_a": raw_a,
            "raw_b": raw_b,
            "raw_c": raw_c,
            "feat_a": feat_a,
            "feat_b": feat_b,
            "feat_c": feat_c,
            "score": score,
            "decision": pa.array(decision.tolist()),
            "seg_site": pa.array([SITES[s] for s in site]),
            "model_version": pa.array(["m1"] * n),
        }
    )
    pq.write_table(decisions, folder / "decisions.parquet")
    buckets = [T0 + timedelta(hours=h) for h in range(hours)]
    hour_of = np.array([int((t - T0).total_seconds() // 3600) for t in ts])
    rates = [float((decision[hour_of == h] == "review").mean()) for h in range(hours)]
    pq.write_table(
        pa.table(
            {
                "ts": pa.array(buckets, TS),
                "metric": pa.array(["toy_review_rate"] * hours),
                "value": rates,
                "labels": pa.array(["{}"] * hours),
            }
        ),
        folder / "metrics.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "ts": pa.array([c[0] for c in changes], TS),
                "kind": pa.array([c[1] for c in changes], pa.string()),
                "node": pa.array([c[2] for c in changes], pa.string()),
                "summary": pa.array([c[3] for c in changes], pa.string()),
                "actor": pa.array(["someone"] * len(changes), pa.string()),
            }
        ),
        folder / "changes.parquet",
    )
    (folder / "playbook.toml").write_text(PLAYBOOK)


def _auto(
    tmp_path: Path,
    fault: str,
    changes: list[tuple[datetime, str, str, str]],
    playbook: str = PLAYBOOK,
) -> dict:
    folder = tmp_path / fault
    folder.mkdir()
    _write(folder, fault, changes)
    (folder / "playbook.toml").write_text(playbook)
    out = tmp_path / f"{fault}.json"
    code = main([
        "investigate", str(folder / "playbook.toml"), "--telemetry", str(folder),
        "--incident-dir", str(tmp_path / f"{fault}-incident"), "--auto", "--json", str(out),
        "--alert-at", ALERT.isoformat(), "--metric", "review_rate", "--actor", "t",
    ])  # fmt: skip
    assert code == 0
    summary: dict = json.loads(out.read_text())
    return summary


def test_a_world_shift_with_an_innocent_deploy_stays_external(tmp_path):
    deploy = (START + timedelta(hours=1), "deploy", "raw_a", "estimate-service pods restarted")
    summary = _auto(tmp_path, "world", [deploy])
    root = summary["root_cause"]
    assert root is not None, summary["interventions"]
    assert root["kind"] == "external_shift", summary["alternatives"]
    # raw_a has two external causes; the evidence (raw_b moved with it) names the weather,
    # not the one listed first.
    assert root["node"] == "ext_weather"
    judged = [i for i in summary["interventions"] if "judgement" in i]
    assert judged and all(i["judgement"]["call"] == "world" for i in judged)
    keys = {f["key"] for i in judged for f in i["judgement"]["findings"]}
    assert "siblings_moved" in keys
    # The deploy came after the shift began: it cannot be its cause.
    assert "change_fits" not in keys
    # A world that moved its values up 1.6x pushes their tail out of range; divided by 10 the
    # tail lands low in the baseline, not where its values lie: no unit factor.
    assert "implausible_values" not in keys
    worlds = [a for a in summary["alternatives"] if a["outcome"] == "world"]
    assert worlds


def test_a_unit_change_with_no_change_event_is_a_broken_edge(tmp_path):
    summary = _auto(tmp_path, "units", [])
    root = summary["root_cause"]
    assert root is not None and root["kind"] == "broken_edge", summary["alternatives"]
    assert root["node"] == "raw_a"
    judged = next(i for i in summary["interventions"] if i["node"] == "raw_a" and "judgement" in i)
    keys = {f["key"] for f in judged["judgement"]["findings"] if f["side"] == "broken"}
    assert "implausible_values" in keys
    assert root["confidence"]["level"] in ("high", "medium")


def test_a_fault_on_one_site_is_a_broken_edge(tmp_path):
    summary = _auto(tmp_path, "one_site", [])
    root = summary["root_cause"]
    assert root is not None and root["kind"] == "broken_edge", summary["alternatives"]
    assert root["node"] == "raw_a"
    judged = next(i for i in summary["interventions"] if i["node"] == "raw_a" and "judgement" in i)
    found = {f["key"]: f for f in judged["judgement"]["findings"]}
    assert "one_producer" in found
    assert "south" in found["one_producer"]["detail"]


def test_a_break_that_flips_nothing_does_not_end_the_search(tmp_path):
    summary = _auto(tmp_path, "two_bugs", [])
    broken = [i for i in summary["interventions"] if i["verdict"] == "broken"]
    # raw_c's missing values rank it first and its edge is broken ...
    assert broken[0]["node"] == "raw_c", [i["node"] for i in broken]
    root = summary["root_cause"]
    # ... but the cause named is the one that explains the anomaly.
    assert root["node"] == "raw_a", summary["alternatives"]
    assert root["explained"] >= 0.5
    less = [a for a in summary["alternatives"] if a["outcome"] == "explains_less"]
    assert [a["node"] for a in less] == ["raw_c"]


# -- the decision rules on their own -----------------------------------------------------------


def _break(node: str, explained: float | None) -> Break:
    candidate = Candidate(1, node, (node, "f"), 1.0, [], None, [], "verified", "null_rate")
    result = InterventionResult((node, "f"), node, "null_rate", "broken", {}, [], [], {}, [], [])
    blast = None
    if explained is not None:
        blast = BlastRadius((node, "f"), "", 0, 10, {}, [], [], explained=explained)
    return Break(candidate, result, node, None, blast)


def test_choose_break_prefers_what_explains_most():
    little, most = _break("a", 0.02), _break("b", 0.8)
    assert choose_break([little, most]) is most
    assert choose_break([]) is None
    # One that could not be sized beats those that explain little ...
    unsized = _break("c", None)
    assert choose_break([little, unsized]) is unsized
    # ... but not one that explains enough.
    assert choose_break([unsized, most]) is most
    assert choose_break([little]) is little


def test_confidence_counts_independent_signals():
    assert confidence(3, 0) == "high"
    assert confidence(3, 1) == "medium"
    assert confidence(2, 2) == "low"
    assert confidence(1, 0) == "low"


def _clock() -> SimpleNamespace:
    """The parts of a Context that time_fit and proximity read."""
    incident = Window("incident", START, ALERT)
    return SimpleNamespace(
        incident=incident,
        playbook=SimpleNamespace(triage=SimpleNamespace(bucket=timedelta(hours=1))),
    )


def _event(at: datetime) -> ChangeEvent:
    return ChangeEvent(at, "deploy", "raw_a", "", "")


def test_a_change_fits_a_shift_only_if_it_came_before_the_shift_began():
    ctx = _clock()
    onset = START - timedelta(hours=14)  # the evening before
    assert time_fit(ctx, _event(onset + timedelta(minutes=20)), onset) == 1.0
    assert time_fit(ctx, _event(onset - timedelta(minutes=50)), onset) == 1.0
    assert time_fit(ctx, _event(onset + timedelta(hours=1)), onset) == 0.0
    assert time_fit(ctx, _event(onset + timedelta(hours=5)), onset) == 0.0
    # Long before the onset, the fit decays one incident length (4 h) at a time.
    assert time_fit(ctx, _event(onset - timedelta(hours=5)), onset) == pytest.approx(math.exp(-1))


def test_an_event_weighs_by_its_proximity_to_the_incident_window():
    ctx = _clock()
    assert proximity(ctx, _event(START + timedelta(hours=1))) == 1.0
    assert proximity(ctx, _event(START - timedelta(hours=4))) == 1.0
    assert proximity(ctx, _event(START - timedelta(hours=8))) == pytest.approx(math.exp(-1))
    # Without an onset, time_fit falls back on proximity.
    assert time_fit(ctx, _event(START - timedelta(hours=8)), None) == pytest.approx(math.exp(-1))


def test_docs_evidence_table_is_the_code_table():
    text = (Path(__file__).resolve().parent.parent / "docs" / "engine.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \| (broken|world) \| ([\d.]+) \| (.+) \|$", text, re.M)
    assert rows, "docs/engine.md lost its evidence table"
    assert {k: (side, float(points)) for k, side, points, _ in rows} == {
        s.key: (s.side, s.points) for s in SIGNALS
    }


def test_an_input_that_moved_with_no_external_cause_is_a_graph_gap(tmp_path):
    summary = _auto(tmp_path, "gap", [])
    assert summary["root_cause"] is None
    assert any(g.startswith("raw_c moved") and "may lack an edge" in g for g in summary["gaps"])
    report = Path(summary["report"]).read_text()
    assert "Graph gap" in report and "no input moved" not in report


def test_every_planned_intervention_runs_in_priority_order(tmp_path):
    """A distribution_shift that says "shifted" does not stop the edge's list: the range test
    after it is the direct evidence, and the counterfactual corrects what range found."""
    playbook = PLAYBOOK.replace(
        'mechanism = "The feature service takes ln(1 + estimate)."\n'
        'intervention = { type = "distribution_shift" }',
        'mechanism = "The feature service takes ln(1 + estimate)."\n'
        'interventions = [{ type = "distribution_shift" }, { type = "range" }]',
    )
    assert playbook != PLAYBOOK
    summary = _auto(tmp_path, "units", [], playbook)
    on_a = [i for i in summary["interventions"] if i["edge"] == ["raw_a", "f_a"]]
    assert [(i["type"], i["verdict"]) for i in on_a] == [
        ("distribution_shift", "broken"),
        ("range", "broken"),
    ]
    assert summary["root_cause"]["node"] == "raw_a"
    assert "implausible" in summary["counterfactual"]["correction"]


def test_the_report_lists_the_alternatives_and_what_the_cause_explains(tmp_path):
    summary = _auto(tmp_path, "two_bugs", [])
    report = Path(summary["report"]).read_text()
    section = report.split("## Alternatives considered")[1].split("## Trigger")[0]
    assert "| `raw_c` |" in section and "explains less" in section
    assert "- **Explains:**" in report and "- **Confidence:**" in report


def test_the_lookback_is_a_playbook_setting(tmp_path):
    from console.engine.change_events import weighed_changes
    from console.engine.investigation import Investigation

    folder = tmp_path / "world"
    folder.mkdir()
    old = (START - timedelta(hours=10), "deploy", "raw_a", "a deploy the night before")
    _write(folder, "world", [old])
    for lookback, expected in (("", [math.exp(-1.5)]), ('lookback = "8h"\n', [])):
        text = PLAYBOOK.replace('postfix = "3h"\n', f'postfix = "3h"\n{lookback}')
        (folder / "playbook.toml").write_text(text)
        with Investigation.open(
            folder / "playbook.toml", folder, tmp_path / f"inc{len(lookback)}",
            alert_at=ALERT, metric="review_rate",
        ) as inv:  # fmt: skip
            weights = [w.weight for w in weighed_changes(inv.ctx, "raw_a")]
        assert weights == pytest.approx(expected)


def test_a_shift_that_builds_up_fits_the_change_before_its_first_clear_bucket():
    """The onset is where a move became clear; a move that builds up overnight began with
    the first bucket of its unbroken lean, and a deploy just before that fits fully."""
    ctx = _clock()
    hour = timedelta(hours=1)
    at = START - 10 * hour
    buckets = [
        (at - k * hour, dev) for k, dev in ((5, -0.1), (4, 0.02), (3, 0.08), (2, 0.12), (1, 0.15))
    ]
    onset = Onset("raw_a", at, [*buckets, (at, 0.3)], 0.2, [], [])
    since = rise_start(onset)
    assert since == at - 4 * hour
    deploy = _event(at - 4.5 * hour)
    assert time_fit(ctx, deploy, at, since) == 1.0
    assert time_fit(ctx, deploy, at) < 0.5  # judged from the onset alone, it barely fits
    assert time_fit(ctx, _event(at + 2 * hour), at, since) == 0.0
