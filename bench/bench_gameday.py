"""Game-day generation at scale: a whole scenario folder of ctx.rows decision rows.

    python bench/run.py --only gameday --rows 10000000

Each benchmark writes a fresh store into its scratch folder (the shared large store of
bench/run.py is reused by the other areas' benchmarks, so it is not the one timed here).
"""

from __future__ import annotations

from console.gameday.generate import generate_scenario


def _generate(scenario: str):
    def run(ctx) -> int:
        out = generate_scenario(scenario, ctx.work / scenario, rows=ctx.rows, seed=7)
        size = sum(f.stat().st_size for f in out.iterdir())
        print(f"  {scenario}: {ctx.rows:,} rows, {size / 2**20:.0f} MiB on disk", flush=True)
        return ctx.rows

    return run


BENCHMARKS = [
    ("gameday_generate_fraud", _generate("fraud-friday-noon")),
    ("gameday_generate_recs", _generate("recs-weekday-afternoon")),
]
