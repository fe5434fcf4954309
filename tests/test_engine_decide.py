"""The pure decide functions of the engine's steps, on hand-made numbers (no DuckDB), with
the boundaries exactly at each threshold; locate's weights against docs/engine.md; the shared
causal-graph and number helpers."""

import re
from datetime import timedelta
from pathlib import Path

import pytest

from console.engine.interventions.base import MIN_ROWS
from console.engine.interventions.model_version import MODEL_DELTA_SHARE
from console.engine.interventions.model_version import decide as decide_model_version
from console.engine.locate import WEIGHTS, Evidence, candidate_points, moved, saturating
from console.engine.stats import CategoricalNumbers, _numeric_verdict, decide_categorical
from console.engine.triage import NOISE_Z, decide_triage
from console.numbers import clock, minutes_or_hours, num, share, signed_pct
from console.playbook.graph import causal_graph, causes, fed_by, feeds
from console.playbook.loader import load_playbook

ROOT = Path(__file__).resolve().parents[1]

# -- triage --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "verdict", "tier"),
    [
        (None, "false_alarm", "none"),
        (0.0999, "false_alarm", "none"),
        (0.10, "confirmed", "minor"),  # exactly minor
        (0.2999, "confirmed", "minor"),
        (0.30, "confirmed", "critical"),  # exactly critical
    ],
)
def test_triage_verdict_and_tier_at_the_thresholds(bad, verdict, tier):
    outcome = decide_triage(bad, z=10.0, series_broken=False, minor=0.10, critical=0.30)
    assert (outcome.verdict, outcome.tier, outcome.within_noise) == (verdict, tier, False)


def test_triage_noise_counts_only_when_the_series_is_broken():
    # A move under NOISE_Z standard errors is noise only when the alert's series is broken.
    small = NOISE_Z - 0.01
    assert decide_triage(0.5, small, True, 0.1, 0.3).verdict == "false_alarm"
    assert decide_triage(0.5, small, True, 0.1, 0.3).within_noise
    assert decide_triage(0.5, -small, True, 0.1, 0.3).verdict == "false_alarm"
    assert decide_triage(0.5, small, False, 0.1, 0.3).verdict == "confirmed"
    # Exactly NOISE_Z is beyond noise; no z at all cannot call it noise.
    assert decide_triage(0.5, NOISE_Z, True, 0.1, 0.3).verdict == "confirmed"
    assert decide_triage(0.5, None, True, 0.1, 0.3).verdict == "confirmed"


# -- stats ---------------------------------------------------------------------------------

CATEGORICAL = {"psi": 0.2, "alpha": 0.001, "js_distance": 0.1, "new_share": 0.01, "min_n": 30}


def _cat(**changes):
    numbers = dict(
        nb=100,
        ni=100,
        psi=0.0,
        js=0.0,
        chi2=50.0,
        df=2,
        pvalue=0.0001,
        new_shares=(),
        vanished_shares=(),
    )
    return CategoricalNumbers(**{**numbers, **changes})


@pytest.mark.parametrize(
    ("changes", "verdict"),
    [
        ({"nb": 29}, "inconclusive"),
        ({"ni": 29}, "inconclusive"),
        ({"nb": 30, "ni": 30}, "ok"),  # exactly min_n: judged; significant but small
        ({"pvalue": 0.001, "psi": 5.0}, "ok"),  # exactly alpha: not significant
        ({"psi": 0.2}, "shifted"),
        ({"psi": 0.1999}, "ok"),
        ({"js": 0.1}, "shifted"),
        ({"new_shares": (0.01,)}, "shifted"),
        ({"new_shares": (0.0099,)}, "ok"),
        ({"vanished_shares": (0.5,)}, "shifted"),
    ],
)
def test_categorical_verdict_at_the_thresholds(changes, verdict):
    assert decide_categorical(_cat(**changes), CATEGORICAL) == verdict


NUMERIC = {"psi": 0.2, "alpha": 0.001, "w1_normalised": 0.1}


@pytest.mark.parametrize(
    ("nb", "pvalue", "psi_value", "w1n", "verdict"),
    [
        (29, 0.0, 9.0, 9.0, "inconclusive"),
        (30, 0.05, 9.0, 9.0, "ok"),  # a large effect needs p < 0.05: exactly 0.05 is not
        (30, 0.001, 9.0, 9.0, "shifted"),  # large W1/std: p < 0.05 is enough
        (30, 0.001, 0.2, 0.5, "ok"),  # exactly alpha, effect over the floor but not large
        (30, 0.0009, 0.2, 0.0, "shifted"),  # PSI exactly at its threshold
        (30, 0.0009, 0.0, 0.1, "shifted"),  # W1/std exactly at its threshold
        (30, 0.0009, 0.1999, 0.0999, "ok"),
    ],
)
def test_numeric_verdict_at_the_thresholds(nb, pvalue, psi_value, w1n, verdict):
    got, reasons = _numeric_verdict(nb, 100, pvalue, psi_value, w1n, NUMERIC, ks=0.5, min_n=30)
    assert got == verdict and reasons


# -- model_version -------------------------------------------------------------------------


