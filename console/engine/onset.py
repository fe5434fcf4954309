"""When a shift began: the first bucket from which a node stays moved.

A change event can explain a shift only if it came before the shift's onset, and close to it:
a deploy at 18:00 fits a node that moved from 18:00-19:00 on (even 14 h before the alert); a
deploy two hours after the node moved cannot have moved it. This module finds the onset; the
verdict that weighs events against it lives with the locate / auto steps.

Buckets of `[triage] bucket`, on the same grid as triage (time_bucket's origin, Monday
2000-01-03 00:00 UTC), from `since` (default: the end of the baseline window) to the end of the
incident window. Each bucket's deviation is an effect size against the same time of day in the
baseline (most inputs have a daily cycle; an evening bucket must be compared with evenings):
- numeric: (bucket mean - baseline mean at that time of day) / baseline std at that time of
  day; or, when the missing rate is what moved over the incident, Cohen's h of the bucket's
  missing rate against the baseline's at that time of day (whichever moved more over the whole
  incident window, measured first from the same buckets);
- categorical: Cohen's h of the share (over all rows) of the category whose share moved most
  between the baseline and the incident windows (measured first), against its share at that
  time of day in the baseline.
A time-of-day slot with fewer than MIN_ROWS baseline rows, or a bucket that does not divide a
day, is compared with the whole baseline instead.

A bucket is moved when its deviation has the sign of the incident's overall shift and
|deviation| >= max(MIN_DEVIATION, NOISE_Z * sqrt(1/rows in the bucket + 1/rows in the baseline
it is compared with)): the baseline hour's own noise counts too, as a thin one is noisy. The onset is the first
moved bucket b from which at least PERSIST of the buckets up to the last moved bucket are moved,
with at least two moved buckets, and where that last moved bucket lies in the incident window.

Why up to the last moved bucket rather than the window's end: a world change can end before the
alert (a heat wave that broke at 04:00, a holiday that is over) and it still has an onset - the
question asked of a change event is whether it came before the move, not whether the move is
still on. Why the move must reach the incident window: a move that was over before the incident
started cannot explain the incident; then there is no onset (None), and an event that fitted
that earlier move earns nothing. A move already present in the first examined bucket gets that
bucket as its onset, and the reasons say the move may have begun earlier.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from console.engine.context import SIDE_CASE, SIDE_WHERE, Context, hours, side_params
from console.engine.screening import ROW_KINDS
from console.engine.stats_math import cohen_h, jsonable
from console.telemetry.windows import format_utc

# A small effect (Cohen): below it a bucket has not moved, however many rows it holds.
MIN_DEVIATION = 0.2
# The standard error of d or h between n bucket rows and m baseline rows is about
# sqrt(1/n + 1/m) (1/sqrt(n) when the baseline is large): a bucket must sit three of them
# out, so a thin night-time bucket, or a thin baseline hour, does not count as moved by chance.
NOISE_Z = 3.0
# A move "stays" when two thirds of the buckets from its onset on are moved: one quiet bucket
# in three (noise, a lull in traffic) does not end it.
PERSIST = 2 / 3
# One moved bucket alone is noise or a blip, not an onset.
MIN_MOVED = 2
# Fewer baseline rows at a time of day than this: compare with the whole baseline instead.
MIN_ROWS = 30
DAY = timedelta(days=1)
# DuckDB's time_bucket origin (a Monday, midnight UTC): buckets line up with triage's series.
ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)


@dataclass(frozen=True)
class Onset:
    node: str
    at: datetime | None  # start of the first bucket from which the node stays moved (None: none)
    buckets: list[tuple[datetime, float | None]]  # bucket start -> deviation vs the same hour
    threshold: float  # the deviation floor; a bucket also needs NOISE_Z standard errors
    reasons: list[str]
    sql: list[str]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = jsonable(asdict(self))
        return data


@dataclass(frozen=True)
class _Cell:
    """Aggregates of one bucket, one baseline time-of-day slot, or the whole baseline."""

    rows: int
    values: int  # non-missing (numeric) / rows holding the top category (categorical)
    mean: float | None = None
    std: float | None = None


def measure_onset(ctx: Context, node_id: str, since: datetime | None = None) -> Onset:
    """The onset of node_id's shift between `since` (default: the baseline's end) and the end
    of the incident window (cached per node and start)."""
    start = since or ctx.baseline.end
    key = f"onset:{node_id}:{start.isoformat()}"
    if key not in ctx.cache:
        ctx.cache[key] = _measure(ctx, node_id, start)
    result: Onset = ctx.cache[key]
    return result


# -- measure -------------------------------------------------------------------------------


def _measure(ctx: Context, node_id: str, since: datetime) -> Onset:
    node = ctx.node(node_id)
    if node.kind not in ROW_KINDS or not node.expr:
        return Onset(node_id, None, [], MIN_DEVIATION, [f"{node_id} has no per-row value"], [])
    bucket = ctx.playbook.triage.bucket
    first = _floor(since, bucket)
    end = ctx.incident.end
    starts = [first + i * bucket for i in range(math.ceil((end - first) / bucket))]
    per_day = DAY // bucket if bucket <= DAY and DAY % bucket == timedelta(0) else 1
    params: dict[str, Any] = {
        "b_start": ctx.baseline.start,
        "b_end": ctx.baseline.end,
        "i_end": end,
        "since": first,
        "origin": ORIGIN.timestamp(),
        "bucket_s": bucket.total_seconds(),
        "per_day": per_day,
    }
    sqls = []
    top: str | None = None
    if node.type == "categorical":
        top_sql, top = _top_category(ctx, node.expr)
        sqls.append(top_sql)
        params["top"] = top
    sql = _bucket_sql(node.expr, node.type)
    sqls.append(sql)
    whole, slots, cells = _read(ctx.run(sql, params).to_pylist())
    # Pick the measure from the incident's buckets: what moved most over the whole incident.
    measures = ("share",) if node.type == "categorical" else ("mean", "missing")
    indexes = [(s - ORIGIN) // bucket for s in starts]
    counted = [cells.get(i) for i in indexes]
    against = [_baseline(slots, whole, i, per_day) for i in indexes]
    series = {
        m: [_deviation(m, c, b) for c, b in zip(counted, against, strict=True)] for m in measures
    }
    in_incident = [s >= _floor(ctx.incident.start, bucket) for s in starts]
    overall = {m: _overall(series[m], counted, in_incident) for m in measures}
    measure = max(measures, key=lambda m: abs(overall[m] or 0.0))
    devs, direction = series[measure], overall[measure]
    buckets = list(zip(starts, devs, strict=True))
    moved = [_moved(d, c, b, direction) for d, c, b in zip(devs, counted, against, strict=True)]
    at = _onset(starts, moved, in_incident)
    reasons = _reasons(node_id, measure, top, direction, at, starts, moved, bucket)
    return Onset(node_id, at, buckets, MIN_DEVIATION, reasons, sqls)


def _top_category(ctx: Context, expr: str) -> tuple[str, str | None]:
    """The category whose share (over all rows, missing as a category) moved most between the
    baseline and incident windows."""
    sql = (
        f"SELECT {SIDE_CASE} AS w, CAST(({expr}) AS VARCHAR) AS c, count(*) AS n\n"
        f"FROM decisions WHERE {SIDE_WHERE} GROUP BY ALL"
    )
    counts: dict[str, dict[str | None, int]] = {"baseline": {}, "incident": {}}
    for row in ctx.run(sql, side_params(ctx.baseline, ctx.incident)).to_pylist():
        if row["w"] in counts:
            counts[row["w"]][row["c"]] = int(row["n"])
    base, inc = counts["baseline"], counts["incident"]
    nb, ni = sum(base.values()), sum(inc.values())
    if not nb or not ni:
        return sql, None
    categories = sorted(set(base) | set(inc), key=lambda c: (c is None, c or ""))
    top = max(categories, key=lambda c: abs(cohen_h(base.get(c, 0) / nb, inc.get(c, 0) / ni)))
    return sql, top


def _bucket_sql(expr: str, node_type: str) -> str:
    """Per bucket from $since to the incident's end, per baseline time-of-day slot, and over
    the whole baseline: rows and the measured aggregates, in one scan (three grouping sets)."""
    if node_type == "numeric":
        value = f"CAST(({expr}) AS DOUBLE) AS r"
        clean = "CASE WHEN isfinite(r) THEN r END AS x"
        aggregates = "count(x) AS v, avg(x) AS m, stddev_samp(x) AS s"
    else:
        # The top category is a data value: a parameter, never text (NULL: the missing rows).
        value = f"CAST(({expr}) AS VARCHAR) AS r"
        clean = "CASE WHEN r IS NOT DISTINCT FROM CAST($top AS VARCHAR) THEN 1 END AS x"
        aggregates = "count(x) AS v"
    in_base = "ts >= $b_start AND ts < $b_end"
    return (
        f"SELECT base, slot, bucket, count(*) AS n, {aggregates}\n"
        f"FROM (SELECT CASE WHEN {in_base} THEN 1 END AS base,\n"
        f"    CASE WHEN {in_base} THEN k % $per_day END AS slot,\n"
        "    CASE WHEN ts >= $since AND ts < $i_end THEN k END AS bucket,\n"
        f"    {clean}\n"
        "  FROM (SELECT ts, CAST(floor((epoch(ts) - $origin) / $bucket_s) AS BIGINT) AS k,\n"
        f"      {value}\n"
        f"    FROM decisions WHERE ({in_base}) OR (ts >= $since AND ts < $i_end)) AS valued\n"
        ") AS keyed\nGROUP BY GROUPING SETS ((base), (slot), (bucket))"
    )


def _read(
    rows: list[dict[str, Any]],
) -> tuple[_Cell | None, dict[int, _Cell], dict[int, _Cell]]:
    """(whole baseline, time-of-day slot -> cell, bucket index -> cell); a row whose key is
    NULL gathers the rows outside its grouping set and is dropped."""
    whole: _Cell | None = None
    slots: dict[int, _Cell] = {}
    cells: dict[int, _Cell] = {}
    for row in rows:
        cell = _Cell(int(row["n"]), int(row["v"] or 0), _float(row.get("m")), _float(row.get("s")))
        if row["bucket"] is not None:
            cells[int(row["bucket"])] = cell
        elif row["slot"] is not None:
            slots[int(row["slot"])] = cell
        elif row["base"] is not None:
            whole = cell
    return whole, slots, cells


def _baseline(
    slots: dict[int, _Cell], whole: _Cell | None, index: int, per_day: int
) -> _Cell | None:
    """The baseline at a bucket's time of day, or the whole baseline when that is too thin."""
    slot = slots.get(index % per_day)
    if slot is not None and slot.rows >= MIN_ROWS:
        return slot
    return whole


