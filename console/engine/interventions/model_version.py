"""model_version (measures the target model): re-score a deterministic sample of rows (up to
SAMPLE_ROWS per window, chosen by hash of prediction_id) with the playbook scorer and compare
with the live scores per model version; broken when more than 1% of the window's scored rows
differ by more than max_score_delta, or when rows without a score rise (null_rate_change on
the score, at least half a percentage point, p < alpha)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from console.engine.context import IN_BASELINE, IN_INCIDENT, SIDE_CASE, Context
from console.engine.corrections import Correction, rescore
from console.engine.dialect import hash64
from console.engine.interventions.base import (
    MIN_ROWS,
    SAMPLE_ROWS,
    InterventionKind,
    Outcome,
    feature_select,
    sample_sql,
    score_histogram,
    scorer_of,
    windows,
)
from console.engine.results import InterventionResult, Verdict, Window
from console.engine.stats import NullRateChange, null_rate_change
from console.numbers import share
from console.playbook.model import Edge
from console.telemetry.store import duckdb_identifier

MODEL_DELTA_SHARE = 0.01  # share of re-scored rows allowed beyond max_score_delta
UNSCORED_INCREASE = 0.005


class ModelVersion(InterventionKind):
    name = "model_version"
    measures = "target"
    locate_rank = 4

    def root_node(self, ctx: Context, edge: Edge) -> str:
        """Rows unscored or mis-scored behind a serving node (a model-kind source that is not
        a scorer input) blame the serving node."""
        if ctx.node(edge.source).kind == "model":
            return edge.source
        return self.tested_node(edge)

    def run(self, ctx: Context, edge: Edge, target: Window, params: dict[str, Any]) -> Outcome:
        name = target.name
        m = _measure(ctx, params, float(self.param(edge, "max_score_delta")), name)
        verdict = decide(m.share_over, m.unscored.flagged, m.rows.num_rows, m.unscored.n_incident)
        result = InterventionResult(
            edge=(edge.source, edge.target),
            node=edge.target,
            type=self.name,
            verdict=verdict,
            statistics=_statistics(m, name),
            reasons=_reasons(m, name, verdict),
            sql=[m.sql, *m.unscored.sql],
            rows={
                "baseline": m.unscored.n_baseline,
                name: m.unscored.n_incident,
                "rescored": int(m.rows.num_rows),
            },
            windows=windows(ctx, target),
            evidence=[],
            histogram=score_histogram(m.live[m.incident], m.rescored[m.incident]),
        )
        return Outcome(result, m.sql, params, evidence_table=_evidence(m))

    def correction(self, ctx: Context, edge: Edge, features: list[str]) -> Correction:
        """The playbook scorer's re-score: rows the live model failed to score (or scored
        with another model) get the playbook model's score."""
        return rescore()

    def action_item(self, a: str, b: str) -> str:
        return f"Alert on rows without a score and on re-score mismatches of {b}"


@dataclass(frozen=True)
class Rescore:
    """What model_version measured: a sample of scored rows re-scored by the playbook scorer,
    per model version, and the rows without a score."""

    sql: str
    rows: pa.Table
    live: np.ndarray
    rescored: np.ndarray
    delta: np.ndarray  # rescored - live
    incident: np.ndarray  # the rows of the window under test
    max_delta: float
    share_over: float | None  # share of the window's rows off by more than max_delta
    per_version: dict[str, dict[str, Any]]
    unscored: NullRateChange
    scorer: str


def decide(share_over: float | None, unscored_rise: bool, rescored: int, scored: int) -> Verdict:
    """inconclusive without re-scored rows or with under MIN_ROWS scored rows in the window;
    broken when over MODEL_DELTA_SHARE of the re-scored rows are off, or rows without a score
    rose; else ok."""
    if rescored == 0 or scored < MIN_ROWS:
        return "inconclusive"
    if (share_over is not None and share_over > MODEL_DELTA_SHARE) or unscored_rise:
        return "broken"
    return "ok"


def _measure(ctx: Context, params: dict[str, Any], max_delta: float, name: str) -> Rescore:
    scorer = scorer_of(ctx)
    features = scorer.features
    sql = _sample_rows_sql(ctx, features)
    rows = ctx.run(sql, params)
    rescored = scorer.score(rows.select(features)) if rows.num_rows else np.zeros(0)
    live = rows.column("score").to_numpy(zero_copy_only=False).astype(np.float64)
    delta = rescored - live
    sides = np.array(rows.column("w").to_pylist(), dtype=object)
    versions = np.array(rows.column("version").to_pylist(), dtype=object)
    unscored = null_rate_change(
        ctx.run, sample_sql("score"), params, kind="numeric", max_increase=UNSCORED_INCREASE
    )
    incident = sides == "incident"
    over = float((np.abs(delta[incident]) > max_delta).mean()) if incident.any() else None
    return Rescore(
        sql=sql,
        rows=rows,
        live=live,
        rescored=rescored,
        delta=delta,
        incident=incident,
        max_delta=max_delta,
        share_over=over,
        per_version=_per_version(sides, versions, delta, max_delta, name),
        unscored=unscored,
        scorer=scorer.name,
    )