def test_model_version_verdict_at_the_thresholds():
    assert decide_model_version(MODEL_DELTA_SHARE, False, 500, 500) == "ok"  # not over 1%
    assert decide_model_version(MODEL_DELTA_SHARE + 1e-9, False, 500, 500) == "broken"
    assert decide_model_version(None, False, 500, 500) == "ok"
    assert decide_model_version(0.0, True, 500, 500) == "broken"  # rows without a score rose
    assert decide_model_version(0.5, True, 0, 500) == "inconclusive"  # nothing re-scored
    assert decide_model_version(0.5, True, 500, MIN_ROWS - 1) == "inconclusive"
    assert decide_model_version(0.5, False, 500, MIN_ROWS) == "broken"


# -- locate --------------------------------------------------------------------------------


def _evidence(**changes):
    values = dict(external=False, signals=0.0, impact=0.0, magnitude=0.0, changes=0, status="")
    return Evidence(**{**values, **changes})


def test_a_change_event_counts_fully_only_on_a_node_that_moved():
    at = WEIGHTS.relevant_impact
    assert moved(_evidence(impact=at)) and not moved(_evidence(impact=at - 0.01))
    assert moved(_evidence(signals=1.5))
    assert candidate_points(_evidence(impact=at, changes=1.0)) == at + WEIGHTS.change_moved
    below = at - 0.25
    assert candidate_points(_evidence(impact=below, changes=1.0)) == below + WEIGHTS.change_unmoved


def test_a_change_event_weighs_by_its_proximity():
    """`changes` is the nearest event's proximity weight: an older event earns less."""
    at = WEIGHTS.relevant_impact
    near = candidate_points(_evidence(impact=at, changes=1.0))
    old = candidate_points(_evidence(impact=at, changes=0.37))
    assert near - at == WEIGHTS.change_moved
    assert old - at == pytest.approx(0.37 * WEIGHTS.change_moved)


def test_movement_is_capped_and_external_nodes_earn_only_signals_changes_and_status():
    capped = candidate_points(_evidence(magnitude=WEIGHTS.movement_cap + 5))
    assert capped == WEIGHTS.movement * WEIGHTS.movement_cap
    assert candidate_points(_evidence(magnitude=1.0)) == WEIGHTS.movement
    external = _evidence(external=True, signals=3.0, impact=3.0, magnitude=2.0, status="tentative")
    assert candidate_points(external) == 3.0 + WEIGHTS.tentative
    assert candidate_points(_evidence(status="unverified")) == WEIGHTS.unverified
    assert candidate_points(_evidence(status="verified")) == 0.0


def test_impact_points_are_half_the_maximum_at_the_scale():
    assert saturating(WEIGHTS.impact_scale) == pytest.approx(WEIGHTS.impact_max / 2)
    assert saturating(0.0) == 0.0
    assert saturating(1e9) < WEIGHTS.impact_max


def test_docs_weights_table_is_the_code_table():
    text = (ROOT / "docs" / "engine.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \| ([\d.]+) \| (.+) \|$", text, re.M)
    assert rows, "docs/engine.md lost its locate weights table"
    documented = {name: float(value) for name, value, _ in rows}
    assert documented == WEIGHTS.__dict__


# -- shared helpers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def playbook(tmp_path_factory):
    path = tmp_path_factory.mktemp("pb") / "fraud.toml"
    docs = (ROOT / "docs" / "playbooks.md").read_text()
    path.write_text(re.search(r"```toml\n(.*?)```", docs, re.S).group(1))
    return load_playbook(path)


def test_causal_graph_leaves_out_feedback_edges(playbook):
    causal = causal_graph(playbook)
    assert list(causal) == list(playbook.nodes)
    assert causal.has_edge("raw_amount", "f_log_amount")
    assert not causal.has_edge("decline_rate", "raw_amount")  # the feedback edge
    assert feeds(causal, "raw_amount", "fraud_score")
    assert feeds(causal, "fraud_score", "fraud_score")
    assert not feeds(causal, "decline_rate", "raw_amount")
    inputs = ["f_merchant_category", "f_log_amount", "f_country_mismatch"]
    assert fed_by(causal, "raw_amount", inputs) == ["f_log_amount"]
    assert fed_by(causal, "geoip_vendor", inputs) == ["f_country_mismatch"]
    assert "decline_rate" not in causes(causal, "raw_amount")
    assert {"geoip_vendor", "raw_ip_country"} <= causes(causal, "f_country_mismatch")


def test_number_formats():
    assert (num(None), num(None, missing="-"), num(0.186543), num(12345.6)) == (
        "n/a",
        "-",
        "0.1865",
        "1.235e+04",
    )
    assert (signed_pct(0.3), signed_pct(-0.046), signed_pct(None, missing="-")) == (
        "+30.0%",
        "-4.6%",
        "-",
    )
    assert (share(0.25189), share(None), share(float("nan"))) == ("25.19%", "n/a", "n/a")
    assert minutes_or_hours(timedelta(minutes=119)) == "119 min"
    assert minutes_or_hours(timedelta(minutes=120)) == "2.0 h"
    assert clock(timedelta(hours=26, seconds=61)) == "26:01:01"
    assert clock(timedelta(seconds=-5)) == "00:00:00"
