"""Interventions: run an edge's planned test on captured telemetry, read-only.

Each compares the baseline window with a second window (the incident, or the post-fix window
at validation) and returns an InterventionResult with a verdict:

- shadow_recompute (node: the edge's target): recompute the feature from its reference and
  count rows whose served value differs (numeric: beyond `tolerance`, relative above 1);
  broken when more than `max_mismatch_rate` of the window's rows differ;
- distribution_shift (node: the source): console.engine.stats numeric_shift /
  categorical_shift with the edge's psi_threshold, alpha and bins; broken when shifted;
- null_rate (node: the source): null_rate_change with max_increase; broken when flagged;
- freshness (node: the source): the age_expr in seconds against max_lag; broken when more than
  1% of the window's rows (and more than twice the baseline's share) are older than max_lag;
- model_version (node: the target model): re-score a deterministic sample of rows (up to
  SAMPLE_ROWS per window, chosen by hash of prediction_id) with the playbook scorer and compare
  with the live scores per model version; broken when more than 1% of the window's scored rows
  differ by more than max_score_delta, or when rows without a score rise (null_rate_change on
  the score, at least half a percentage point, p < alpha).

Verdict "inconclusive" when a window holds too few rows to judge. Every result carries the SQL,
row counts per window, a Histogram for drawing, and the evidence rows, which the caller
snapshots through console.telemetry.evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from console.engine.context import SIDE_CASE, SIDE_WHERE, Context, hours, side_params, sql_number
from console.engine.expressions import as_double, as_text, finite_or_null, mismatch_expr
from console.engine.results import Histogram, InterventionResult, Window
from console.engine.screening import recompute_tolerance
from console.engine.stats import categorical_shift, null_rate_change, numeric_shift
from console.errors import ConsoleError
from console.playbook.model import Edge
from console.scoring.base import BaseScorer
from console.scoring.build import build_scorer
from console.telemetry.store import duckdb_identifier

MIN_ROWS = 30
# A reference that disagrees with the served value on this share of the baseline's rows does
# not reproduce the feature even when all was well: the playbook is wrong, not the pipeline.
REFERENCE_BROKEN_RATE = 0.5
SAMPLE_ROWS = 5000
EVIDENCE_ROWS = 1000
MODEL_DELTA_SHARE = 0.01  # share of re-scored rows allowed beyond max_score_delta
UNSCORED_INCREASE = 0.005
FRESHNESS_SHARE = 0.01


@dataclass
class Outcome:
    """An intervention's result plus the rows to keep as evidence (snapshotted by the caller)."""

    result: InterventionResult
    evidence_sql: str = ""
    evidence_params: dict[str, Any] = field(default_factory=dict)
    evidence_table: pa.Table | None = None


def run_intervention(ctx: Context, edge: Edge, target: Window | None = None) -> Outcome:
    """Run edge's planned intervention, baseline against target (default: the incident)."""
    target = target or ctx.incident
    params = side_params(ctx.baseline, target)
    if edge.intervention is None:
        return _unplanned(ctx, edge, target, params)
    kind = edge.intervention.type
    runner = {
        "shadow_recompute": _shadow_recompute,
        "distribution_shift": _distribution_shift,
        "null_rate": _null_rate,
        "freshness": _freshness,
        "model_version": _model_version,
    }[kind]
    return runner(ctx, edge, target, params)


def _windows(ctx: Context, target: Window) -> list[Window]:
    return [ctx.baseline, target]


def _sample_sql(expr: str) -> str:
    return f"SELECT {SIDE_CASE} AS w, ({expr}) AS v FROM decisions WHERE {SIDE_WHERE}"


# -- shadow_recompute ----------------------------------------------------------------------