def _statistics(m: Rescore, name: str) -> dict[str, Any]:
    return {
        "max_score_delta": m.max_delta,
        "sampled_rows": int(m.rows.num_rows),
        f"share_over_max_delta_{name}": m.share_over,
        "by_version": _by_version_text(m.per_version, name, rows=False),
        "unscored_rate_baseline": m.unscored.rate_baseline,
        f"unscored_rate_{name}": m.unscored.rate_incident,
        "unscored_p_value": m.unscored.p_value,
        "scorer": m.scorer,
    }


def _reasons(m: Rescore, name: str, verdict: Verdict) -> list[str]:
    reasons = (
        [] if verdict != "inconclusive" else [f"{name} window holds too few scored rows to judge"]
    )
    if m.share_over is not None and m.share_over > MODEL_DELTA_SHARE:
        worst = max(
            (v for v in m.per_version.values() if v["window"] == name),
            key=lambda v: v["share_over_max_delta"] or 0.0,
        )
        reasons.append(
            f"live scores differ from the playbook scorer's re-score by more than "
            f"{m.max_delta:g} on {m.share_over:.1%} of sampled {name} rows (worst version "
            f"{worst['version']}: {worst['share_over_max_delta']:.1%}, p95 |delta| "
            f"{worst['p95_abs_delta']:.3g})"
        )
    elif m.share_over is not None:
        reasons.append(
            f"re-scores match the live scores: {m.share_over:.2%} of {int(m.incident.sum())} "
            f"sampled {name} rows differ by more than {m.max_delta:g} (versions: "
            + ", ".join(v["version"] for v in m.per_version.values() if v["window"] == name)
            + ")"
        )
    reasons.append(
        f"re-scored rows off by more than {m.max_delta:g} per model version, baseline -> "
        f"{name}: " + _by_version_text(m.per_version, name, rows=True)
    )
    if m.unscored.flagged:
        reasons.append(f"rows without a score: {'; '.join(m.unscored.reasons)}")
    else:
        reasons.append(
            f"rows without a score {share(m.unscored.rate_baseline)} -> "
            f"{share(m.unscored.rate_incident)}"
        )
    return reasons


def _evidence(m: Rescore) -> pa.Table:
    return pa.table(
        {
            "w": m.rows.column("w"),
            "prediction_id": m.rows.column("prediction_id"),
            "ts": m.rows.column("ts"),
            "version": m.rows.column("version"),
            "live_score": pa.array(m.live),
            "rescored": pa.array(m.rescored, pa.float64()),
            "delta": pa.array(m.delta, pa.float64()),
        }
    )


def _sample_rows_sql(ctx: Context, features: list[str]) -> str:
    version = duckdb_identifier(ctx.playbook.model.version_column)
    side = (
        f"SELECT {SIDE_CASE} AS w, prediction_id, ts, CAST({version} AS VARCHAR) AS version, "
        f"score, {feature_select(ctx, features)} FROM decisions "
    )
    return (
        f"({side}WHERE {IN_BASELINE} AND score IS NOT NULL "
        f"ORDER BY {hash64('prediction_id')} LIMIT {SAMPLE_ROWS}) UNION ALL "
        f"({side}WHERE {IN_INCIDENT} AND score IS NOT NULL "
        f"ORDER BY {hash64('prediction_id')} LIMIT {SAMPLE_ROWS})"
    )


def _per_version(
    sides: np.ndarray, versions: np.ndarray, delta: np.ndarray, max_delta: float, name: str
) -> dict[str, dict[str, Any]]:
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
    return per_version


def _by_version_text(per_version: dict[str, dict[str, Any]], name: str, rows: bool) -> str:
    """Per model version, the share of re-scored rows off by more than max_score_delta in the
    baseline and in the window, as text a person reads: "v1 0.0% -> 12.3%, v2 n/a -> 4.1%"
    (rows: with the number of re-scored rows behind each share)."""
    found = {(v["window"], v["version"]): v for v in per_version.values()}

    def side(window: str, version: str) -> str:
        item = found.get((window, version))
        if item is None or item["share_over_max_delta"] is None:
            return "n/a"
        shown = f"{item['share_over_max_delta']:.1%}"
        return f"{shown} of {item['rescored']:,}" if rows else shown

    versions = sorted({v["version"] for v in per_version.values()})
    return ", ".join(f"{v} {side('baseline', v)} -> {side(name, v)}" for v in versions) or "none"


KIND = ModelVersion()
