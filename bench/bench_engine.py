"""Engine benchmarks on the large game-day store (bench/run.py runs them).

Each benchmark's setup generates the 10-million-row fraud-friday-noon store if needed, reads
its decisions file once (the reference then finds it in the page cache as the step did), opens
an Investigation on it (alert from its scenario.toml) in a fresh incident folder and counts
the rows the store holds; only the step is timed, and rows/s counts the store's rows.
engine_auto runs every step and prints one extra JSON line per step with its own time.
The reference (--compare) is one DuckDB scan computing count and avg(score) by hour over the
same Parquet. All of it runs in the benchmark's process, so each line carries its CPU time too.

- engine_triage: the triage queries (recomputed series in one scan, reported series, checks)
  and the one-pass screening used to classify.
- engine_locate: the screening pass over every node (one DuckDB scan) and the ranking.
- engine_intervene_null_rate / _shadow_recompute / _distribution_shift / _model_version: one
  planned intervention each, with its evidence snapshot.
- engine_counterfactual: re-scoring the incident window with the corrected value (the edge is
  marked broken in setup).
- engine_auto: `investigate --auto` end to end (triage, locate, interventions, counterfactual,
  explain, validate, report).
- engine_auto_queries: the queries `investigate --auto` ran, run again one after another on the
  same open store (recorded in setup by running --auto once): what --auto costs in DuckDB
  alone, with no Python, figure or trail work - the floor under engine_auto's figure.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import Bench
from references import SCAN


@dataclass
class Opened:
    scenario: Path
    inv: Any  # the open Investigation
    rows: int  # decision rows the store holds


def _setup(name: str, edge: tuple[str, str] | None = None):
    def setup(ctx) -> Opened:
        from console.engine.investigation import Investigation

        scenario = ctx.large_store()
        # The reference scan runs right after the timed region, on a file the step has just
        # read into the page cache: read it once here so that both run warm (a cold first
        # read made --auto at 10M rows 6.7 s against 2.9 s warm, the ratio 6.3 against 3.8).
        ctx.setup("page cache")
        with open(scenario / "decisions.parquet", "rb") as f:
            while f.read(1 << 24):
                pass
        incident = Path(ctx.work) / f"incident-{name}"
        shutil.rmtree(incident, ignore_errors=True)
        ctx.setup("open investigation")
        inv = Investigation.open(scenario / "playbook.toml", scenario, incident, actor="bench")
        table = inv.store.query("SELECT count(*) AS n FROM decisions")
        if edge is not None:
            inv.mark_edge(edge, "broken")
        return Opened(scenario, inv, int(table.column("n")[0].as_py()))

    return setup


def _step(call):
    def timed(state: Opened) -> int:
        call(state.inv)
        return state.rows

    return timed


def _auto(state: Opened) -> int:
    from console.engine import auto as auto_module

    inv = state.inv
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
        print(json.dumps({"name": "engine_auto_step", "step": name, "seconds": round(seconds, 4)}))
    return state.rows


@dataclass
class Recorded:
    opened: Opened
    queries: list[tuple[str, Any, Any]]  # (sql, params, extra arrow tables) in the order run

    @property
    def scenario(self) -> Path:  # what the reference scans
        return self.opened.scenario


def _auto_queries_setup(ctx) -> Recorded:
    from console.engine import auto as auto_module

    opened = _setup("auto-queries")(ctx)
    ctx.setup("record the queries of investigate --auto")
    store = opened.inv.store
    queries: list[tuple[str, Any, Any]] = []
    original = store.query

    def recording(sql, params=None, *, arrow=None):
        queries.append((sql, params, arrow))
        return original(sql, params, arrow=arrow)

    store.query = recording
    try:
        auto_module.run_auto(opened.inv)
    finally:
        store.query = original
    return Recorded(opened, queries)


def _replay(state: Recorded) -> int:
    for sql, params, arrow in state.queries:
        state.opened.inv.store.query(sql, params, arrow=arrow)
    return state.opened.rows


EDGE = ("raw_card_age_days", "f_card_age")


def _intervene(name: str, edge: tuple[str, str]) -> Bench:
    return Bench(name, _setup(name), _step(lambda inv: inv.intervene(edge)), SCAN, cpu=True)


BENCHMARKS = [
    Bench("engine_triage", _setup("triage"), _step(lambda inv: inv.triage()), SCAN, cpu=True),
    Bench("engine_locate", _setup("locate"), _step(lambda inv: inv.locate()), SCAN, cpu=True),
    _intervene("engine_intervene_null_rate", EDGE),
    _intervene("engine_intervene_shadow_recompute", ("raw_amount", "f_log_amount")),
    _intervene("engine_intervene_distribution_shift", ("raw_ip_country", "f_geo_mismatch")),
    _intervene("engine_intervene_model_version", ("model_server", "fraud_model")),
    Bench(
        "engine_counterfactual",
        _setup("counterfactual", EDGE),
        _step(lambda inv: inv.counterfactual(EDGE)),
        SCAN,
        cpu=True,
    ),
    Bench("engine_auto", _setup("auto"), _auto, SCAN, cpu=True),
    Bench("engine_auto_queries", _auto_queries_setup, _replay, SCAN, cpu=True),
]