def _shadow_recompute(ctx: Context, edge: Edge, target: Window, params: dict) -> Outcome:
    node = ctx.node(edge.target)
    p = edge.intervention.params
    tolerance = float(p.get("tolerance", recompute_tolerance(ctx, node.id)))
    max_rate = float(p.get("max_mismatch_rate", 0.01))
    # Served and reference values are computed once per row, then compared.
    cast = as_text if node.type == "categorical" else as_double
    values = f"{cast(node.expr)} AS served, {cast(node.reference)} AS recomputed"
    mismatch = mismatch_expr(node, tolerance, "served", "recomputed")
    sql = (
        f"SELECT w, count(*) AS n, sum({mismatch}) AS mismatched FROM (SELECT {SIDE_CASE} AS w, "
        f"{values} FROM decisions WHERE {SIDE_WHERE}) AS s WHERE w IS NOT NULL GROUP BY w"
    )
    sides = {r["w"]: r for r in ctx.run(sql, params).to_pylist()}
    n_b, n_t = _count(sides, "baseline", "n"), _count(sides, "incident", "n")
    x_b, x_t = _count(sides, "baseline", "mismatched"), _count(sides, "incident", "mismatched")
    rate_b = x_b / n_b if n_b else None
    rate_t = x_t / n_t if n_t else None
    name = target.name
    stats = {
        "tolerance": tolerance,
        "max_mismatch_rate": max_rate,
        "mismatch_rate_baseline": rate_b,
        f"mismatch_rate_{name}": rate_t,
        "mismatched_baseline": x_b,
        f"mismatched_{name}": x_t,
        "served": node.expr,
        "reference": node.reference,
    }
    if n_t < MIN_ROWS:
        verdict, reasons = "inconclusive", [f"{name} window holds {n_t} rows (need {MIN_ROWS})"]
    elif rate_b is not None and n_b >= MIN_ROWS and rate_b > REFERENCE_BROKEN_RATE:
        verdict = "inconclusive"
        reasons = [
            f"a playbook error, not an incident: nodes.{node.id}.reference ({node.reference}) "
            f"differs from the served {node.id} ({node.expr}) on {x_b} of {n_b} baseline rows "
            f"({rate_b:.2%}) as well as {rate_t:.2%} of {name} rows; fix nodes.{node.id}.reference "
            f"or nodes.{node.id}.expr in {ctx.playbook.path}"
        ]
    elif rate_t > max_rate:
        verdict = "broken"
        reasons = [
            f"served {node.id} differs from its reference on {x_t} of {n_t} {name} rows "
            f"({rate_t:.2%} > max_mismatch_rate {max_rate:.2%}); baseline {_pct(rate_b)}"
        ]
    else:
        verdict = "ok"
        reasons = [
            f"served {node.id} matches its reference: {x_t} of {n_t} {name} rows differ "
            f"({rate_t:.2%} <= {max_rate:.2%}); baseline {_pct(rate_b)}"
        ]
    histogram, hist_sql = _served_vs_recomputed(ctx, node, target)
    evidence_sql = (
        f"SELECT * FROM (SELECT prediction_id, ts, {values} FROM decisions "
        f"WHERE ts >= $start AND ts < $end) AS s WHERE ({mismatch}) = 1.0 "
        f"ORDER BY ts, prediction_id LIMIT {EVIDENCE_ROWS}"
    )
    result = InterventionResult(
        edge=(edge.source, edge.target),
        node=node.id,
        type="shadow_recompute",
        verdict=verdict,
        statistics=stats,
        reasons=reasons,
        sql=[sql, *hist_sql, evidence_sql],
        rows={"baseline": n_b, name: n_t},
        windows=_windows(ctx, target),
        evidence=[],
        histogram=histogram,
    )
    return Outcome(result, evidence_sql, {"start": target.start, "end": target.end})


def _served_vs_recomputed(ctx: Context, node, target: Window) -> tuple[Histogram, list[str]]:
    window = {"start": target.start, "end": target.end}
    if node.type == "categorical":
        sql = (
            f"SELECT side, value, count(*) AS n FROM (SELECT 'served' AS side, {as_text(node.expr)} "
            f"AS value FROM decisions WHERE ts >= $start AND ts < $end UNION ALL SELECT 'recomputed', "
            f"{as_text(node.reference)} FROM decisions WHERE ts >= $start AND ts < $end) AS s "
            "GROUP BY side, value"
        )
        rows = ctx.run(sql, window).to_pylist()
        return _category_histogram(rows, ("served", "recomputed")), [sql]
    served, ref = finite_or_null(node.expr), finite_or_null(node.reference)
    sql = (
        "SELECT side, x FROM (SELECT 'served' AS side, "
        f"{served} AS x FROM decisions WHERE ts >= $start AND ts < $end UNION ALL SELECT "
        f"'recomputed', {ref} FROM decisions WHERE ts >= $start AND ts < $end) AS s"
    )
    binned = _numeric_histogram_sql(sql)
    rows = ctx.run(binned, window).to_pylist()
    return _rows_to_numeric_histogram(rows, ("served", "recomputed")), [binned]


