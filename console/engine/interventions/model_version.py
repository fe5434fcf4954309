"""model_version (measures the target model): re-score a deterministic sample of rows (up to
SAMPLE_ROWS per window, chosen by hash of prediction_id) with the playbook scorer and compare
with the live scores per model version; broken when more than 1% of the window's scored rows
differ by more than max_score_delta, or when rows without a score rise (null_rate_change on
the score, at least half a percentage point, p < alpha)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from console.engine.context import SIDE_CASE, Context
from console.engine.corrections import Correction, rescore
from console.engine.interventions.base import (
    MIN_ROWS,
    SAMPLE_ROWS,
    InterventionKind,
    Outcome,
    feature_select,
    pct,
    sample_sql,
    score_histogram,
    scorer_of,
    windows,
)
from console.engine.results import InterventionResult, Verdict, Window
from console.engine.stats import null_rate_change
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
        max_delta = float(self.param(edge, "max_score_delta"))
        name = target.name
        scorer = scorer_of(ctx)
        features = scorer.features
        rows_sql = _sample_rows_sql(ctx, features)
        rows = ctx.run(rows_sql, params)
        rescored = scorer.score(rows.select(features)) if rows.num_rows else np.zeros(0)
        live = rows.column("score").to_numpy(zero_copy_only=False).astype(np.float64)
        delta = rescored - live
        sides = np.array(rows.column("w").to_pylist(), dtype=object)
        versions = np.array(rows.column("version").to_pylist(), dtype=object)
        per_version = _per_version(sides, versions, delta, max_delta, name)
        unscored = null_rate_change(
            ctx.run, sample_sql("score"), params, kind="numeric", max_increase=UNSCORED_INCREASE
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
                f"live scores differ from the playbook scorer's re-score by more than "
                f"{max_delta:g} on {over_t:.1%} of sampled {name} rows (worst version "
                f"{worst['version']}: {worst['share_over_max_delta']:.1%}, p95 |delta| "
                f"{worst['p95_abs_delta']:.3g})"
            )
        elif over_t is not None:
            reasons.append(
                f"re-scores match the live scores: {over_t:.2%} of {int(inc_pick.sum())} sampled "
                f"{name} rows differ by more than {max_delta:g} (versions: "
                + ", ".join(v["version"] for v in per_version.values() if v["window"] == name)
                + ")"
            )
        reasons.append(
            f"re-scored rows off by more than {max_delta:g} per model version, baseline -> "
            f"{name}: " + _by_version_text(per_version, name, rows=True)
        )
        if unscored.flagged:
            broken = True
            reasons.append(f"rows without a score: {'; '.join(unscored.reasons)}")
        else:
            reasons.append(
                f"rows without a score {pct(unscored.rate_baseline)} -> "
                f"{pct(unscored.rate_incident)}"
            )
        verdict: Verdict
        if rows.num_rows == 0 or unscored.n_incident < MIN_ROWS:
            verdict = "inconclusive"
            reasons.insert(0, f"{name} window holds too few scored rows to judge")
        else:
            verdict = "broken" if broken else "ok"
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
            type=self.name,
            verdict=verdict,
            statistics=stats,
            reasons=reasons,
            sql=[rows_sql, *unscored.sql],
            rows={
                "baseline": unscored.n_baseline,
                name: unscored.n_incident,
                "rescored": int(rows.num_rows),
            },
            windows=windows(ctx, target),
            evidence=[],
            histogram=score_histogram(live[inc_pick], rescored[inc_pick]),
        )
        return Outcome(result, rows_sql, params, evidence_table=evidence)

    def correction(self, ctx: Context, edge: Edge, features: list[str]) -> Correction:
        """The playbook scorer's re-score: rows the live model failed to score (or scored
        with another model) get the playbook model's score."""
        return rescore()

    def action_item(self, a: str, b: str) -> str:
        return f"Alert on rows without a score and on re-score mismatches of {b}"


def _sample_rows_sql(ctx: Context, features: list[str]) -> str:
    version = duckdb_identifier(ctx.playbook.model.version_column)
    side = (
        f"SELECT {SIDE_CASE} AS w, prediction_id, ts, CAST({version} AS VARCHAR) AS version, "
        f"score, {feature_select(ctx, features)} FROM decisions "
    )
    return (
        f"({side}WHERE ts >= $b_start AND ts < $b_end AND score IS NOT NULL "
        f"ORDER BY hash(prediction_id) LIMIT {SAMPLE_ROWS}) UNION ALL "
        f"({side}WHERE ts >= $i_start AND ts < $i_end AND score IS NOT NULL "
        f"ORDER BY hash(prediction_id) LIMIT {SAMPLE_ROWS})"
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
        share = f"{item['share_over_max_delta']:.1%}"
        return f"{share} of {item['rescored']:,}" if rows else share

    versions = sorted({v["version"] for v in per_version.values()})
    return ", ".join(f"{v} {side('baseline', v)} -> {side(name, v)}" for v in versions) or "none"


KIND = ModelVersion()
