"""Counterfactual: re-score the incident window with the broken value corrected.

What "corrected" means depends on how the edge was found broken: each intervention type's
module says it (InterventionKind.correction, from the forms in console.engine.corrections), and
Correction.describe says it in words, which the report quotes. For example, shadow_recompute
replaces the feature by its reference expression over the raw inputs; model_version re-scores
the served features with the playbook scorer; null_rate and freshness draw, on the rows where
the source is missing (or stale), every scorer feature it feeds from that feature's baseline
distribution (the baseline quantile at a hash of the prediction id; 200 quantiles of the
screening's baseline sample); distribution_shift (and an edge without an intervention) maps
every scorer feature the source feeds rank for rank onto its baseline distribution.

The blast radius counts decisions that flip, the score change distribution and the segments
(seg_* columns) with the most flips. Errored rows (status 'error', or no finite served score)
are counted apart and never flip: the live model gave them no score to change. explain()
attributes one decision to its features with console.scoring.explain (exact on the margin for
linear/logistic scorers, sampled Shapley otherwise) and finds the smallest single-feature
change that flips it.

Both compute a row's corrected score the same way: _rows_sql corrects the whole incident
window (a rank mapping ranks a row among all of it) and corrected_scores scores it; explain()
keeps its one row only after the window's correction is computed.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from console.engine.baseline_summary import baseline_summary, errored_sql
from console.engine.context import (
    IN_BASELINE,
    Context,
    baseline_params,
)
from console.engine.corrections import Correction, fed_features, rank_map
from console.engine.dialect import hash64
from console.engine.interventions import feature_select, kind_for, scorer_of
from console.engine.results import Attribution, BlastRadius, Explanation, Flip, SegmentImpact
from console.engine.screen_sample import baseline_sample
from console.errors import ConsoleError
from console.playbook.model import Edge
from console.scoring.base import BaseScorer, NonFiniteScore
from console.scoring.explain import attribute, smallest_flip
from console.scoring.linear import LinearScorer
from console.telemetry.store import duckdb_identifier
from console.telemetry.windows import format_utc

BACKGROUND_ROWS = 2000
FLIPPED_IDS = 50
EVIDENCE_ROWS = 10_000
SEGMENTS = 10
# The model's output moved when its positive rate (or mean score) moved by at least this:
# triage has already judged the anomaly real, so this only keeps a ratio off a zero divisor.
MIN_MOVE = 0.002


@dataclass
class EvidenceTable:
    table: pa.Table
    sql: str
    params: dict[str, Any]


def correction(ctx: Context, edge: Edge) -> Correction:
    """How the broken edge's value is corrected for re-scoring: its intervention type's
    correction (an edge without one: the rank mapping of what its source feeds)."""
    features = scorer_of(ctx).features
    kind = kind_for(edge)
    if kind is None:
        return rank_map(ctx, fed_features(ctx, edge.source, features))
    return kind.correction(ctx, edge, features)


def _rows_sql(ctx: Context, corr: Correction, features: list[str], *, one: bool = False) -> str:
    """The incident window's rows: id, served score and decision, whether the row errored, the
    seg_* columns, and every scorer feature as served and as corrected.

    The correction is always computed over the whole window: a rank mapping places each row
    among all of the window's rows. `one` keeps the row `$id` only afterwards, outside that
    computation, so Explain corrects a row exactly as the blast radius does.
    """
    segs = [c for c in ctx.columns if c.startswith("seg_")]
    corrected = ", ".join(
        f"{corr.exprs.get(f, '(' + ctx.node(f).expr + ')')} AS {duckdb_identifier('corrected:' + f)}"
        for f in features
    )
    seg_sql = "".join(f", {duckdb_identifier(s)}" for s in segs)
    window_rows = (
        f"window_rows AS (SELECT prediction_id, ts, score, {errored_sql(ctx)} AS errored, "
        f"CAST(decision AS VARCHAR) AS decision{seg_sql}, {feature_select(ctx, features)}, "
        f"{corrected}\nFROM decisions WHERE ts >= $i_start AND ts < $i_end)"
    )
    only = " WHERE prediction_id = $id" if one else ""
    return f"WITH {window_rows}\nSELECT * FROM window_rows{only}"


def _rows_params(
    ctx: Context, corr: Correction, prediction_id: str | None = None
) -> dict[str, Any]:
    params: dict[str, Any] = {"i_start": ctx.incident.start, "i_end": ctx.incident.end}
    params |= corr.params
    if prediction_id is not None:
        params["id"] = prediction_id
    return params


def corrected_scores(scorer: BaseScorer, features: list[str], rows: pa.Table) -> np.ndarray:
    """The scorer's score of each row of _rows_sql with its corrected features: the one
    computation behind the blast radius and Explain's corrected score."""
    table = pa.table({f: rows.column(f"corrected:{f}") for f in features})
    try:
        return scorer.score(table)
    except NonFiniteScore as exc:
        raise ConsoleError(
            f"{exc} (prediction_id {rows.column('prediction_id')[exc.row].as_py()!r} "
            f"of the incident window, re-scored with the correction)"
        ) from None