# -- distribution_shift / null_rate ---------------------------------------------------------


def _unplanned(ctx: Context, edge: Edge, target: Window, params: dict) -> Outcome:
    """An edge without a planned intervention (an external cause, the decision -> metric
    step): the distribution of its observed end, with the default thresholds."""
    observed = [
        n for n in (edge.source, edge.target) if ctx.node(n).expr and ctx.node(n).kind != "metric"
    ]
    if not observed:
        raise ConsoleError(
            f"{ctx.playbook.path}: edge {edge.source} -> {edge.target} has no planned intervention "
            "and neither end is observed; add an intervention or mark the edge by hand"
        )
    outcome = _distribution_shift(ctx, edge, target, params, node_id=observed[0], planned=False)
    outcome.result.reasons.insert(
        0,
        f"edge {edge.source} -> {edge.target} has no planned intervention: compared the "
        f"distribution of {observed[0]} with the default thresholds instead",
    )
    return outcome


def _distribution_shift(
    ctx: Context,
    edge: Edge,
    target: Window,
    params: dict,
    node_id: str | None = None,
    planned: bool = True,
) -> Outcome:
    node = ctx.node(node_id or edge.source)
    p = edge.intervention.params if planned and edge.intervention else {}
    sample = _sample_sql(node.expr)
    name = target.name
    if node.type == "numeric":
        shift = numeric_shift(
            ctx.run, sample, params,
            bins=int(p.get("bins", 10)),
            psi_threshold=float(p.get("psi_threshold", 0.2)),
            alpha=float(p.get("alpha", 0.001)),
        )  # fmt: skip
        histogram = _numeric_shift_histogram(shift, name)
        rows = f"SELECT {SIDE_CASE} AS w, prediction_id, ts, ({node.expr}) AS v FROM decisions WHERE {SIDE_WHERE}"
        evidence_sql = (
            f"(SELECT * FROM ({rows}) AS s WHERE w = 'baseline' "
            f"ORDER BY hash(prediction_id) LIMIT {SAMPLE_ROWS // 2}) UNION ALL "
            f"(SELECT * FROM ({rows}) AS s WHERE w = 'incident' "
            f"ORDER BY hash(prediction_id) LIMIT {SAMPLE_ROWS // 2})"
        )
    else:
        shift = categorical_shift(
            ctx.run, sample, params,
            psi_threshold=float(p.get("psi_threshold", 0.2)),
            alpha=float(p.get("alpha", 0.001)),
        )  # fmt: skip
        histogram = Histogram(
            edges=[c.category for c in shift.categories],
            series={
                "baseline": [c.share_baseline for c in shift.categories],
                name: [c.share_incident for c in shift.categories],
            },
        )
        evidence_sql = (
            f"SELECT w, CAST(v AS VARCHAR) AS value, count(*) AS n FROM ({sample}) AS s "
            "WHERE w IS NOT NULL GROUP BY ALL ORDER BY w, n DESC"
        )
    stats = _stats_dict(shift, name)
    verdict = {"shifted": "broken", "ok": "ok"}.get(shift.verdict, "inconclusive")
    what = (
        "shifted" if shift.shifted else ("did not shift" if verdict == "ok" else "cannot be judged")
    )
    reasons = [f"{node.id} {what} between baseline and {name}: " + "; ".join(shift.reasons)]
    result = InterventionResult(
        edge=(edge.source, edge.target),
        node=node.id,
        type="distribution_shift",
        verdict=verdict,
        statistics=stats,
        reasons=reasons,
        sql=[*shift.sql, evidence_sql],
        rows={"baseline": shift.n_baseline, name: shift.n_incident},
        windows=_windows(ctx, target),
        evidence=[],
        histogram=histogram,
    )
    return Outcome(result, evidence_sql, params)


