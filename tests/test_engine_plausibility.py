"""Plausibility evidence (console.engine.plausibility) on small generated stores: values a unit
factor away, outside the declared range, or a sentinel standing in for missing are
pipeline-fault evidence; a world that moved, or a common value a little more common, is not.

The store: one source `raw_v` (numeric, column v) and one `raw_c` (categorical, column c),
2 days of baseline and a 6 h incident; each test chooses the values of each window.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from console.engine.context import Context
from console.engine.plausibility import measure_plausibility
from console.engine.results import Window
from console.playbook.loader import load_playbook
from console.telemetry.store import open_store

T0 = datetime(2026, 5, 4, tzinfo=UTC)
INCIDENT_START = T0 + timedelta(days=2)
ALERT = INCIDENT_START + timedelta(hours=6)
TS = pa.timestamp("us", tz="UTC")

PLAYBOOK = """\
[model]
name = "toy"
owner = "toy-ml"
oncall = "#toy"

[windows]
incident = "6h"
baseline = "2d"
baseline_gap = "0s"

[[nodes]]
id = "raw_v"
kind = "source"
type = "numeric"
owner = "ingest"
description = "A raw amount."
expr = "v"
{raw_v}

[[nodes]]
id = "raw_c"
kind = "source"
type = "categorical"
owner = "ingest"
description = "A raw category."
expr = "c"
{raw_c}

[[nodes]]
id = "f_v"
kind = "feature"
type = "numeric"
owner = "features"
description = "The amount as served."
expr = "v"

[[nodes]]
id = "f_c"
kind = "feature"
type = "categorical"
owner = "features"
description = "The category as served."
expr = "c"

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
from = "raw_v"
to = "f_v"
mechanism = "Copied."
status = "verified"
{edge_v}

[[edges]]
from = "raw_c"
to = "f_c"
mechanism = "Copied."
status = "verified"
{edge_c}

[[edges]]
from = "f_v"
to = "toy_model"
mechanism = "Weight 0.01."
status = "verified"

[[edges]]
from = "f_c"
to = "toy_model"
mechanism = "b gets 0.5."
status = "verified"

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
intercept = -1.0
[scorer.weights]
f_v = 0.01
"f_c=b" = 0.5
"""


@dataclass
class Sides:
    """The values of raw_v and raw_c in each window (numpy arrays of one length a side)."""

    v_baseline: np.ndarray
    v_incident: np.ndarray
    c_baseline: np.ndarray | None = None
    c_incident: np.ndarray | None = None


def write_store(
    folder: Path,
    sides: Sides,
    raw_v: str = "",
    raw_c: str = "",
    edge_v: str = "",
    edge_c: str = "",
) -> Path:
    """decisions.parquet (baseline rows spread over 2 days, incident rows over 6 h) and the
    playbook; raw_v / raw_c: extra node keys; edge_v / edge_c: the edges' interventions."""
    folder.mkdir(parents=True, exist_ok=True)
    nb, ni = len(sides.v_baseline), len(sides.v_incident)
    step_b, step_i = timedelta(days=2) / nb, timedelta(hours=6) / ni
    ts = [T0 + step_b * k for k in range(nb)] + [INCIDENT_START + step_i * k for k in range(ni)]
    v = np.concatenate([sides.v_baseline, sides.v_incident]).astype(np.float64)
    rng = np.random.default_rng(1)
    if sides.c_baseline is None or sides.c_incident is None:
        c = rng.choice(["a", "b"], nb + ni)
    else:
        c = np.concatenate([sides.c_baseline, sides.c_incident])
    margin = -1.0 + 0.5 * (c == "b")
    score = 1 / (1 + np.exp(-margin))
    table = pa.table(
        {
            "prediction_id": [f"p-{k:06d}" for k in range(nb + ni)],
            "ts": pa.array(ts, TS),
            "model_version": ["toy-1"] * (nb + ni),
            "score": score,
            "decision": np.where(score >= 0.5, "yes", "no"),
            "v": v,
            "c": c.astype(str),
        }
    )
    pq.write_table(table, folder / "decisions.parquet")
    text = PLAYBOOK.format(raw_v=raw_v, raw_c=raw_c, edge_v=edge_v, edge_c=edge_c)
    (folder / "playbook.toml").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def context(tmp_path: Path) -> Iterator[Any]:
    """context(sides, **playbook keys) -> an open Context over a fresh store."""
    opened: list[Any] = []

    def make(sides: Sides, **keys: str) -> Context:
        folder = write_store(tmp_path / f"t{len(opened)}", sides, **keys)
        ctx = open_context(folder)
        opened.append(ctx)
        return ctx

    yield make
    for ctx in opened:
        ctx.store.close()