def _deviation(measure: str, cell: _Cell | None, base: _Cell | None) -> float | None:
    """One bucket's effect size against the baseline (None: no rows on either side)."""
    if cell is None or base is None or not cell.rows or not base.rows:
        return None
    if measure == "share":
        return cohen_h(base.values / base.rows, cell.values / cell.rows)
    if measure == "missing":
        return cohen_h(1 - base.values / base.rows, 1 - cell.values / cell.rows)
    if cell.mean is None or base.mean is None:
        return None
    diff = cell.mean - base.mean
    if base.std:
        return diff / base.std
    # A constant baseline: any change is infinitely many of its (zero) standard deviations.
    return 0.0 if diff == 0 else math.copysign(math.inf, diff)


def _overall(
    devs: list[float | None], cells: list[_Cell | None], in_incident: list[bool]
) -> float | None:
    """The incident's shift: its buckets' deviations weighted by their rows."""
    pairs = [
        (d, c.rows)
        for d, c, inside in zip(devs, cells, in_incident, strict=True)
        if inside and d is not None and c is not None and not math.isnan(d)
    ]
    rows = sum(n for _, n in pairs)
    if not rows:
        return None
    mean = sum(d * n for d, n in pairs) / rows
    return None if math.isnan(mean) else mean  # infinite moves both ways: no direction


