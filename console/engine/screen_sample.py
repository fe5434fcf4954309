"""The rows the one-pass screening reads, shared by the screening, the intervention registry and
the counterfactual (kept apart from console.engine.screening, which reads the registry)."""

from __future__ import annotations

import math

from console.engine.context import IN_BASELINE, Context, baseline_params
from console.telemetry.store import duckdb_identifier

# A screening is an effect size, not a test: half a million baseline rows measure a mean or a
# share to the third decimal, and keep the pass over a week of a busy model to about a second.
SCREEN_BASELINE_ROWS = 500_000


def baseline_stride(ctx: Context) -> int:
    """k such that one baseline row in k (at most SCREEN_BASELINE_ROWS) is screened, counting
    the rows the screening reads: the baseline's at the incident's hours of the day."""
    if "baseline_stride" not in ctx.cache:
        rows = (
            ctx.run(
                f"SELECT count(*) AS n FROM decisions WHERE {IN_BASELINE}",
                baseline_params(ctx.baseline, ctx.incident),
            )
            .column("n")[0]
            .as_py()
        )
        ctx.cache["baseline_stride"] = max(1, math.ceil(int(rows) / SCREEN_BASELINE_ROWS))
    stride: int = ctx.cache["baseline_stride"]
    return stride


def value_columns(node_id: str) -> tuple[str, str]:
    """Columns of the screening subquery holding a derived feature's served and reference
    values (each computed once per row, however often the mismatch test reads them)."""
    return duckdb_identifier(f"served:{node_id}"), duckdb_identifier(f"reference:{node_id}")