def open_context(folder: Path) -> Context:
    playbook = load_playbook(folder / "playbook.toml")
    store = open_store(folder, playbook.tables, allow_missing=True)
    windows = {
        "baseline": Window("baseline", T0, INCIDENT_START),
        "incident": Window("incident", INCIDENT_START, ALERT),
    }
    return Context(playbook, store, folder / "incident", ALERT, "yes_rate", windows)


def amounts(n: int, seed: int, median: float = 60.0, sigma: float = 0.5) -> np.ndarray:
    """Positive amounts (log-normal), never 0."""
    return np.round(np.random.default_rng(seed).lognormal(np.log(median), sigma, n), 2)


def trips(n: int, seed: int, mean: float = 20.0) -> np.ndarray:
    """Trip lengths in miles: a narrow positive distribution."""
    return np.random.default_rng(seed).normal(mean, 3.0, n).clip(1.0)


# -- unit factors ----------------------------------------------------------------------------


def test_a_tenth_of_rows_in_cents_is_found_as_x100(context):
    inc = amounts(3000, 2)
    inc[::10] *= 100  # one producer in ten sends cents
    ctx = context(Sides(amounts(8000, 1), inc))
    p = measure_plausibility(ctx, "raw_v")
    assert p.unit_label == "x100"
    assert p.unit_factor == 100.0
    assert p.unit_share == pytest.approx(0.1, abs=0.01)
    assert p.implausible
    assert any("x100 explains" in r for r in p.reasons)
    assert p.to_dict()["unit_label"] == "x100"


def test_every_row_in_thousands_is_found_as_x1000(context):
    ctx = context(Sides(amounts(8000, 1), amounts(3000, 2) * 1000))
    p = measure_plausibility(ctx, "raw_v")
    assert (p.unit_label, p.implausible) == ("x1000", True)
    assert p.unit_share > 0.95


def test_values_sent_in_units_a_thousand_times_smaller_are_found(context):
    ctx = context(Sides(amounts(8000, 1), amounts(3000, 2) / 1000))
    p = measure_plausibility(ctx, "raw_v")
    assert (p.unit_label, p.implausible) == ("/1000", True)


def test_miles_sent_as_kilometres_are_found(context):
    ctx = context(Sides(trips(8000, 1), trips(3000, 2) * 1.609344))
    p = measure_plausibility(ctx, "raw_v")
    assert p.unit_label == "mi -> km (x1.609)"
    assert p.implausible
    assert p.unit_share > 0.3


@pytest.mark.parametrize("moved", [1.2, 1.4])
def test_a_world_that_moved_up_is_not_taken_for_units(context, moved):
    # Trips got longer: the whole distribution moved (its tail leaves the baseline's range,
    # and a km factor would explain that tail alone), but no row is in other units.
    ctx = context(Sides(trips(8000, 1), trips(3000, 2, mean=20.0 * moved)))
    p = measure_plausibility(ctx, "raw_v")
    assert p.unit_factor is None, p.reasons
    assert not p.implausible
    if moved > 1.3:  # its tail is wide enough that only the untouched-rest test tells
        assert any("(a world that moved, not units)" in r for r in p.reasons), p.reasons


def test_a_wide_world_that_moved_up_is_not_taken_for_units(context):
    ctx = context(Sides(amounts(8000, 1), amounts(3000, 2, median=72.0)))
    p = measure_plausibility(ctx, "raw_v")
    assert (p.unit_factor, p.implausible) == (None, False), p.reasons


def test_an_unchanged_world_shows_nothing(context):
    ctx = context(Sides(amounts(8000, 1), amounts(3000, 2)))
    p = measure_plausibility(ctx, "raw_v")
    assert (p.unit_factor, p.unit_share, p.implausible) == (None, 0.0, False)
    assert p.reasons[-1] == "raw_v: no implausible values: nothing points at the pipeline"


def test_one_producer_whose_short_values_got_shorter_is_not_taken_for_units(context):
    # Durations spread over two decades; one producer in ten sends short clips, which at the
    # incident get shorter still (x0.3): they leave the baseline's range at the bottom, where
    # x60 would bring them back into its bulk - but they left from the short end, not from
    # where x60 puts them.
    rng = np.random.default_rng(6)

    def durations(n: int, short: float) -> np.ndarray:
        values = rng.lognormal(np.log(800.0), 0.9, n)
        clips = rng.random(n) < 0.1
        values[clips] = rng.lognormal(np.log(80.0), 0.3, clips.sum()) * short
        return np.round(values).clip(5)

    ctx = context(Sides(durations(8000, 1.0), durations(3000, 0.3)))
    p = measure_plausibility(ctx, "raw_v")
    assert (p.unit_factor, p.implausible) == (None, False), p.reasons
    assert any("they left from elsewhere" in r for r in p.reasons), p.reasons