def _moved(
    dev: float | None, cell: _Cell | None, base: _Cell | None, direction: float | None
) -> bool:
    """Whether a bucket moved the incident's way, beyond MIN_DEVIATION and its noise."""
    if dev is None or cell is None or base is None or not direction or math.isnan(dev):
        return False
    needed = max(MIN_DEVIATION, NOISE_Z * math.sqrt(1 / cell.rows + 1 / base.rows))
    return math.copysign(1.0, dev) == math.copysign(1.0, direction) and abs(dev) >= needed


def _onset(starts: list[datetime], moved: list[bool], in_incident: list[bool]) -> datetime | None:
    """The first moved bucket from which the node stays moved (see the module docstring)."""
    if not any(moved):
        return None
    last = max(i for i, m in enumerate(moved) if m)
    if not in_incident[last]:
        return None  # the move was over before the incident began
    for i in range(last + 1):
        if not moved[i]:
            continue
        span = moved[i : last + 1]
        if sum(span) >= MIN_MOVED and sum(span) >= PERSIST * len(span):
            return starts[i]
    return None


def _reasons(
    node_id: str,
    measure: str,
    top: str | None,
    direction: float | None,
    at: datetime | None,
    starts: list[datetime],
    moved: list[bool],
    bucket: timedelta,
) -> list[str]:
    what = {
        "mean": "its mean against the same hours of the baseline, in baseline standard deviations",
        "missing": "its missing rate against the same hours of the baseline (Cohen's h)",
        "share": f"the share of {top!r} against the same hours of the baseline (Cohen's h)",
    }[measure]
    shift = "not measurable" if direction is None else f"{direction:+.2f}"
    reasons = [
        f"{node_id}: {len(starts)} buckets of {hours(bucket)} compared by {what}; "
        f"over the incident window it moved {shift}; "
        f"{sum(moved)} buckets moved that way by at least {MIN_DEVIATION} and "
        f"{NOISE_Z:.0f} standard errors"
    ]
    if at is None:
        reasons.append(
            f"no onset: {node_id} does not stay moved into the incident window "
            f"({PERSIST:.0%} of the buckets from a start on, at least {MIN_MOVED})"
        )
    elif starts and at == starts[0]:
        reasons.append(
            f"{node_id} is already moved at {format_utc(at)}, the first bucket examined: "
            "the move may have begun earlier"
        )
    else:
        reasons.append(f"{node_id} moved from {format_utc(at)} on (onset)")
    return reasons


def _floor(ts: datetime, bucket: timedelta) -> datetime:
    return ORIGIN + ((ts - ORIGIN) // bucket) * bucket


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
