"""The counterfactual step on small real stores: Explain and the blast radius give a row the
same corrected score, errored rows are never flips, and hostile values end in one message.

The toy pipeline: raw_v -> f_v (a numeric feature, distribution_shift: corrected by mapping
it rank for rank onto the baseline), raw_k -> f_k (a categorical one, null_rate), a logistic
scorer on both. Every live decision is "held", a value the scorer never gives, so every
scored row of the incident window flips and the evidence holds its corrected score.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.audit import read_entries
from console.engine.investigation import Investigation
from console.errors import ConsoleError

T0 = datetime(2026, 5, 4, tzinfo=UTC)
INCIDENT_START = T0 + timedelta(days=2)
ALERT = INCIDENT_START + timedelta(hours=4)
TS = pa.timestamp("us", tz="UTC")
FLOAT = pa.float64()
RANKED = ("raw_v", "f_v")  # distribution_shift: the rank mapping
NULLS = ("raw_k", "f_k")  # null_rate: a drawn value where raw_k is missing

PLAYBOOK = """\
[model]
name = "toy"
owner = "toy-ml"
oncall = "#toy"

[windows]
incident = "4h"
baseline = "2d"
baseline_gap = "0s"
postfix = "1h"

[[nodes]]
id = "raw_v"
kind = "source"
type = "numeric"
owner = "ingest"
description = "Raw value."
expr = "raw_v"

[[nodes]]
id = "raw_k"
kind = "source"
type = "categorical"
owner = "ingest"
description = "Raw kind."
expr = "raw_k"

[[nodes]]
id = "f_v"
kind = "feature"
type = "numeric"
owner = "features"
description = "The value as served."
expr = "feat_v"
reference = "raw_v"

[[nodes]]
id = "f_k"
kind = "feature"
type = "categorical"
owner = "features"
description = "The kind as served."
expr = "feat_k"
reference = "raw_k"

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
status = "unverified"
intervention = { type = "distribution_shift" }

[[edges]]
from = "raw_k"
to = "f_k"
mechanism = "Copied."
status = "unverified"
intervention = { type = "null_rate" }

[[edges]]
from = "f_v"
to = "toy_model"
mechanism = "Weight 1."
status = "verified"

[[edges]]
from = "f_k"
to = "toy_model"
mechanism = "b weighs 0.7."
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

