"""Game-day generation at scale: a whole scenario folder of ctx.rows decision rows.

    python bench/run.py --only gameday --rows 10000000 --compare

Each benchmark writes a fresh store into its scratch folder (the shared large store of
bench/run.py is reused by the other areas' benchmarks, so it is not the one timed here); the
old one is removed in setup. The reference (--compare) copies the generated folder: writing
the same bytes, the floor of any generator.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from harness import Bench, Reference

from console.gameday.generate import generate_scenario


@dataclass
class Generating:
    out: Path
    rows: int


def _setup(scenario: str):
    def setup(ctx) -> Generating:
        ctx.setup("clear scratch folder")
        out = ctx.work / scenario
        shutil.rmtree(out, ignore_errors=True)
        return Generating(out, ctx.rows)

    return setup


def _generate(scenario: str):
    def timed(state: Generating) -> int:
        generate_scenario(scenario, state.out, rows=state.rows, seed=7)
        return state.rows

    return timed


def _copy(state: Generating) -> None:
    copy = state.out.with_name(state.out.name + "-copy")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(state.out, copy)
    shutil.rmtree(copy)


COPY = Reference("copy_generated_folder", _copy)

BENCHMARKS = [
    Bench(
        "gameday_generate_fraud", _setup("fraud-friday-noon"), _generate("fraud-friday-noon"), COPY
    ),
    Bench(
        "gameday_generate_recs",
        _setup("recs-weekday-afternoon"),
        _generate("recs-weekday-afternoon"),
        COPY,
    ),
]