def _null_rate(ctx: Context, edge: Edge, target: Window, params: dict) -> Outcome:
    node = ctx.node(edge.source)
    p = edge.intervention.params
    sample = _sample_sql(node.expr)
    name = target.name
    change = null_rate_change(
        ctx.run, sample, params, kind=node.type, max_increase=float(p.get("max_increase", 0.02))
    )
    verdict = {"shifted": "broken", "ok": "ok"}.get(change.verdict, "inconclusive")
    rate_b, rate_t = change.rate_baseline or 0.0, change.rate_incident or 0.0
    histogram = Histogram(
        edges=["missing", "present"],
        series={"baseline": [rate_b, 1 - rate_b], name: [rate_t, 1 - rate_t]},
    )
    missing = (
        "v IS NULL"
        if node.type == "categorical"
        else "v IS NULL OR NOT isfinite(TRY_CAST(v AS DOUBLE))"
    )
    evidence_sql = (
        f"SELECT w, time_bucket($bucket, ts) AS bucket, count(*) AS n, "
        f"count(*) FILTER (WHERE {missing}) AS missing FROM ("
        f"SELECT {SIDE_CASE} AS w, ts, ({node.expr}) AS v FROM decisions WHERE {SIDE_WHERE}) AS s "
        "GROUP BY ALL ORDER BY bucket"
    )
    reasons = [f"{node.id}: " + "; ".join(change.reasons)]
    result = InterventionResult(
        edge=(edge.source, edge.target),
        node=node.id,
        type="null_rate",
        verdict=verdict,
        statistics=_stats_dict(change, name),
        reasons=reasons,
        sql=[*change.sql, evidence_sql],
        rows={"baseline": change.n_baseline, name: change.n_incident},
        windows=_windows(ctx, target),
        evidence=[],
        histogram=histogram,
    )
    return Outcome(result, evidence_sql, {**params, "bucket": ctx.playbook.triage.bucket})


# -- freshness -----------------------------------------------------------------------------


def _freshness(ctx: Context, edge: Edge, target: Window, params: dict) -> Outcome:
    p = edge.intervention.params
    lag = p.get("max_lag", timedelta(hours=2))
    lag_s = lag.total_seconds() if isinstance(lag, timedelta) else float(lag)
    age = as_double(str(p["age_expr"]))
    name = target.name
    edges = [0.0, lag_s / 4, lag_s / 2, lag_s, 2 * lag_s, 4 * lag_s]
    bins = " ".join(f"WHEN a < {sql_number(e)} THEN {i}" for i, e in enumerate(edges[1:]))
    sql = (
        f"SELECT w, count(*) AS n, count(a) AS known, count(*) FILTER (WHERE a > {sql_number(lag_s)}) "
        "AS stale, quantile_cont(a, [0.5, 0.95, 0.99]) AS q, max(a) AS oldest, "
        f"histogram(CASE {bins} ELSE {len(edges) - 1} END) FILTER (WHERE a IS NOT NULL) AS bins "
        f"FROM (SELECT {SIDE_CASE} AS w, {age} AS a FROM decisions WHERE {SIDE_WHERE}) AS s "
        "WHERE w IS NOT NULL GROUP BY w"
    )
    sides = {r["w"]: r for r in ctx.run(sql, params).to_pylist()}
    base, inc = sides.get("baseline", {}), sides.get("incident", {})
    known_b, known_t = int(base.get("known") or 0), int(inc.get("known") or 0)
    share_b = int(base.get("stale") or 0) / known_b if known_b else None
    share_t = int(inc.get("stale") or 0) / known_t if known_t else None
    q_t = inc.get("q") or [None, None, None]
    stats = {
        "max_lag_s": lag_s,
        "stale_share_baseline": share_b,
        f"stale_share_{name}": share_t,
        f"age_p50_s_{name}": q_t[0],
        f"age_p95_s_{name}": q_t[1],
        f"age_p99_s_{name}": q_t[2],
        f"age_max_s_{name}": inc.get("oldest"),
        "age_p95_s_baseline": (base.get("q") or [None, None])[1],
    }
    if known_t < MIN_ROWS:
        verdict, reasons = (
            "inconclusive",
            [f"{known_t} {name} rows with a known age (need {MIN_ROWS})"],
        )
    elif share_t > max(FRESHNESS_SHARE, 2 * (share_b or 0.0)):
        verdict = "broken"
        reasons = [
            f"{share_t:.2%} of {name} rows were older than max_lag {hours(timedelta(seconds=lag_s))} "
            f"when served (baseline {_pct(share_b)}); p95 age {q_t[1]:.0f} s"
        ]
    else:
        verdict = "ok"
        reasons = [
            f"{share_t:.2%} of {name} rows older than max_lag {hours(timedelta(seconds=lag_s))} "
            f"(baseline {_pct(share_b)}); p95 age {q_t[1]:.0f} s"
        ]
    labels = [f"{e:g}" for e in edges] + ["older"]
    histogram = Histogram(
        edges=[
            f"{labels[i]}-{labels[i + 1]} s" if i < len(edges) - 1 else f">{labels[i]} s"
            for i in range(len(edges))
        ],
        series={
            "baseline": _shares_of(base.get("bins"), len(edges)),
            name: _shares_of(inc.get("bins"), len(edges)),
        },
    )
    evidence_sql = (
        f"SELECT w, time_bucket($bucket, ts) AS bucket, count(*) AS n, "
        f"count(*) FILTER (WHERE a > {sql_number(lag_s)}) AS stale, max(a) AS oldest_s FROM ("
        f"SELECT {SIDE_CASE} AS w, ts, {age} AS a FROM decisions WHERE {SIDE_WHERE}) AS s "
        "WHERE w IS NOT NULL GROUP BY ALL ORDER BY bucket"
    )
    result = InterventionResult(
        edge=(edge.source, edge.target),
        node=edge.source,
        type="freshness",
        verdict=verdict,
        statistics=stats,
        reasons=reasons,
        sql=[sql, evidence_sql],
        rows={"baseline": int(base.get("n") or 0), name: int(inc.get("n") or 0)},
        windows=_windows(ctx, target),
        evidence=[],
        histogram=histogram,
    )
    return Outcome(result, evidence_sql, {**params, "bucket": ctx.playbook.triage.bucket})