"""

LOGISTIC = """\
[scorer]
type = "logistic"
threshold = 0.5
positive = "yes"
negative = "no"
intercept = -0.5
[scorer.weights]
f_v = 1.0
"f_k=b" = 0.7
"""


def python_scorer(module: str) -> str:
    """A [scorer] calling `module`:score, a module written next to the playbook."""
    return (
        f'[scorer]\ntype = "python"\nentry_point = "{module}:score"\nthreshold = 0.5\n'
        'positive = "yes"\nnegative = "no"\ninputs = ["f_v", "f_k"]\n'
    )


def write_store(
    folder: Path,
    baseline: list,
    incident: list,
    *,
    errored: list[bool] | None = None,
    kinds: list | None = None,
    feat_type: pa.DataType = FLOAT,
    scorer: str = LOGISTIC,
) -> Path:
    """Decisions: `baseline` values spread over the baseline window, `incident` ones over the
    incident window (row i is toy-i); errored rows have status 'error' and no score."""
    folder.mkdir(parents=True, exist_ok=True)
    n_b, n_i = len(baseline), len(incident)
    errored = errored or [False] * n_i
    ts = [INCIDENT_START - timedelta(days=2) + timedelta(seconds=60 * i) for i in range(n_b)]
    ts += [
        INCIDENT_START + timedelta(seconds=(4 * 3600 - 1) * i // max(n_i, 1)) for i in range(n_i)
    ]
    values = list(baseline) + list(incident)
    kinds = list(kinds or ["a", "b", None] * ((n_b + n_i) // 3 + 1))[: n_b + n_i]
    bad = [False] * n_b + list(errored)
    table = pa.table(
        {
            "prediction_id": [f"toy-{i}" for i in range(-n_b, 0)]
            + [f"toy-{i}" for i in range(n_i)],
            "ts": pa.array(ts, TS),
            "model_version": ["toy-1"] * (n_b + n_i),
            "score": pa.array([None if b else 0.5 for b in bad], pa.float64()),
            "decision": ["held"] * (n_b + n_i),
            "status": ["error" if b else "ok" for b in bad],
            "raw_v": pa.array(values, feat_type),
            "raw_k": kinds,
            "feat_v": pa.array(values, feat_type),
            "feat_k": kinds,
            "seg_region": ["north", "south"] * ((n_b + n_i) // 2) + ["north"] * ((n_b + n_i) % 2),
        }
    )
    pq.write_table(table, folder / "decisions.parquet")
    hours = [INCIDENT_START - timedelta(days=2) + timedelta(hours=h) for h in range(52)]
    pq.write_table(
        pa.table(
            {
                "ts": pa.array(hours, TS),
                "metric": ["toy_yes_rate"] * len(hours),
                "value": [0.5] * len(hours),
                "labels": ["{}"] * len(hours),
            }
        ),
        folder / "metrics.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "ts": pa.array([INCIDENT_START], TS),
                "kind": ["data_source"],
                "node": ["raw_v"],
                "summary": ["feed v2"],
                "actor": ["vendor"],
            }
        ),
        folder / "changes.parquet",
    )
    (folder / "playbook.toml").write_text(PLAYBOOK + scorer, encoding="utf-8")
    return folder


def open_inv(folder: Path) -> Investigation:
    return Investigation.open(
        folder / "playbook.toml", folder, folder.parent / "inc", actor="tester", alert_at=ALERT
    )


def evidence_scores(inv: Investigation) -> dict[str, float]:
    """prediction_id -> corrected_score of the blast radius' evidence (its flipped rows)."""
    entry = [e for e in read_entries(inv.incident_dir) if e.action == "blast_radius"][-1]
    kept = pq.read_table(inv.incident_dir / entry.evidence[0].path)
    return dict(
        zip(
            kept.column("prediction_id").to_pylist(),
            kept.column("corrected_score").to_pylist(),
            strict=True,
        )
    )


def spread(n: int, seed: int, shift: float = 0.0) -> list[float]:
    return list(np.round(np.random.default_rng(seed).normal(shift, 1.0, n), 3))


# -- 11.1: a rank mapping corrects a row among the whole window, in Explain too ----------------


def test_explain_corrects_a_rank_mapped_row_as_the_blast_radius_does(tmp_path):
    store = write_store(tmp_path / "t", spread(400, 1), spread(60, 2, shift=2.0))
    with open_inv(store) as inv:
        inv.mark_edge(RANKED, "broken")
        blast = inv.counterfactual()
        assert "mapped rank for rank" in blast.correction
        assert blast.flipped == blast.total == 60
        evidence = evidence_scores(inv)
        corrected = sorted(evidence.values())
        # Mapped onto the baseline, the window's corrected scores spread out; the old Explain
        # ranked its one row alone (percent_rank 0) and gave every row the lowest of them.
        assert corrected[-1] - corrected[0] > 0.3
        # Rows from the lowest corrected score to the highest (the flipped ids shown come
        # largest change first: the lowest-ranked rows, the only ones the old Explain got right).
        by_score = sorted(evidence, key=evidence.get)
        for prediction_id in by_score[::8] + by_score[-1:]:
            explanation = inv.explain(prediction_id)
            assert explanation.corrected_score == pytest.approx(evidence[prediction_id], abs=1e-9)
            assert explanation.score == 0.5
    assert not explanation.errored and explanation.notes == []


def test_a_row_outside_the_incident_window_has_no_corrected_score(tmp_path):
    store = write_store(tmp_path / "t", spread(100, 1), spread(20, 2))
    with open_inv(store) as inv:
        inv.mark_edge(RANKED, "broken")
        explanation = inv.explain("toy--5")  # a baseline row
    assert explanation.corrected_score is None
    assert explanation.score == 0.5
    assert explanation.notes == [
        "no corrected score: the decision is outside the incident window "
        "(2026-05-06T00:00:00Z to 2026-05-06T04:00:00Z) the correction is computed over"
    ]


