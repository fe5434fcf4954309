"""The rows the one-pass screening reads, shared by the screening, the intervention registry and
the counterfactual (kept apart from console.engine.screening, which reads the registry).

Beyond SCREEN_BASELINE_ROWS baseline rows the screening reads a deterministic 1 in k of them
(k: baseline_stride). Whole time slices are sampled when the baseline holds enough of them
(baseline_sample): the 1/k of the slices whose starts have the smallest defined hash
(time_hash, the same number on DuckDB and Spark, computed here), so each slice, and each row
with it, is kept with chance 1/k whatever it holds - an unbiased sample, like the per-row one,
but one the query reads as time ranges: no hash per row (at 100M rows the per-row md5 made the
screening 5x slower), and Parquet row groups outside every kept slice are skipped. The slices
are the longest of SLICES (an hour, ten minutes, a minute, ten seconds, a second) of which at
least MIN_SAMPLED_SLICES are kept on average: few slices would make the sample lumpy - the
whole answer riding on which three hours were drawn - and fewer, longer ranges are cheaper to
read. Only a baseline too short even for one-second slices is drawn row by row (the hash of
each row's ts modulo k).
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta
from typing import Any

from console.engine.baseline_summary import baseline_summary
from console.engine.context import Context, same_hours_span
from console.engine.dialect import HASH_HEX_DIGITS, time_hash
from console.telemetry.store import duckdb_identifier

# A screening is an effect size, not a test: half a million baseline rows measure a mean or a
# share to the third decimal, and keep the pass over a week of a busy model to about a second.
SCREEN_BASELINE_ROWS = 500_000
# Whole slices are sampled when at least this many are kept on average (else a shorter slice).
MIN_SAMPLED_SLICES = 8
# The slice lengths tried, longest first; each divides a day, so slices align on the clock.
SLICES = tuple(timedelta(seconds=s) for s in (3600, 600, 60, 10, 1))


def baseline_stride(ctx: Context) -> int:
    """k such that one baseline row in k (at most SCREEN_BASELINE_ROWS) is screened, counting
    the rows the screening reads: the baseline's at the incident's hours of the day."""
    return max(1, math.ceil(baseline_summary(ctx).rows / SCREEN_BASELINE_ROWS))


def baseline_sample(ctx: Context) -> tuple[str, dict[str, Any]]:
    """SQL to AND onto IN_BASELINE that keeps the screening's 1-in-k sample of the baseline
    ("" when every row is read), with the parameters it reads: whole slices as time ranges
    when enough are kept, else a hash of each row's ts."""
    stride = baseline_stride(ctx)
    if stride == 1:
        return "", {}
    for length in SLICES:
        slices = baseline_slices(ctx, length, limit=MIN_SAMPLED_SLICES * stride)
        if len(slices) >= MIN_SAMPLED_SLICES * stride:
            break
    else:
        return f" AND {time_hash('ts')} % {stride} = 0", {}
    slices = baseline_slices(ctx, length)
    # The 1/k of the slices with the smallest hashes: a simple random sample of the slices
    # (the hash orders them at random), of a fixed size rather than one that varies by chance.
    kept = sorted(sorted(slices, key=slice_hash)[: math.ceil(len(slices) / stride)])
    params: dict[str, Any] = {}
    terms = []
    for i, (start, end) in enumerate(_ranges(kept, length)):
        params[f"sample_from_{i}"], params[f"sample_to_{i}"] = start, end
        terms.append(f"(ts >= $sample_from_{i} AND ts < $sample_to_{i})")
    return f" AND ({' OR '.join(terms)})", params


def baseline_slices(ctx: Context, length: timedelta, limit: int | None = None) -> list[datetime]:
    """The start of every whole slice of `length` (aligned on the clock) holding rows of
    IN_BASELINE: in the baseline window and at the incident's hours of the day (SAME_HOURS),
    or overlapping them; at most `limit` of them when given (enough to know there are)."""
    base, incident = ctx.baseline, ctx.incident
    span = same_hours_span(base, incident)
    seconds = length.total_seconds()
    start = base.start - timedelta(seconds=base.start.timestamp() % seconds)
    slices: list[datetime] = []
    while start < base.end and (limit is None or len(slices) < limit):
        offset = (start - incident.start).total_seconds() % 86400
        # The slice [start, start + length) meets [0, span) of the day's offsets from the
        # incident start, possibly by wrapping into the next day.
        if offset < span or offset + seconds > 86400:
            slices.append(start)
            start += length
        else:  # on to the slice that reaches into the next day's hours
            start += length * (int((86400 - seconds - offset) // seconds) + 1)
    return slices


def slice_hash(start: datetime) -> int:
    """time_hash of a timestamp, computed here: md5 of its epoch microseconds as text, the
    first HASH_HEX_DIGITS hex digits as an integer (what both engines compute in SQL)."""
    epoch_us = round(start.timestamp() * 1_000_000)
    return int(hashlib.md5(str(epoch_us).encode()).hexdigest()[:HASH_HEX_DIGITS], 16)


def _ranges(starts: list[datetime], length: timedelta) -> list[tuple[datetime, datetime]]:
    """Consecutive slices merged into [start, end) ranges."""
    ranges: list[tuple[datetime, datetime]] = []
    for start in starts:
        if ranges and ranges[-1][1] == start:
            ranges[-1] = (ranges[-1][0], start + length)
        else:
            ranges.append((start, start + length))
    return ranges


def value_columns(node_id: str) -> tuple[str, str]:
    """Columns of the screening subquery holding a derived feature's served and reference
    values (each computed once per row, however often the mismatch test reads them)."""
    return duckdb_identifier(f"served:{node_id}"), duckdb_identifier(f"reference:{node_id}")