# -- model_version -------------------------------------------------------------------------


def scorer_of(ctx: Context) -> BaseScorer:
    """The playbook scorer (built once per investigation)."""
    if "scorer" not in ctx.cache:
        spec = ctx.playbook.scorer
        features = spec.features or [
            n.id for n in ctx.playbook.nodes.values() if n.kind == "feature"
        ]
        ctx.cache["scorer"] = build_scorer(spec, ctx.playbook.path.parent, features=features)
    return ctx.cache["scorer"]


def feature_select(ctx: Context, features: list[str]) -> str:
    """`(expr) AS "node id"` for each scorer feature."""
    return ", ".join(f"({ctx.node(f).expr}) AS {duckdb_identifier(f)}" for f in features)


def _model_version(ctx: Context, edge: Edge, target: Window, params: dict) -> Outcome:
    max_delta = float(edge.intervention.params.get("max_score_delta", 0.05))
    name = target.name
    version = duckdb_identifier(ctx.playbook.model.version_column)
    scorer = scorer_of(ctx)
    features = scorer.features
    sample_sql = (
        f"(SELECT {SIDE_CASE} AS w, prediction_id, ts, CAST({version} AS VARCHAR) AS version, "
        f"score, {feature_select(ctx, features)} FROM decisions "
        f"WHERE ts >= $b_start AND ts < $b_end AND score IS NOT NULL "
        f"ORDER BY hash(prediction_id) LIMIT {SAMPLE_ROWS}) UNION ALL "
        f"(SELECT {SIDE_CASE} AS w, prediction_id, ts, CAST({version} AS VARCHAR) AS version, "
        f"score, {feature_select(ctx, features)} FROM decisions "
        f"WHERE ts >= $i_start AND ts < $i_end AND score IS NOT NULL "
        f"ORDER BY hash(prediction_id) LIMIT {SAMPLE_ROWS})"
    )
    rows = ctx.run(sample_sql, params)
    rescored = scorer.score(rows.select(features)) if rows.num_rows else np.zeros(0)
    live = rows.column("score").to_numpy(zero_copy_only=False).astype(np.float64)
    delta = rescored - live
    sides = np.array(rows.column("w").to_pylist(), dtype=object)
    versions = np.array(rows.column("version").to_pylist(), dtype=object)
    per_version: dict[str, dict[str, Any]] = {}
    for side_key, side_name in (("baseline", "baseline"), ("incident", name)):
        for v in sorted({str(x) for x in versions[sides == side_key]}):
            pick = (sides == side_key) & (versions == v)
            d = np.abs(delta[pick])
            per_version[f"{side_name}:{v}"] = {
                "window": side_name,
                "version": v,
                "rescored": int(pick.sum()),
                "mean_abs_delta": float(d.mean()) if d.size else None,
                "p95_abs_delta": float(np.quantile(d, 0.95)) if d.size else None,
                "share_over_max_delta": float((d > max_delta).mean()) if d.size else None,
            }
    unscored = null_rate_change(
        ctx.run, _sample_sql("score"), params, kind="numeric", max_increase=UNSCORED_INCREASE
    )
    inc_pick = sides == "incident"
    over_t = float((np.abs(delta[inc_pick]) > max_delta).mean()) if inc_pick.any() else None
    stats: dict[str, Any] = {
        "max_score_delta": max_delta,
        "sampled_rows": int(rows.num_rows),
        f"share_over_max_delta_{name}": over_t,
        "by_version": _by_version_text(per_version, name, rows=False),
        "unscored_rate_baseline": unscored.rate_baseline,
        f"unscored_rate_{name}": unscored.rate_incident,
        "unscored_p_value": unscored.p_value,
        "scorer": scorer.name,
    }
    reasons: list[str] = []
    broken = False
    if over_t is not None and over_t > MODEL_DELTA_SHARE:
        broken = True
        worst = max(
            (v for v in per_version.values() if v["window"] == name),
            key=lambda v: v["share_over_max_delta"] or 0.0,
        )
        reasons.append(
            f"live scores differ from the playbook scorer's re-score by more than {max_delta:g} on "
            f"{over_t:.1%} of sampled {name} rows (worst version {worst['version']}: "
            f"{worst['share_over_max_delta']:.1%}, p95 |delta| {worst['p95_abs_delta']:.3g})"
        )
    elif over_t is not None:
        reasons.append(
            f"re-scores match the live scores: {over_t:.2%} of {int(inc_pick.sum())} sampled {name} "
            f"rows differ by more than {max_delta:g} (versions: "
            + ", ".join(v["version"] for v in per_version.values() if v["window"] == name)
            + ")"
        )
    reasons.append(
        f"re-scored rows off by more than {max_delta:g} per model version, baseline -> {name}: "
        + _by_version_text(per_version, name, rows=True)
    )
    if unscored.flagged:
        broken = True
        reasons.append(f"rows without a score: {'; '.join(unscored.reasons)}")
    else:
        reasons.append(
            f"rows without a score {_pct(unscored.rate_baseline)} -> {_pct(unscored.rate_incident)}"
        )
    if rows.num_rows == 0 or unscored.n_incident < MIN_ROWS:
        verdict = "inconclusive"
        reasons.insert(0, f"{name} window holds too few scored rows to judge")
    else:
        verdict = "broken" if broken else "ok"
    histogram = _score_histogram(live[inc_pick], rescored[inc_pick])
    evidence = pa.table(
        {
            "w": rows.column("w"),
            "prediction_id": rows.column("prediction_id"),
            "ts": rows.column("ts"),
            "version": rows.column("version"),
            "live_score": pa.array(live),
            "rescored": pa.array(rescored, pa.float64()),
            "delta": pa.array(delta, pa.float64()),
        }
    )
    result = InterventionResult(
        edge=(edge.source, edge.target),
        node=edge.target,
        type="model_version",
        verdict=verdict,
        statistics=stats,
        reasons=reasons,
        sql=[sample_sql, *unscored.sql],
        rows={
            "baseline": unscored.n_baseline,
            name: unscored.n_incident,
            "rescored": int(rows.num_rows),
        },
        windows=_windows(ctx, target),
        evidence=[],
        histogram=histogram,
    )
    return Outcome(result, sample_sql, params, evidence_table=evidence)


