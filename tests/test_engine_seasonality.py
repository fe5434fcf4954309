"""Seasonality: the baseline is compared at the incident's hours of the day.

A small store where the input s has a strong daily cycle (high every evening, 18:00 to 24:00)
and never breaks, and the input x moves for real at the incident. The incident window is an
evening, so against the whole baseline s looks like the largest move of all; against the
baseline's evenings it did not move.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from console.engine.context import (
    IN_BASELINE,
    IN_INCIDENT,
    SIDE_CASE,
    SIDE_WHERE,
    baseline_params,
    same_hours_span,
    side_params,
)
from console.engine.investigation import Investigation
from console.engine.results import Window
from console.engine.screen_sample import baseline_stride
from console.engine.screening import screen
from console.engine.stats import screen_many

T0 = datetime(2026, 5, 4, tzinfo=UTC)
ALERT = T0 + timedelta(days=6, hours=23)
INCIDENT_START = ALERT - timedelta(hours=4)  # 19:00 to 23:00: an evening
TS = pa.timestamp("us", tz="UTC")

PLAYBOOK = """\
[model]
name = "seasonal"
owner = "ml"
oncall = "#ml"

[windows]
incident = "4h"
baseline = "5d"
baseline_gap = "0s"
postfix = "3h"

[[nodes]]
id = "raw_s"
kind = "source"
type = "numeric"
owner = "ingest"
description = "Traffic-driven input, high every evening."
expr = "raw_s"

[[nodes]]
id = "raw_x"
kind = "source"
type = "numeric"
owner = "ingest"
description = "Input that really moves at the incident."
expr = "raw_x"

[[nodes]]
id = "f_s"
kind = "feature"
type = "numeric"
owner = "features"
description = "raw_s as served."
expr = "feat_s"

[[nodes]]
id = "f_x"
kind = "feature"
type = "numeric"
owner = "features"
description = "raw_x as served."
expr = "feat_x"

[[nodes]]
id = "model"
kind = "model"
type = "numeric"
owner = "ml"
description = "Logistic score."
expr = "score"

[[nodes]]
id = "decision"
kind = "decision"
type = "categorical"
owner = "ml"
description = "yes when score >= 0.5."
expr = "decision"

[[nodes]]
id = "yes_rate"
kind = "metric"
type = "numeric"
owner = "ml"
description = "Share of yes."
expr = "avg(CASE WHEN decision = 'yes' THEN 1.0 ELSE 0.0 END)"
series = "yes_rate"

[[edges]]
from = "raw_s"
to = "f_s"
mechanism = "Copied."
status = "verified"
intervention = { type = "distribution_shift" }

[[edges]]
from = "raw_x"
to = "f_x"
mechanism = "Copied."
status = "verified"
intervention = { type = "distribution_shift" }

[[edges]]
from = "f_s"
to = "model"
mechanism = "Weight 0.5."
status = "verified"

[[edges]]
from = "f_x"
to = "model"
mechanism = "Weight 1.5."
status = "verified"

[[edges]]
from = "model"
to = "decision"
mechanism = "Threshold 0.5."
status = "verified"