# -- 11.2: errored rows are never flips, and Explain never invents their score ----------------


def test_errored_rows_are_counted_apart_and_explained_without_a_score(tmp_path, capsys):
    errored = [i % 10 == 3 for i in range(40)]
    store = write_store(tmp_path / "t", spread(200, 1), spread(40, 2), errored=errored)
    with open_inv(store) as inv:
        inv.mark_edge(RANKED, "broken")
        blast = inv.counterfactual()
        assert (blast.flipped, blast.errored, blast.total) == (36, 4, 40)
        assert sum(s.flipped for s in blast.segments if s.column == "seg_region") == 36
        errored_ids = {f"toy-{i}" for i in range(40) if errored[i]}
        assert not errored_ids & set(blast.flipped_ids)
        assert not errored_ids & set(evidence_scores(inv))
        explanation = inv.explain("toy-3")
    assert explanation.errored and explanation.score is None
    assert explanation.corrected_score is not None  # what the corrected model would say
    assert explanation.notes == [
        "errored (no served score): the live model did not score this decision, so it never "
        "counts as a flip"
    ]
    stored = [e for e in read_entries(inv.incident_dir) if e.action == "explain"][-1].result
    assert stored["score"] is None and stored["errored"] is True


def test_investigate_prints_the_errored_rows_on_their_own_line(tmp_path, capsys):
    from console.commands.investigate import human_summary

    store = write_store(
        tmp_path / "t", spread(200, 1), spread(40, 2), errored=[True] * 3 + [False] * 37
    )
    with open_inv(store) as inv:
        inv.mark_edge(RANKED, "broken")
        blast = inv.counterfactual()
    summary = {
        "triage": {"verdict": "confirmed", "tier": "critical", "classification": None,
                   "relative_change": None, "metric": "yes_rate", "checks": {}},
        "metric": "yes_rate", "locate": {"candidates": []}, "interventions": [],
        "root_cause": {"kind": "broken_edge", "edge": list(RANKED), "node": "raw_v"},
        "counterfactual": {"flipped": blast.flipped, "total": blast.total, "errored": blast.errored},
        "validation": None, "errors": [], "report": "r.md", "trail_count": 3, "trail_head": "h",
    }  # fmt: skip
    lines = human_summary(summary).splitlines()
    at = lines.index("blast radius: 37 of 40 decisions flip")
    assert lines[at + 1] == "  3 errored, never scored (not counted as flips)"


# -- 12.11 / 12.13: hostile scores and feature values end in one message -----------------------


@pytest.mark.parametrize(
    ("answer", "shown"),
    [("float('nan')", "NaN"), ("None", "null"), ("'inf'", "'inf'"), ("1e999", "Infinity")],
)
def test_a_non_finite_score_fails_the_step_naming_the_prediction(tmp_path, answer, shown):
    incident = spread(20, 2)
    incident[7] = 42.0  # the row the scorer answers badly; raw_k's correction keeps f_v
    module = f"toy_scorer_{shown.strip(chr(39)).lower()}"  # one module per answer: imports cache
    store = write_store(tmp_path / "t", spread(100, 1), incident, scorer=python_scorer(module))
    (store / f"{module}.py").write_text(
        "def score(table):\n"
        f"    return [{answer} if v == 42.0 else 0.25 for v in table['f_v'].to_pylist()]\n"
    )
    with open_inv(store) as inv:
        inv.mark_edge(NULLS, "broken")
        with pytest.raises(ConsoleError) as caught:
            inv.counterfactual()
        failed = list(read_entries(inv.incident_dir))[-1]
    message = str(caught.value)
    kind = "finite number" if shown in ("NaN", "Infinity") else "number"
    assert re.fullmatch(
        re.escape(f"scorer python {module}:score returned {shown} for row ")
        + r"\d+"
        + re.escape(
            f": not a {kind} (prediction_id 'toy-7' of the incident window, re-scored with "
            "the correction)"
        ),
        message,
    ), message
    assert (failed.step, failed.action) == ("counterfactual", "failed")
    assert failed.result == {"error": message}