def _by_version_text(per_version: dict[str, dict[str, Any]], name: str, rows: bool) -> str:
    """Per model version, the share of re-scored rows off by more than max_score_delta in the
    baseline and in the window, as text a person reads: "v1 0.0% -> 12.3%, v2 n/a -> 4.1%"
    (rows: with the number of re-scored rows behind each share)."""
    found = {(v["window"], v["version"]): v for v in per_version.values()}

    def side(window: str, version: str) -> str:
        item = found.get((window, version))
        if item is None or item["share_over_max_delta"] is None:
            return "n/a"
        share = f"{item['share_over_max_delta']:.1%}"
        return f"{share} of {item['rescored']:,}" if rows else share

    versions = sorted({v["version"] for v in per_version.values()})
    return ", ".join(f"{v} {side('baseline', v)} -> {side(name, v)}" for v in versions) or "none"


# -- histograms and small helpers ----------------------------------------------------------


def _numeric_histogram_sql(values_sql: str, bins: int = 20) -> str:
    """Counts per side over equal-width bins between the smallest and largest value."""
    return (
        f"WITH v AS ({values_sql}), r AS (SELECT min(x) AS lo, max(x) AS hi FROM v)\n"
        f"SELECT side, lo, hi, least(CAST(floor((x - lo) / greatest(hi - lo, 1e-300) * {bins}) AS BIGINT), "
        f"{bins - 1}) AS bin, count(*) AS n FROM v, r WHERE x IS NOT NULL GROUP BY ALL"
    )


