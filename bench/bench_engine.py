"""Engine benchmarks on the large game-day store (bench/run.py runs them).

Each benchmark opens an Investigation on the 10-million-row fraud-friday-noon store (alert from
its scenario.toml) in a fresh incident folder and times one step; engine_auto runs every step
and prints one extra JSON line per step with its own time.

- engine_triage: the triage queries (recomputed series in one scan, reported series, checks)
  and the one-pass screening used to classify.
- engine_locate: the screening pass over every node (one DuckDB scan) and the ranking.
- engine_intervene_null_rate / _shadow_recompute / _distribution_shift / _model_version: one
  planned intervention each, with its evidence snapshot.
- engine_counterfactual: re-scoring the incident window with the corrected value.
- engine_auto: `investigate --auto` end to end (triage, locate, interventions, counterfactual,
  explain, validate, report).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path


def _open(ctx, name: str):
    from console.engine.investigation import Investigation

    scenario = ctx.large_store()
    incident = Path(ctx.work) / f"incident-{name}"
    shutil.rmtree(incident, ignore_errors=True)
    return Investigation.open(scenario / "playbook.toml", scenario, incident, actor="bench")


def _rows(inv) -> int:
    sides = inv.windows["baseline"], inv.windows["incident"]
    table = inv.store.query(
        "SELECT count(*) AS n FROM decisions WHERE (ts >= $a AND ts < $b) OR (ts >= $c AND ts < $d)",
        {"a": sides[0].start, "b": sides[0].end, "c": sides[1].start, "d": sides[1].end},
    )
    return int(table.column("n")[0].as_py())


def triage(ctx) -> int:
    with _open(ctx, "triage") as inv:
        inv.triage()
        return _rows(inv)


def locate(ctx) -> int:
    with _open(ctx, "locate") as inv:
        inv.locate()
        return _rows(inv)


def _intervene(ctx, edge: tuple[str, str]) -> int:
    with _open(ctx, f"{edge[0]}-{edge[1]}") as inv:
        result = inv.intervene(edge)
        return sum(v for k, v in result.rows.items() if k != "rescored")


def intervene_null_rate(ctx) -> int:
    return _intervene(ctx, ("raw_card_age_days", "f_card_age"))


def intervene_shadow_recompute(ctx) -> int:
    return _intervene(ctx, ("raw_amount", "f_log_amount"))


def intervene_distribution_shift(ctx) -> int:
    return _intervene(ctx, ("raw_ip_country", "f_geo_mismatch"))


def intervene_model_version(ctx) -> int:
    return _intervene(ctx, ("model_server", "fraud_model"))


def counterfactual(ctx) -> int:
    edge = ("raw_card_age_days", "f_card_age")
    with _open(ctx, "counterfactual") as inv:
        inv.mark_edge(edge, "broken")
        return inv.counterfactual(edge).total


def auto(ctx) -> int:
    from console.engine import auto as auto_module

    with _open(ctx, "auto") as inv:
        timings: list[tuple[str, float]] = []
        original = inv.record

        # Time each step from the previous trail entry to this one (records end every step).
        last = [time.perf_counter()]

        def timed(step, action, *args, **kwargs):
            entry = original(step, action, *args, **kwargs)
            now = time.perf_counter()
            timings.append((f"{step}/{action}", now - last[0]))
            last[0] = now
            return entry

        inv.record = timed
        auto_module.run_auto(inv)
        for name, seconds in timings:
            print(
                json.dumps({"name": "engine_auto_step", "step": name, "seconds": round(seconds, 4)})
            )
        return _rows(inv)


BENCHMARKS = [
    ("engine_triage", triage),
    ("engine_locate", locate),
    ("engine_intervene_null_rate", intervene_null_rate),
    ("engine_intervene_shadow_recompute", intervene_shadow_recompute),
    ("engine_intervene_distribution_shift", intervene_distribution_shift),
    ("engine_intervene_model_version", intervene_model_version),
    ("engine_counterfactual", counterfactual),
    ("engine_auto", auto),
]