def test_nan_and_infinite_features_are_explained_without_a_traceback(tmp_path):
    incident = spread(30, 2)
    incident[4], incident[5], incident[6] = float("nan"), float("inf"), float("-inf")
    store = write_store(tmp_path / "t", spread(100, 1) + [float("inf")], incident)
    with open_inv(store) as inv:
        inv.mark_edge(RANKED, "broken")
        blast = inv.counterfactual()
        evidence = evidence_scores(inv)
        for prediction_id in ("toy-4", "toy-5", "toy-6"):
            explanation = inv.explain(prediction_id)
            assert explanation.corrected_score == pytest.approx(evidence[prediction_id], abs=1e-9)
            f_v = next(a for a in explanation.attributions if a.feature == "f_v")
            assert f_v.value is None and math.isfinite(f_v.contribution)
            assert explanation.flip is None or math.isfinite(explanation.flip.size)
        assert blast.flipped == 30
        entries = [e for e in read_entries(inv.incident_dir) if e.action == "explain"]
    assert len(entries) == 3
    json.dumps([e.result for e in entries], allow_nan=False)


def test_decimal_features_are_explained_and_stored(tmp_path):
    values = [Decimal(str(v)) for v in spread(130, 1)]
    store = write_store(tmp_path / "t", values[:100], values[100:], feat_type=pa.decimal128(9, 3))
    with open_inv(store) as inv:
        inv.mark_edge(RANKED, "broken")
        blast = inv.counterfactual()
        explanation = inv.explain(blast.flipped_ids[0])
        stored = [e for e in read_entries(inv.incident_dir) if e.action == "explain"][-1].result
    f_v = next(a for a in explanation.attributions if a.feature == "f_v")
    assert isinstance(f_v.value, float)
    assert explanation.corrected_score == pytest.approx(evidence_scores(inv)[blast.flipped_ids[0]])
    assert stored["prediction_id"] == blast.flipped_ids[0]


# -- the property: for any window, Explain and the blast radius agree on every row --------------

finite = st.floats(-5, 5, allow_nan=False).map(lambda v: round(v, 2))
value = st.one_of(finite, finite, finite, st.none(), st.just(float("nan")), st.just(float("inf")))


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    baseline=st.lists(value, min_size=1, max_size=40),
    incident=st.lists(
        st.tuples(value, st.sampled_from(["a", "b", None]), st.booleans()), min_size=1, max_size=30
    ),
    edge=st.sampled_from([RANKED, NULLS]),
    pick=st.integers(0, 29),
)
def test_property_explain_and_the_blast_radius_agree_for_any_row(baseline, incident, edge, pick):
    values = [v for v, _, _ in incident]
    kinds = [("a", "b")[i % 2] for i in range(len(baseline))] + [k for _, k, _ in incident]
    errored = [e for _, _, e in incident]
    with tempfile.TemporaryDirectory() as tmp:
        store = write_store(Path(tmp) / "t", baseline, values, errored=errored, kinds=kinds)
        with open_inv(store) as inv:
            inv.mark_edge(edge, "broken")
            blast = inv.counterfactual()
            evidence = evidence_scores(inv)
            row = pick % len(values)
            explanation = inv.explain(f"toy-{row}")
    if not errored[row]:
        assert explanation.corrected_score == pytest.approx(evidence[f"toy-{row}"], abs=1e-9)
    # Every scored row flips (live decisions are "held"); errored ones never do.
    assert blast.flipped == len(evidence) == len(values) - sum(errored)
    assert not {f"toy-{i}" for i, e in enumerate(errored) if e} & set(evidence)
    assert blast.errored == sum(errored)
    assert explanation.errored is errored[row]
    assert (explanation.score is None) is errored[row]