def _rows_to_numeric_histogram(
    rows: list[dict], sides: tuple[str, str], bins: int = 20
) -> Histogram:
    if not rows:
        return Histogram(edges=[], series={s: [] for s in sides})
    lo, hi = float(rows[0]["lo"]), float(rows[0]["hi"])
    width = (hi - lo) / bins if hi > lo else 1.0
    edges = [lo + i * width for i in range(bins + 1)]
    series = {}
    for side in sides:
        counts = [0.0] * bins
        for r in rows:
            if r["side"] == side:
                counts[int(r["bin"])] += r["n"]
        total = sum(counts)
        series[side] = [c / total if total else 0.0 for c in counts]
    return Histogram(edges=edges, series=series)


def _category_histogram(rows: list[dict], sides: tuple[str, str], keep: int = 20) -> Histogram:
    totals: dict[str, float] = {}
    for r in rows:
        totals[str(r["value"])] = totals.get(str(r["value"]), 0.0) + r["n"]
    labels = sorted(totals, key=lambda k: -totals[k])[:keep]
    series = {}
    for side in sides:
        counts = {str(r["value"]): r["n"] for r in rows if r["side"] == side}
        total = sum(counts.values())
        series[side] = [counts.get(label, 0) / total if total else 0.0 for label in labels]
    return Histogram(edges=labels, series=series)


def _numeric_shift_histogram(shift, name: str) -> Histogram:
    """NumericShift's baseline-quantile bins; the two outer edges are drawn one neighbouring
    bin width beyond the outermost interior edge (the bins themselves are open-ended)."""
    inner = list(shift.edges)
    if not inner:
        return Histogram(edges=[], series={"baseline": [], name: []})
    step = inner[1] - inner[0] if len(inner) > 1 else max(abs(inner[0]), 1.0)
    last = inner[-1] - inner[-2] if len(inner) > 1 else step
    edges = [inner[0] - step, *inner, inner[-1] + last]
    return Histogram(
        edges=edges,
        series={"baseline": list(shift.bin_shares_baseline), name: list(shift.bin_shares_incident)},
    )


def _score_histogram(live: np.ndarray, rescored: np.ndarray, bins: int = 20) -> Histogram:
    both = np.concatenate([live, rescored])
    both = both[np.isfinite(both)]
    if both.size == 0:
        return Histogram(edges=[], series={"live": [], "rescored": []})
    lo, hi = float(both.min()), float(both.max())
    hi = hi if hi > lo else lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    series = {}
    for label, values in (("live", live), ("rescored", rescored)):
        counts, _ = np.histogram(values[np.isfinite(values)], bins=edges)
        total = counts.sum()
        series[label] = [float(c / total) if total else 0.0 for c in counts]
    return Histogram(edges=[float(e) for e in edges], series=series)


def _shares_of(histogram: Any, size: int) -> list[float]:
    counts = [0.0] * size
    for key, value in dict(histogram or {}).items():
        counts[int(key)] += value
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


def _stats_dict(stat, name: str) -> dict[str, Any]:
    data = stat.to_dict()
    data.pop("sql", None)
    if name != "incident":
        data = {k.replace("incident", name): v for k, v in data.items()}
    return data


def _count(sides: dict, side: str, key: str) -> int:
    value = sides.get(side, {}).get(key)
    return int(value) if value is not None else 0


def _pct(value: float | None) -> str:
    return (
        "n/a"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{value:.2%}"
    )