def blast_radius(ctx: Context, edge: Edge) -> tuple[BlastRadius, EvidenceTable]:
    scorer = scorer_of(ctx)
    features = scorer.features
    corr = correction(ctx, edge)
    sql = _rows_sql(ctx, corr, features)
    params = _rows_params(ctx, corr)
    rows = ctx.run(sql, params)
    ctx.require_rows(ctx.incident, rows.num_rows)
    with scorer.deadline():
        new_scores = corrected_scores(scorer, features, rows)
    # Decisions as codes, never a Python object per row (1.8M rows at 100M: seconds and a
    # gigabyte): 1 positive, 0 negative, and for the live ones 2 for any other value (null
    # included), which differs from every corrected decision.
    new_code = scorer.is_positive(new_scores).astype(np.int8)
    decision = rows.column("decision")
    old_code = np.full(rows.num_rows, 2, dtype=np.int8)
    old_code[_is(decision, scorer.spec.negative)] = 0
    old_code[_is(decision, scorer.spec.positive)] = 1
    live = rows.column("score").cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)
    errored = rows.column("errored").fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
    # An errored row's decision came from no score (a fallback): it has nothing to flip.
    flipped = (new_code != old_code) & ~errored
    delta = np.where(errored, np.nan, new_scores - live)
    finite = delta[np.isfinite(delta)]
    score_delta = {
        "mean": _q(finite, None),
        "p05": _q(finite, 0.05),
        "p50": _q(finite, 0.5),
        "p95": _q(finite, 0.95),
        "max_abs": float(np.abs(finite).max()) if finite.size else 0.0,
        "rescored": int(rows.num_rows),
        "without_live_score": int((~np.isfinite(live)).sum()),
    }
    segments: list[SegmentImpact] = []
    for column in [c for c in rows.column_names if c.startswith("seg_")]:
        segments += _segments(column, rows.column(column), flipped)
    segments.sort(
        key=lambda s: (-s.flipped, -(s.flipped / s.total if s.total else 0.0), s.column, s.value)
    )
    order = np.argsort(-np.nan_to_num(np.abs(delta), nan=np.inf))
    ids = rows.column("prediction_id").take(pa.array(order[flipped[order]][:FLIPPED_IDS]))
    flipped_ids = [str(i) for i in ids.to_pylist()]
    scored = ~errored
    # The metric counts every row, errored ones with their fallback decision; only a re-score
    # of the served features (no feature corrected) gives an errored row a decision.
    settled = np.where(errored & bool(corr.exprs), old_code, new_code)
    baseline = baseline_summary(ctx)
    outputs = {
        "baseline_rate": baseline.positive_rate,
        "baseline_score": baseline.mean_score,
        "live_rate": _mean(old_code == 1),
        "corrected_rate": _mean(settled == 1),
        "live_score": _mean(live[scored]),
        "corrected_score": _mean(new_scores[scored]),
    }
    explained, explained_by = explained_share(outputs)
    result = BlastRadius(
        explained=explained,
        explained_by=explained_by,
        outputs=outputs,
        edge=(edge.source, edge.target),
        correction=corr.describe,
        flipped=int(flipped.sum()),
        total=int(rows.num_rows),
        score_delta=score_delta,
        segments=segments[:SEGMENTS],
        flipped_ids=flipped_ids,
        errored=int(errored.sum()),
    )
    kept = pa.array(np.flatnonzero(flipped)[:EVIDENCE_ROWS])
    labels = pa.array([scorer.spec.negative, scorer.spec.positive], pa.string())
    keep = pa.table(
        {
            "prediction_id": rows.column("prediction_id").take(kept),
            "ts": rows.column("ts").take(kept),
            "live_score": pa.array(live).take(kept),
            "corrected_score": pa.array(new_scores, pa.float64()).take(kept),
            # As the decision's text: a null one reads None, as str() writes it.
            "live_decision": pc.fill_null(decision.take(kept).cast(pa.string()), "None"),
            "corrected_decision": labels.take(pa.array(new_code).take(kept)),
        }
    )
    return result, EvidenceTable(keep, sql, params)


