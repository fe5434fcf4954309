"""The same investigation on Spark local mode and on DuckDB (issue 18, docs/spark.md).

spark_auto times `investigate --auto` (run_auto, the path engine_auto times) on the
large game-day store with `[telemetry] engine = "spark"`; its reference (--compare) is the same
run_auto on DuckDB over the same Parquet, so the line carries both times and their ratio
(Spark / DuckDB). Setup generates the store if needed and opens both investigations: the JVM
start (seconds, once per process) and the Parquet binding are outside both timers, so the
ratio is the queries' cost alone. The Spark session is the product's own (spark_store's
local[*] settings), not one tuned for the benchmark.

After the reference, one more line says whether the two runs agree on the summary's verdicts
(triage verdict, root cause): a figure from a Spark run that answered differently would mean
nothing.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import Bench, Reference


@dataclass
class Opened:
    scenario: Path
    spark: Any  # the open Investigation on Spark
    duckdb: Any  # the open Investigation on DuckDB, same store
    rows: int  # decision rows the store holds
    summaries: dict[str, Any] = field(default_factory=dict)


def _setup(ctx) -> Opened:
    from console.engine.investigation import Investigation

    scenario = ctx.large_store()
    work = Path(ctx.work)
    ctx.setup("spark playbook")
    playbook = (scenario / "playbook.toml").read_text()
    playbook, n = re.subn(r"(?m)^\[telemetry\]$", '[telemetry]\nengine = "spark"', playbook)
    assert n == 1, "the game-day playbook has one [telemetry] table"
    spark_playbook = work / "playbook-spark.toml"
    spark_playbook.write_text(playbook)
    opened = {}
    for engine, path in (("spark", spark_playbook), ("duckdb", scenario / "playbook.toml")):
        incident = work / f"incident-{engine}"
        shutil.rmtree(incident, ignore_errors=True)
        ctx.setup(f"open investigation on {engine}")
        opened[engine] = Investigation.open(path, scenario, incident, actor="bench")
    table = opened["duckdb"].store.query("SELECT count(*) AS n FROM decisions")
    # One query on Spark before the timer: the first query of a process loads Spark's code
    # generation and Parquet reader classes (about a second), a cost of starting the JVM.
    opened["spark"].store.query("SELECT count(*) AS n FROM decisions")
    return Opened(scenario, opened["spark"], opened["duckdb"], int(table.column("n")[0].as_py()))


def _spark_auto(state: Opened) -> int:
    from console.engine.auto import run_auto

    state.summaries["spark"] = run_auto(state.spark)
    return state.rows


def _duckdb_auto(state: Opened) -> None:
    from console.engine.auto import run_auto

    state.summaries["duckdb"] = run_auto(state.duckdb)
    spark, duckdb = state.summaries["spark"], state.summaries["duckdb"]
    same = {key: spark.get(key) == duckdb.get(key) for key in ("triage", "root_cause")}
    print(json.dumps({"name": "spark_auto_agrees", **same}), flush=True)
    state.spark.close()
    state.duckdb.close()


BENCHMARKS = [
    Bench(
        "spark_auto",
        _setup,
        _spark_auto,
        Reference("duckdb_engine_auto_same_store", _duckdb_auto),
    ),
]