[[edges]]
from = "decision"
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
intercept = -8.0
[scorer.weights]
f_s = 0.5
f_x = 1.5
"""


def build_store(folder, per_hour=120):
    """Seven days of decisions: s = 10 + 6 every evening + noise, x = 0 + noise, and from
    the incident start x one standard deviation higher; y = the same cycle as s, plus 3
    standard deviations at the incident (a real shift at the same hours)."""
    rng = np.random.default_rng(11)
    folder.mkdir(parents=True, exist_ok=True)
    hours = 7 * 24
    seconds = np.sort(
        np.repeat(np.arange(hours) * 3600, per_hour) + rng.integers(0, 3600, hours * per_hour)
    )
    n = seconds.size
    hour_of_day = (seconds // 3600) % 24
    evening = (hour_of_day >= 18).astype(float)
    ts = [T0 + timedelta(seconds=int(s)) for s in seconds]
    incident = np.array([INCIDENT_START <= t < ALERT for t in ts])
    raw_s = 10 + 6 * evening + rng.normal(0, 1, n)
    raw_x = rng.normal(0, 1, n) + np.where(incident, 1.0, 0.0)
    raw_y = 10 + 6 * evening + rng.normal(0, 1, n) + np.where(incident, 3.0, 0.0)
    margin = -8.0 + 0.5 * raw_s + 1.5 * raw_x
    score = 1 / (1 + np.exp(-margin))
    decision = np.where(score >= 0.5, "yes", "no")
    pq.write_table(
        pa.table(
            {
                "prediction_id": [f"p-{i:06d}" for i in range(n)],
                "ts": pa.array(ts, TS),
                "model_version": ["m-1"] * n,
                "score": score,
                "decision": decision,
                "latency_ms": rng.normal(20, 2, n),
                "status": ["ok"] * n,
                "raw_s": raw_s,
                "raw_x": raw_x,
                "raw_y": raw_y,
                "feat_s": raw_s,
                "feat_x": raw_x,
            }
        ),
        folder / "decisions.parquet",
    )
    buckets = [T0 + timedelta(hours=h) for h in range(hours)]
    rates = [float((decision[seconds // 3600 == h] == "yes").mean()) for h in range(hours)]
    pq.write_table(
        pa.table(
            {
                "ts": pa.array(buckets, TS),
                "metric": ["yes_rate"] * hours,
                "value": rates,
                "labels": ["{}"] * hours,
            }
        ),
        folder / "metrics.parquet",
    )
    empty = pa.array([], pa.string())
    pq.write_table(
        pa.table(
            {
                "ts": pa.array([], TS),
                "kind": empty,
                "node": empty,
                "summary": empty,
                "actor": empty,
            }
        ),
        folder / "changes.parquet",
    )
    (folder / "playbook.toml").write_text(PLAYBOOK, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return build_store(tmp_path_factory.mktemp("seasonal") / "telemetry")


@pytest.fixture
def inv(store, tmp_path):
    with Investigation.open(
        store / "playbook.toml", store, tmp_path / "inc", actor="tester", alert_at=ALERT
    ) as opened:
        yield opened


def test_screening_compares_the_incident_with_the_same_hours(inv):
    ctx = inv.ctx
    screened = screen(ctx)
    # Against the baseline's evenings the cycling input did not move...
    assert screened["raw_s"].magnitude < 0.2
    assert screened["f_s"].magnitude < 0.2
    # ...and the baseline rows read are the evenings' only: 5 days x 4 h x 120 rows.
    assert screened["raw_s"].n_baseline == 5 * 4 * 120
    # The real moves at the same hours are still seen, the large one as large.
    assert screened["raw_x"].magnitude > 0.8
    # Against the whole baseline (the old comparison) the cycle alone looks like a large move.
    whole = screen_many(
        ctx.run,
        {"raw_s": ("raw_s", "numeric")},
        "decisions",
        {
            "b_start": ctx.baseline.start,
            "b_end": ctx.baseline.end,
            "i_start": ctx.incident.start,
            "i_end": ctx.incident.end,
        },
        "ts >= $b_start AND ts < $b_end",
        "ts >= $i_start AND ts < $i_end",
    )
    assert whole["raw_s"].magnitude > 1.0


def test_a_real_shift_at_the_same_hours_is_still_caught(inv):
    ctx = inv.ctx
    found = screen_many(
        ctx.run,
        {"raw_y": ("raw_y", "numeric")},
        f"(SELECT * FROM decisions WHERE {SIDE_WHERE}) AS d",
        side_params(ctx.baseline, ctx.incident),
        IN_BASELINE,
        IN_INCIDENT,
    )
    assert found["raw_y"].mean_shift == pytest.approx(3.0, abs=0.3)


def test_the_distribution_shift_intervention_is_seasonal(inv):
    # raw_s -> f_s: the cycle alone must not make the input "shifted".
    assert inv.intervene(("raw_s", "f_s")).verdict == "ok"
    assert inv.intervene(("raw_x", "f_x")).verdict == "broken"


def test_locate_does_not_rank_the_cycling_input_first(inv):
    result = inv.locate()
    first = result.candidates[0]
    assert first.node in ("raw_x", "f_x"), [(c.node, c.score) for c in result.candidates]
    ranks = {c.node: c.rank for c in result.candidates}
    assert ranks["f_s"] > ranks["f_x"] and ranks["raw_s"] > ranks["f_x"]


def test_the_baseline_sample_counts_the_same_hours_rows(inv):
    ctx = inv.ctx
    rows = ctx.run(
        f"SELECT count(*) AS n FROM decisions WHERE {IN_BASELINE}",
        baseline_params(ctx.baseline, ctx.incident),
    )
    assert rows.column("n")[0].as_py() == 5 * 4 * 120
    assert baseline_stride(ctx) == 1
    sides = ctx.run(
        f"SELECT {SIDE_CASE} AS w, count(*) AS n FROM decisions WHERE {SIDE_WHERE} GROUP BY w",
        side_params(ctx.baseline, ctx.incident),
    ).to_pylist()
    assert {r["w"]: r["n"] for r in sides} == {"baseline": 5 * 4 * 120, "incident": 4 * 120}


def _window(name, start, hours):
    return Window(name, start, start + timedelta(hours=hours))


def test_same_hours_span_keeps_the_whole_baseline_when_it_must():
    incident = _window("incident", INCIDENT_START, 4)
    week = _window("baseline", INCIDENT_START - timedelta(days=7), 24 * 6)
    assert same_hours_span(week, incident) == 4 * 3600
    # A day-long incident: every hour of the day is "the same hours".
    day = _window("incident", INCIDENT_START, 30)
    assert same_hours_span(week, day) == 86400
    # A baseline of the 6 h just before the incident never holds its hours: kept whole.
    before = _window("baseline", INCIDENT_START - timedelta(hours=6), 6)
    assert same_hours_span(before, incident) == 86400
    # Two half-evenings add up to one whole: the same hours are enough.
    halves = _window("baseline", INCIDENT_START - timedelta(hours=22), 24)
    assert same_hours_span(halves, incident) == 4 * 3600


def _triage_says_same_hours(inv) -> bool:
    result = inv.triage()
    return any("the same hours of the day as the incident" in r for r in result.reasons)


def test_triage_says_same_hours_only_when_the_baseline_holds_them(inv, tmp_path):
    assert _triage_says_same_hours(inv)
    # A baseline of the 6 h just before the incident never holds its hours: it is read whole,
    # and triage must not call it the same hours (it did while the incident was under a day).
    short = tmp_path / "short"
    short.mkdir()
    for f in inv.ctx.playbook.path.parent.iterdir():
        (short / f.name).write_bytes(f.read_bytes())
    text = (short / "playbook.toml").read_text(encoding="utf-8")
    (short / "playbook.toml").write_text(text.replace('baseline = "5d"', 'baseline = "6h"'))
    with Investigation.open(
        short / "playbook.toml", short, tmp_path / "inc-short", actor="tester", alert_at=ALERT
    ) as opened:
        assert same_hours_span(opened.ctx.baseline, opened.ctx.incident) == 86400
        assert not _triage_says_same_hours(opened)


def same_hours_edges() -> tuple[dict[str, Any], dict[int, bool]]:
    """IN_BASELINE's parameters, and rows at the edges of the same hours two days before the
    incident, by epoch microseconds: whether each is kept. A fraction of a second before the
    span's start a row is out, a fraction before its end it is in."""
    incident = _window("incident", INCIDENT_START, 4)
    baseline = _window("baseline", INCIDENT_START - timedelta(days=5), 24 * 5)
    start = INCIDENT_START - timedelta(days=2)
    end = start + timedelta(hours=4)
    kept = {
        start - timedelta(seconds=0.4): False,
        start - timedelta(microseconds=1): False,
        start: True,
        end - timedelta(seconds=0.4): True,
        end - timedelta(microseconds=1): True,
        end: False,
        end + timedelta(seconds=0.4): False,
    }
    by_us = {round(ts.timestamp() * 1e6): k for ts, k in kept.items()}
    return baseline_params(baseline, incident), by_us


EDGES_SQL = f"SELECT epoch_us(ts) AS us, {IN_BASELINE} AS kept FROM decisions"


def test_the_same_hours_edges_are_exact_to_the_microsecond():
    """(Rounding a difference of epoch seconds to a whole one, as SAME_HOURS once did, moved
    both edges by up to half a second.)"""
    params, kept = same_hours_edges()
    con = duckdb.connect()
    ts = pa.array(list(kept), pa.int64()).cast(TS)
    con.register("decisions", pa.table({"ts": ts}))
    assert dict(con.execute(EDGES_SQL, params).fetchall()) == kept