def explained_share(outputs: dict[str, float | None]) -> tuple[float | None, str]:
    """The share of the model's move since the baseline that the correction takes back:
    (live - corrected) / (live - baseline) of the positive-decision rate (every row, errored
    ones with their fallback decision), or of the scored rows' mean score when the rate moved
    less than MIN_MOVE; None when neither moved that much: there is no move in the model's
    output to explain."""
    for measure, by in (("rate", "decisions"), ("score", "scores")):
        base, live, corrected = (
            outputs.get(f"baseline_{measure}"),
            outputs.get(f"live_{measure}"),
            outputs.get(f"corrected_{measure}"),
        )
        if base is None or live is None or corrected is None:
            continue
        if abs(live - base) >= MIN_MOVE:
            return round((live - corrected) / (live - base), 4), by
    return None, ""


def _is(column: pa.ChunkedArray, label: str) -> np.ndarray:
    """Whether each value of a decision column equals label (null: False), as booleans."""
    equal: np.ndarray = pc.fill_null(pc.equal(column, label), False).to_numpy(zero_copy_only=False)
    return equal


def _segments(column: str, values: pa.ChunkedArray, flipped: np.ndarray) -> list[SegmentImpact]:
    """Flips and rows per value of one seg_* column, each value named as str() writes it
    (None for null), counted over dictionary codes rather than one Python object per row."""
    encoded = pc.dictionary_encode(values.combine_chunks())
    names = [str(v) for v in encoded.dictionary.to_pylist()]
    # Null rows get the code after the last value's.
    codes = pc.fill_null(encoded.indices, len(names)).to_numpy(zero_copy_only=False)
    totals = np.bincount(codes, minlength=len(names) + 1)
    flips = np.bincount(codes, weights=flipped, minlength=len(names) + 1)
    counts: dict[str, tuple[int, int]] = {}
    for code, name in enumerate([*names, "None"]):
        if totals[code]:
            f, t = counts.get(name, (0, 0))
            counts[name] = (f + int(flips[code]), t + int(totals[code]))
    return [SegmentImpact(column, name, f, t) for name, (f, t) in sorted(counts.items())]


def _mean(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values.astype(float))] if values.size else values
    return float(finite.mean()) if finite.size else None


