"""Counterfactual: re-score the incident window with the broken value corrected.

What "corrected" means depends on how the edge was found broken (Correction.describe says it
in words, and the report quotes it):

- shadow_recompute: the feature is replaced by its reference expression over the raw inputs;
- model_version: the served features are re-scored by the playbook scorer, so rows the live
  model failed to score (or scored with another model) get the playbook model's score;
- null_rate and freshness on a source: the rows where the source is missing (or stale) get,
  for every scorer feature it feeds, a value drawn from that feature's baseline distribution
  (a deterministic draw: the baseline quantile at a hash of the prediction id; 200 quantiles
  of the screening's baseline sample, see console.engine.screening);
- distribution_shift on a source: every scorer feature it feeds is mapped rank for rank onto
  its baseline distribution (quantile mapping, ties broken by a hash of the prediction id).

The blast radius counts decisions that flip, the score change distribution and the segments
(seg_* columns) with the most flips. explain() attributes one decision to its features with
console.scoring.explain (exact on the margin for linear/logistic scorers, sampled Shapley
otherwise) and finds the smallest single-feature change that flips it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from console.engine.context import Context
from console.engine.expressions import as_text, finite_or_null
from console.engine.interventions import feature_select, scorer_of
from console.engine.results import Attribution, BlastRadius, Explanation, Flip, SegmentImpact
from console.engine.screening import baseline_stride
from console.errors import ConsoleError
from console.playbook.model import Edge
from console.scoring.explain import attribute, smallest_flip
from console.scoring.linear import LinearScorer
from console.telemetry.store import duckdb_identifier

QUANTILES = 200
BACKGROUND_ROWS = 2000
FLIPPED_IDS = 50
EVIDENCE_ROWS = 10_000
SEGMENTS = 10


@dataclass
class Correction:
    describe: str
    exprs: dict[str, str]  # scorer feature -> SQL of its corrected value
    ctes: list[str] = field(default_factory=list)  # WITH parts the exprs read (baseline quantiles)
    joins: list[str] = field(default_factory=list)  # their names, cross-joined (one row each)


@dataclass
class EvidenceTable:
    table: pa.Table
    sql: str
    params: dict[str, Any]


def correction(ctx: Context, edge: Edge) -> Correction:
    """How the broken edge's value is corrected for re-scoring (see the module docstring)."""
    kind = edge.intervention.type if edge.intervention else ""
    features = scorer_of(ctx).features
    if kind == "shadow_recompute":
        node = ctx.node(edge.target)
        if node.id in features:
            return Correction(
                f"{node.id} recomputed from its reference `{node.reference}`",
                {node.id: node.reference},
            )
    if kind == "model_version" or (kind == "shadow_recompute" and edge.target not in features):
        return Correction("the playbook scorer's re-score of the features as served", {})
    source = edge.source
    graph = nx.DiGraph((e.source, e.target) for e in ctx.playbook.edges if not e.feedback)
    graph.add_nodes_from(ctx.playbook.nodes)
    fed = [f for f in features if f == source or nx.has_path(graph, source, f)]
    if not fed:
        raise ConsoleError(
            f"{source} feeds none of the scorer's inputs ({', '.join(features)}): nothing to correct"
        )
    corr = Correction("", {})
    src = ctx.node(source)
    if kind in ("null_rate", "freshness"):
        if kind == "null_rate":
            affected = (
                f"({src.expr}) IS NULL"
                if src.type == "categorical"
                else f"({finite_or_null(src.expr)}) IS NULL"
            )
            what = f"rows where {source} is missing"
        else:
            age = str(edge.intervention.params["age_expr"])
            lag = edge.intervention.params["max_lag"]
            seconds = lag.total_seconds() if hasattr(lag, "total_seconds") else float(lag)
            affected = f"CAST(({age}) AS DOUBLE) > {seconds!r}"
            what = f"rows where {source} was older than max_lag"
        for i, feature in enumerate(fed):
            value = _baseline_quantile(
                ctx, corr, i, feature, f"(hash(prediction_id || '{i}') % 1000000) / 1000000.0"
            )
            corr.exprs[feature] = (
                f"CASE WHEN {affected} THEN {value} ELSE ({ctx.node(feature).expr}) END"
            )
        corr.describe = f"{what}: {', '.join(fed)} drawn from the baseline distribution"
        return corr
    for i, feature in enumerate(fed):
        node = ctx.node(feature)
        value = finite_or_null(node.expr) if node.type == "numeric" else as_text(node.expr)
        rank = f"percent_rank() OVER (ORDER BY {value} NULLS FIRST, hash(prediction_id))"
        corr.exprs[feature] = _baseline_quantile(ctx, corr, i, feature, rank)
    corr.describe = f"{', '.join(fed)} mapped rank for rank onto the baseline distribution"
    return corr


def _baseline_quantile(ctx: Context, corr: Correction, i: int, feature: str, position: str) -> str:
    node = ctx.node(feature)
    value = finite_or_null(node.expr) if node.type == "numeric" else as_text(node.expr)
    probs = ", ".join(f"{(k + 0.5) / QUANTILES!r}" for k in range(QUANTILES))
    name = f"q{i}"
    # The same deterministic baseline sample as the screening: 200 quantiles need no more.
    stride = baseline_stride(ctx)
    sample = "" if stride == 1 else f" AND hash(ts) % {stride} = 0"
    corr.ctes.append(
        f"{name} AS (SELECT quantile_disc({value}, [{probs}]) AS qs FROM decisions "
        f"WHERE ts >= $b_start AND ts < $b_end{sample} AND {value} IS NOT NULL)"
    )
    corr.joins.append(name)
    index = f"least({QUANTILES}, 1 + CAST(floor(({position}) * {QUANTILES}) AS BIGINT))"
    return f"list_extract({name}.qs, {index})"