def test_a_constant_baseline_tests_no_unit(context):
    ctx = context(Sides(np.full(500, 7.0), np.full(200, 700.0)))
    p = measure_plausibility(ctx, "raw_v")
    assert p.unit_factor is None
    assert any("do not spread" in r for r in p.reasons)


def test_negative_values_keep_their_sign(context):
    base = np.random.default_rng(1).normal(0.0, 50.0, 8000)
    inc = np.random.default_rng(2).normal(0.0, 50.0, 3000)
    inc[::5] *= 1000
    ctx = context(Sides(base, inc))
    p = measure_plausibility(ctx, "raw_v")
    assert p.unit_label == "x1000"
    assert p.unit_share == pytest.approx(0.2, abs=0.03)


# -- declared range --------------------------------------------------------------------------


def test_a_declared_range_breach_is_evidence(context):
    inc = amounts(3000, 2)
    inc[::20] = -inc[::20]  # a sign flip on 5% of rows: no unit factor explains it
    ctx = context(Sides(amounts(8000, 1), inc), raw_v="valid_min = 0\nunits = 'EUR'")
    p = measure_plausibility(ctx, "raw_v")
    assert p.out_of_range_baseline == 0.0
    assert p.out_of_range_incident == pytest.approx(0.05, abs=0.001)
    assert p.implausible
    assert any(
        "outside the declared valid range [0, +inf] EUR: 0.00% -> 5.00%" in r for r in p.reasons
    )


def test_no_declared_range_measures_none(context):
    ctx = context(Sides(amounts(8000, 1), amounts(3000, 2)))
    p = measure_plausibility(ctx, "raw_v")
    assert (p.out_of_range_baseline, p.out_of_range_incident) == (None, None)


# -- sentinels -------------------------------------------------------------------------------


def test_zeros_rising_in_a_value_that_is_rarely_zero_are_evidence(context):
    base, inc = amounts(8000, 1), amounts(3000, 2)
    base[::500] = 0.0  # 0.2% of the baseline
    inc[::30] = 0.0  # 3.3% of the incident
    ctx = context(Sides(base, inc))
    p = measure_plausibility(ctx, "raw_v")
    assert 0.0 in p.sentinel_values
    assert p.sentinel_baseline == pytest.approx(0.002, abs=0.0005)
    assert p.sentinel_incident == pytest.approx(0.034, abs=0.001)
    assert p.implausible
    assert any("jumped" in r for r in p.reasons)


def test_the_same_rise_in_a_count_that_is_often_zero_is_not(context):
    rng = np.random.default_rng(3)
    base = rng.poisson(1.0, 8000).astype(float)  # about 37% zeros
    inc = rng.poisson(1.0, 3000).astype(float)
    inc[1::30] = 0.0  # about 3 points more zeros
    ctx = context(Sides(base, inc))
    p = measure_plausibility(ctx, "raw_v")
    assert 0.0 not in p.sentinel_values
    assert not p.implausible, p.reasons
    assert any("0.0 is 3" in r and "a common value" in r for r in p.reasons)


def test_a_declared_sentinel_counts_however_common(context):
    base, inc = amounts(8000, 1), amounts(3000, 2)
    base[::20] = 999.0  # 5%: declared, so it counts anyway
    inc[::5] = 999.0  # 20%
    ctx = context(Sides(base, inc), raw_v="sentinels = [999]")
    p = measure_plausibility(ctx, "raw_v")
    assert p.sentinel_values == [999.0]
    assert p.implausible


def test_categorical_unknown_rising_is_evidence(context):
    rng = np.random.default_rng(4)
    c_b = rng.choice(["a", "b", "c"], 8000)
    c_i = rng.choice(["a", "b", "c"], 3000).astype(object)
    c_i[::8] = "Unknown"  # any case
    sides = Sides(amounts(8000, 1), amounts(3000, 2), c_b, c_i.astype(str))
    p = measure_plausibility(context(sides), "raw_c")
    assert "unknown" in p.sentinel_values
    assert p.sentinel_incident == pytest.approx(0.125, abs=0.001)
    assert p.implausible
    assert p.out_of_range_incident is None and p.unit_factor is None


def test_too_few_rows_are_no_evidence(context):
    ctx = context(Sides(amounts(8000, 1), amounts(20, 2) * 1000))
    p = measure_plausibility(ctx, "raw_v")
    assert not p.implausible
    assert p.reasons[0].startswith("raw_v: too few values to judge: baseline ")
    assert "incident 20 (need 30 a side)" in p.reasons[0]


def test_the_measurement_is_cached_per_window(context):
    ctx = context(Sides(amounts(800, 1), amounts(300, 2)))
    first = measure_plausibility(ctx, "raw_v")
    assert measure_plausibility(ctx, "raw_v") is first
    later = Window("postfix", ALERT - timedelta(hours=3), ALERT)
    assert measure_plausibility(ctx, "raw_v", later) is not first
