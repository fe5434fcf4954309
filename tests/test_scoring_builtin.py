"""Linear and logistic scorers built from playbook weights, and build_scorer's errors."""

import warnings

import numpy as np
import pyarrow as pa
import pytest

from console.errors import ConsoleError
from console.playbook.model import Scorer
from console.scoring import build_scorer
from console.scoring.linear import LinearScorer, LogisticScorer

WEIGHTS = {
    "f_amount": 0.5,
    "f_count": -0.25,
    "f_flag": 1.0,
    "f_category=gambling": 2.0,
    "f_category=travel": -1.0,
}


def features(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "f_amount": rng.normal(3, 1, n),
            "f_count": pa.array(rng.integers(0, 10, n), pa.int32()),
            "f_flag": rng.random(n) < 0.3,
            "f_category": rng.choice(["gambling", "travel", "grocery"], n),
            "unused": np.zeros(n),
        }
    )


def reference_margin(table, intercept):
    cat = np.array(table.column("f_category").to_pylist())
    return (
        intercept
        + 0.5 * table.column("f_amount").to_numpy()
        - 0.25 * table.column("f_count").to_numpy()
        + 1.0 * table.column("f_flag").to_numpy(zero_copy_only=False)
        + np.select([cat == "gambling", cat == "travel"], [2.0, -1.0], 0.0)
    )


def test_linear_scores_intercept_plus_weighted_sum():
    table = features()
    scorer = build_scorer(Scorer(type="linear", intercept=0.7, weights=WEIGHTS))
    assert isinstance(scorer, LinearScorer)
    assert scorer.features == ["f_amount", "f_count", "f_flag", "f_category"]
    scores = scorer.score(table)
    assert scores.dtype == np.float64
    np.testing.assert_allclose(scores, reference_margin(table, 0.7))


def test_logistic_scores_sigmoid_and_decides_at_threshold():
    table = features()
    spec = Scorer(
        type="logistic",
        intercept=-2.0,
        weights=WEIGHTS,
        threshold=0.4,
        positive="decline",
        negative="approve",
    )
    scorer = build_scorer(spec)
    assert isinstance(scorer, LogisticScorer)
    scores = scorer.score(table)
    np.testing.assert_allclose(scores, 1 / (1 + np.exp(-reference_margin(table, -2.0))))
    decisions = scorer.decide(scores)
    assert list(decisions) == ["decline" if s >= 0.4 else "approve" for s in scores]
    assert list(scorer.decide([0.4, 0.39999, float("nan")])) == ["decline", "approve", "approve"]


def test_logistic_does_not_overflow_on_extreme_margins():
    scorer = build_scorer(Scorer(type="logistic", weights={"x": 1.0}))
    scores = scorer.score(pa.table({"x": [-1e4, 0.0, 1e4]}))
    np.testing.assert_allclose(scores, [0.0, 0.5, 1.0])


def test_null_and_nan_inputs_contribute_zero():
    scorer = build_scorer(Scorer(type="linear", intercept=1.0, weights=WEIGHTS))
    table = pa.table(
        {
            "f_amount": pa.array([None, float("nan"), 2.0], pa.float64()),
            "f_count": pa.array([1, None, 1], pa.int64()),
            "f_flag": pa.array([None, False, True]),
            "f_category": pa.array([None, "unknown-category", "travel"]),
        }
    )
    np.testing.assert_allclose(scorer.score(table), [1.0 - 0.25, 1.0, 1.0 + 1.0 - 0.25 + 1.0 - 1.0])


def test_infinite_inputs_are_missing_too():
    # They used to make the margin infinite, or NaN when two met: a score of no decision.
    scorer = build_scorer(Scorer(type="linear", intercept=1.0, weights={"a": 2.0, "b": -1.0}))
    table = pa.table({"a": [float("inf"), 1.0], "b": [float("inf"), float("-inf")]})
    assert scorer.score(table).tolist() == [1.0, 3.0]


def test_finite_inputs_past_the_largest_double_overflow_quietly():
    # 1e308 x 3 is +inf as IEEE arithmetic has it; numpy's RuntimeWarning used to reach the
    # terminal (the CLI fuzz test's hostile values showed it).
    logistic = build_scorer(Scorer(type="logistic", weights={"a": 3.0, "b": -3.0}))
    linear = build_scorer(Scorer(type="linear", weights={"a": 3.0, "b": -3.0}))
    table = pa.table({"a": [1e308, 1e308, 1.0], "b": [0.0, 1e308, 0.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert logistic.score(table)[0] == 1.0
        margin = linear.score(table)
    assert margin[0] == np.inf and np.isnan(margin[1]) and margin[2] == 3.0


def test_categorical_values_match_as_text_whatever_the_column_type():
    spec = Scorer(type="linear", weights={"f_tier=3": 1.5, "f_ok=true": 2.0})
    scorer = build_scorer(spec)
    table = pa.table(
        {
            "f_tier": pa.array([3, 4, None], pa.int64()),
            "f_ok": pa.array(["true", "false", "true"]).dictionary_encode(),
        }
    )
    np.testing.assert_allclose(scorer.score(table), [3.5, 0.0, 2.0])


def test_missing_feature_column_names_the_feature():
    scorer = build_scorer(Scorer(type="linear", weights=WEIGHTS))
    with pytest.raises(ConsoleError, match="lacks column.*f_category"):
        scorer.score(features().drop_columns(["f_category"]))


def test_text_column_with_a_numeric_weight_is_refused():
    scorer = build_scorer(Scorer(type="linear", weights={"f_category": 1.0}))
    with pytest.raises(ConsoleError, match="f_category.*f_category=value"):
        scorer.score(features())


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (Scorer(type="linear"), r"needs \[scorer.weights\]"),
        (Scorer(type="logistic", weights={"a": 1.0, "a=x": 2.0}), "both a numeric weight"),
        (Scorer(type="python", entry_point="m:f"), "no features"),
        (Scorer(type="http", url="http://127.0.0.1:9/"), "no features"),
        (Scorer(type="magic", weights={"a": 1.0}), "not one of"),  # type: ignore[arg-type]
    ],
)
def test_bad_specs_raise_console_errors(spec, message):
    with pytest.raises(ConsoleError, match=message):
        build_scorer(spec)


def test_http_url_and_batch_size_are_checked():
    with pytest.raises(ConsoleError, match="url"):
        build_scorer(Scorer(type="http", url="ftp://x"), features=["a"])
    with pytest.raises(ConsoleError, match="batch_size"):
        build_scorer(Scorer(type="http", url="http://127.0.0.1:9/", batch_size=0), features=["a"])