def explain(ctx: Context, prediction_id: str, edge: Edge | None) -> Explanation:
    scorer = scorer_of(ctx)
    features = scorer.features
    lookup = (
        f"SELECT score, {errored_sql(ctx)} AS errored, CAST(decision AS VARCHAR) AS decision, "
        f"{feature_select(ctx, features)} FROM decisions WHERE prediction_id = $id"
    )
    # The decisions explained are the incident window's: looked up there first, the query
    # reads that window's row groups only; any other decision is then looked up everywhere.
    found = ctx.run(
        f"{lookup} AND ts >= $i_start AND ts < $i_end LIMIT 1",
        {"id": prediction_id, "i_start": ctx.incident.start, "i_end": ctx.incident.end},
    )
    if found.num_rows == 0:
        found = ctx.run(f"{lookup} LIMIT 1", {"id": prediction_id})
    if found.num_rows == 0:
        raise ConsoleError(f"no decision with prediction_id {prediction_id!r} in the telemetry")
    record = found.to_pylist()[0]
    # Drawn from the screening's baseline sample (every row of a small baseline; whole hours
    # of a large one, read as time ranges): the top-N by the id's hash then hashes and sorts
    # a sample, not every baseline row.
    sample, sample_params = baseline_sample(ctx)
    background = ctx.run(
        f"SELECT {feature_select(ctx, features)} FROM decisions WHERE {IN_BASELINE}{sample} "
        f"ORDER BY {hash64('prediction_id')} LIMIT {BACKGROUND_ROWS}",
        {**baseline_params(ctx.baseline, ctx.incident), **sample_params},
    )
    served = _plain(record["score"])
    notes = []
    if record["errored"]:
        why = "no served score" if served is None else "status 'error'"
        notes.append(
            f"errored ({why}): the live model did not score this decision, so it never "
            f"counts as a flip"
        )
    row = {f: record[f] for f in features}
    with scorer.deadline():
        corrected_score = None
        if edge is not None:
            corrected_score = _corrected_score(ctx, scorer, edge, prediction_id, notes)
        try:
            attributions = attribute(scorer, row, background)
            flip = smallest_flip(scorer, row, background)
        except NonFiniteScore as exc:
            raise ConsoleError(
                f"{exc} (one of the variations of prediction_id {prediction_id!r} scored to "
                f"explain it)"
            ) from None
    return Explanation(
        prediction_id=prediction_id,
        score=served,
        decision=str(record["decision"]),
        corrected_score=corrected_score,
        attributions=[
            Attribution(a.feature, _plain(a.value), float(a.contribution)) for a in attributions
        ],
        flip=None
        if flip is None
        else Flip(
            flip.feature,
            _plain(flip.old_value),
            _plain(flip.new_value),
            float(flip.new_score),
            float(flip.size),
        ),
        method="exact-linear" if isinstance(scorer, LinearScorer) else "sampled-shapley",
        errored=bool(record["errored"]),
        notes=notes,
    )


def _corrected_score(
    ctx: Context, scorer: BaseScorer, edge: Edge, prediction_id: str, notes: list[str]
) -> float | None:
    """The row's score with the broken value corrected, computed over the incident window as
    the blast radius computes it; None (and a note) for a row outside that window."""
    features = scorer.features
    corr = correction(ctx, edge)
    rows = ctx.run(_rows_sql(ctx, corr, features, one=True), _rows_params(ctx, corr, prediction_id))
    if rows.num_rows == 0:
        notes.append(
            f"no corrected score: the decision is outside the incident window "
            f"({format_utc(ctx.incident.start)} to {format_utc(ctx.incident.end)}) the "
            f"correction is computed over"
        )
        return None
    return float(corrected_scores(scorer, features, rows.slice(0, 1))[0])


def _q(values: np.ndarray, q: float | None) -> float:
    if values.size == 0:
        return 0.0
    return float(values.mean()) if q is None else float(np.quantile(values, q))


def _plain(value: Any) -> Any:
    """A feature value or score as JSON-ready data for the trail: a number (a DECIMAL as a
    float; NaN and infinities as None), text, a boolean; a date or time as ISO text."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()  # a numpy scalar
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int):
        return value
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