def _rows_sql(ctx: Context, corr: Correction, features: list[str], where: str) -> str:
    segs = [c for c in ctx.columns if c.startswith("seg_")]
    corrected = ", ".join(
        f"{corr.exprs.get(f, '(' + ctx.node(f).expr + ')')} AS {duckdb_identifier('corrected:' + f)}"
        for f in features
    )
    seg_sql = "".join(f", {duckdb_identifier(s)}" for s in segs)
    with_sql = f"WITH {', '.join(corr.ctes)}\n" if corr.ctes else ""
    joins = "".join(f", {name}" for name in corr.joins)
    return (
        f"{with_sql}SELECT prediction_id, ts, score, CAST(decision AS VARCHAR) AS decision{seg_sql}, "
        f"{feature_select(ctx, features)}, {corrected}\nFROM decisions{joins} WHERE {where}"
    )


def blast_radius(ctx: Context, edge: Edge) -> tuple[BlastRadius, EvidenceTable]:
    scorer = scorer_of(ctx)
    features = scorer.features
    corr = correction(ctx, edge)
    sql = _rows_sql(ctx, corr, features, "ts >= $i_start AND ts < $i_end")
    params = {"i_start": ctx.incident.start, "i_end": ctx.incident.end}
    if corr.ctes:
        params |= {"b_start": ctx.baseline.start, "b_end": ctx.baseline.end}
    rows = ctx.run(sql, params)
    ctx.require_rows(ctx.incident, rows.num_rows)
    corrected = pa.table({f: rows.column(f"corrected:{f}") for f in features})
    new_scores = scorer.score(corrected)
    new_decisions = scorer.decide(new_scores).astype(str)
    old_decisions = np.array(rows.column("decision").to_pylist(), dtype=object).astype(str)
    live = rows.column("score").cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)
    flipped = new_decisions != old_decisions
    delta = new_scores - live
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
        values = np.array(rows.column(column).to_pylist(), dtype=object).astype(str)
        for value in np.unique(values):
            pick = values == value
            segments.append(
                SegmentImpact(column, str(value), int(flipped[pick].sum()), int(pick.sum()))
            )
    segments.sort(
        key=lambda s: (-s.flipped, -(s.flipped / s.total if s.total else 0.0), s.column, s.value)
    )
    order = np.argsort(-np.nan_to_num(np.abs(delta), nan=np.inf))
    ids = np.array(rows.column("prediction_id").to_pylist(), dtype=object)
    flipped_ids = [str(ids[i]) for i in order if flipped[i]][:FLIPPED_IDS]
    result = BlastRadius(
        edge=(edge.source, edge.target),
        correction=corr.describe,
        flipped=int(flipped.sum()),
        total=int(rows.num_rows),
        score_delta=score_delta,
        segments=segments[:SEGMENTS],
        flipped_ids=flipped_ids,
    )
    keep = pc.filter(
        pa.table(
            {
                "prediction_id": rows.column("prediction_id"),
                "ts": rows.column("ts"),
                "live_score": pa.array(live),
                "corrected_score": pa.array(new_scores, pa.float64()),
                "live_decision": pa.array(old_decisions.tolist(), pa.string()),
                "corrected_decision": pa.array(new_decisions.tolist(), pa.string()),
            }
        ),
        pa.array(flipped),
    ).slice(0, EVIDENCE_ROWS)
    return result, EvidenceTable(keep, sql, params)


def explain(ctx: Context, prediction_id: str, edge: Edge | None) -> Explanation:
    scorer = scorer_of(ctx)
    features = scorer.features
    corr = correction(ctx, edge) if edge is not None else Correction("", {})
    sql = _rows_sql(ctx, corr, features, "prediction_id = $id")
    params: dict[str, Any] = {"id": prediction_id}
    if corr.ctes:
        params |= {"b_start": ctx.baseline.start, "b_end": ctx.baseline.end}
    found = ctx.run(sql, params)
    if found.num_rows == 0:
        raise ConsoleError(f"no decision with prediction_id {prediction_id!r} in the telemetry")
    record = found.slice(0, 1).to_pylist()[0]
    background = ctx.run(
        f"SELECT {feature_select(ctx, features)} FROM decisions WHERE ts >= $b_start AND ts < $b_end "
        f"ORDER BY hash(prediction_id) LIMIT {BACKGROUND_ROWS}",
        {"b_start": ctx.baseline.start, "b_end": ctx.baseline.end},
    )
    row = {f: record[f] for f in features}
    table = pa.table({f: found.column(f).slice(0, 1) for f in features})
    score = float(scorer.score(table)[0]) if record["score"] is None else float(record["score"])
    corrected_score = None
    if edge is not None:
        fixed = pa.table({f: found.column(f"corrected:{f}").slice(0, 1) for f in features})
        corrected_score = float(scorer.score(fixed)[0])
    attributions = attribute(scorer, row, background)
    flip = smallest_flip(scorer, row, background)
    return Explanation(
        prediction_id=prediction_id,
        score=score,
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
    )


def _q(values: np.ndarray, q: float | None) -> float:
    if values.size == 0:
        return 0.0
    return float(values.mean()) if q is None else float(np.quantile(values, q))


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value
