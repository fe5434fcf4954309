"""The rows the one-pass screening reads, shared by the screening, the intervention registry and
the counterfactual (kept apart from console.engine.screening, which reads the registry).

Beyond SCREEN_BASELINE_ROWS baseline rows the screening reads a deterministic 1 in k of them
(k: baseline_stride). Whole hours are sampled when the baseline holds enough of them
(baseline_sample): the 1/k of the hours whose starts have the smallest defined hash (time_hash,
the same number on DuckDB and Spark, computed here), so each hour, and each row with it, is kept
with chance 1/k whatever it holds - an unbiased sample, like the per-row one, but one the query
reads as time ranges: no hash per row, and Parquet row groups outside every kept hour are
skipped. Few hours (a short baseline) would make the sample lumpy - the whole answer riding on
which three hours were drawn - so below MIN_SAMPLED_HOURS kept hours on average each row is
drawn on its own (the hash of its ts modulo k).
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta
from typing import Any

from console.engine.context import IN_BASELINE, Context, baseline_params, same_hours_span
from console.engine.dialect import HASH_HEX_DIGITS, time_hash
from console.telemetry.store import duckdb_identifier

# A screening is an effect size, not a test: half a million baseline rows measure a mean or a
# share to the third decimal, and keep the pass over a week of a busy model to about a second.
SCREEN_BASELINE_ROWS = 500_000
# Whole hours are sampled when at least this many are kept on average (else single rows).
MIN_SAMPLED_HOURS = 8
HOUR = timedelta(hours=1)


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


def baseline_sample(ctx: Context) -> tuple[str, dict[str, Any]]:
    """SQL to AND onto IN_BASELINE that keeps the screening's 1-in-k sample of the baseline
    ("" when every row is read), with the parameters it reads: whole hours as time ranges
    when enough are kept, else a hash of each row's ts."""
    stride = baseline_stride(ctx)
    if stride == 1:
        return "", {}
    hours = baseline_hours(ctx)
    if len(hours) < MIN_SAMPLED_HOURS * stride:
        return f" AND {time_hash('ts')} % {stride} = 0", {}
    # The 1/k of the hours with the smallest hashes: a simple random sample of the hours
    # (the hash orders them at random), of a fixed size rather than one that varies by chance.
    kept = sorted(sorted(hours, key=hour_hash)[: math.ceil(len(hours) / stride)])
    ranges = _ranges(kept)
    params: dict[str, Any] = {}
    terms = []
    for i, (start, end) in enumerate(ranges):
        params[f"sample_from_{i}"], params[f"sample_to_{i}"] = start, end
        terms.append(f"(ts >= $sample_from_{i} AND ts < $sample_to_{i})")
    return f" AND ({' OR '.join(terms)})", params


def baseline_hours(ctx: Context) -> list[datetime]:
    """The start of every whole hour holding rows of IN_BASELINE: in the baseline window and
    at the incident's hours of the day (SAME_HOURS), or overlapping them."""
    base, incident = ctx.baseline, ctx.incident
    span = same_hours_span(base, incident)
    start = base.start.replace(minute=0, second=0, microsecond=0)
    hours = []
    while start < base.end:
        offset = (start - incident.start).total_seconds() % 86400
        # The hour [start, start + 1h) meets [0, span) of the day's offsets from the incident
        # start, possibly by wrapping into the next day.
        if offset < span or offset + HOUR.total_seconds() > 86400:
            hours.append(start)
        start += HOUR
    return hours


def hour_hash(hour: datetime) -> int:
    """time_hash of a timestamp, computed here: md5 of its epoch microseconds as text, the
    first HASH_HEX_DIGITS hex digits as an integer (what both engines compute in SQL)."""
    epoch_us = round(hour.timestamp() * 1_000_000)
    return int(hashlib.md5(str(epoch_us).encode()).hexdigest()[:HASH_HEX_DIGITS], 16)


def _ranges(hours: list[datetime]) -> list[tuple[datetime, datetime]]:
    """Consecutive hours merged into [start, end) ranges."""
    ranges: list[tuple[datetime, datetime]] = []
    for hour in hours:
        if ranges and ranges[-1][1] == hour:
            ranges[-1] = (ranges[-1][0], hour + HOUR)
        else:
            ranges.append((hour, hour + HOUR))
    return ranges


def value_columns(node_id: str) -> tuple[str, str]:
    """Columns of the screening subquery holding a derived feature's served and reference
    values (each computed once per row, however often the mismatch test reads them)."""
    return duckdb_identifier(f"served:{node_id}"), duckdb_identifier(f"reference:{node_id}")
