"""Triage: is the anomaly real, what kind is it, how bad?

Checks on the reported metric series (the metrics table) against the same metric recomputed
from the decision records, bucket by bucket:

- gaps: a run of missing buckets longer than [triage] max_gap, in the baseline or incident
  window (up to the alert);
- staleness: the newest reported bucket ends more than max_staleness before the alert;
- clock_skew: reported points dated after the newest decision (plus max_clock_skew and one
  bucket): a metrics clock running ahead, or points written into the future; or a reported
  series that agrees with the recomputed one only when shifted by some buckets (out of order
  with the decisions it counts);
- duplicates: more than one row for the same (ts, labels) of the series, or incident decision
  rows repeating a prediction_id;
- recompute: reported and recomputed values of a bucket differ by more than
  recompute_tolerance (relative).

The metric's change is the recomputed one (the decision records are the ground truth of what
the model did) against the baseline rows at the same time of day; the reported series is used
only when the metric cannot be recomputed (e.g. all labels still NULL). Verdict: `false_alarm`
when the recomputed metric does not move by `minor` in the bad direction, or - when a check of
the reported series failed, so the alert itself proves nothing - when its move is under NOISE_Z
standard errors of the baseline's bucket-to-bucket variation; else `confirmed`. Classification
uses the one-pass screening of console.engine.screening plus the error and latency series.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from console.engine.context import (
    DAY_S,
    SIDE_CASE,
    SIDE_WHERE,
    Context,
    hours,
    same_hours_span,
    side_params,
)
from console.engine.results import Check, Classification, MetricPoint, TriageResult
from console.engine.screening import screen
from console.numbers import num, signed_pct
from console.telemetry.windows import format_utc

SMALL_EFFECT = 0.2  # Cohen's "small": below it a node has not really moved
NOISE_Z = 3.0  # with a broken series, a move under this many standard errors is noise
MAX_LAG = 12  # buckets the reported series is tried shifted by, each way, to find clock skew
Tier = Literal["critical", "minor", "none"]


@dataclass(frozen=True)
class TriageNumbers:
    """What triage measured: the metric per window, from the decisions when it can be
    recomputed from them, else from the reported series."""

    base_value: float | None
    inc_value: float | None
    base_reported: float | None
    inc_reported: float | None
    recomputed: bool  # base_value/inc_value come from the decision records
    z: float | None  # the move in standard errors of the baseline's bucket-to-bucket noise
    base_rows: int  # rows behind base_value (same hours of the day when `same`)
    inc_rows: int
    same: bool  # the baseline is the same hours of the day as the incident


@dataclass(frozen=True)
class TriageOutcome:
    verdict: Literal["confirmed", "false_alarm"]
    tier: Tier
    within_noise: bool


def decide_triage(
    bad: float | None, z: float | None, series_broken: bool, minor: float, critical: float
) -> TriageOutcome:
    """The verdict from the move in the bad direction (bad), its noise z and the checks.

    When the alert's own series is broken the alert proves nothing, so the decisions must
    show a move beyond noise on their own. Otherwise the move is not second-guessed: a real
    20% drop over a few hundred rows is only two or three standard errors.
    """
    within_noise = (
        series_broken and z is not None and abs(z) < NOISE_Z and bad is not None and bad >= minor
    )
    false_alarm = bad is None or bad < minor or within_noise
    return TriageOutcome(
        verdict="false_alarm" if false_alarm else "confirmed",
        tier=tier_of(bad, minor, critical),
        within_noise=within_noise,
    )


def run_triage(ctx: Context) -> TriageResult:
    triage = ctx.playbook.triage
    params: dict[str, Any] = {**side_params(ctx.baseline, ctx.incident), "bucket": triage.bucket}
    grid = _bucket_grid(ctx, triage.bucket)
    params |= {"grid_start": grid[0], "grid_end": grid[-1] + triage.bucket}
    recomputed_sql, recomputed, window_values, window_rows = _measure_recomputed(ctx, params)
    reported_sql, reported = _measure_reported(ctx, params)
    points = [MetricPoint(ts, reported.get(ts), recomputed.get(ts)) for ts in grid]
    checks = [
        _check_gaps(ctx, grid, reported),
        _check_staleness(ctx, ctx.node(ctx.metric).series),
        _check_clock_skew(ctx, ctx.node(ctx.metric).series, points),
        _check_duplicates(ctx, ctx.node(ctx.metric).series),
        _check_recompute(ctx, points),
    ]
    numbers = _numbers(ctx, grid, points, recomputed, reported, window_values, window_rows)
    change = relative_change(numbers.base_value, numbers.inc_value)
    bad = bad_change(change, triage.direction)
    failed = [c for c in checks if not c.passed]
    outcome = decide_triage(bad, numbers.z, bool(failed), triage.minor, triage.critical)
    reasons = _triage_reasons(ctx, numbers, outcome, failed)
    classification, why = _classify(ctx, params)
    return TriageResult(
        metric=ctx.metric,
        windows=[ctx.baseline, ctx.incident],
        series=points,
        baseline_value=numbers.base_value,
        incident_value=numbers.inc_value,
        relative_change=change,
        checks=checks,
        classification=classification,
        tier=outcome.tier,
        verdict=outcome.verdict,
        reasons=reasons + why,
        sql=[recomputed_sql, reported_sql],
    )


# -- measure -------------------------------------------------------------------------------


def _measure_recomputed(
    ctx: Context, params: dict[str, Any]
) -> tuple[str, dict[datetime, float | None], dict[str, float | None], dict[str, int]]:
    """The metric recomputed from the decisions: per bucket, and per window.

    Whole buckets (the windows' edges rarely fall on a bucket boundary) per bucket, and the
    exact windows for the baseline and incident values: one scan, two grouping sets. The
    baseline value compares like with like: SIDE_CASE's baseline rows are those at the same
    time of day as the incident window (most metrics have a daily cycle), all of them for
    windows of a day or more.
    """
    sql = (
        f"SELECT {SIDE_CASE} AS w, time_bucket($bucket, ts) AS bucket,\n"
        f"  {ctx.node(ctx.metric).expr} AS value, count(*) AS n\n"
        "FROM decisions WHERE ts >= $grid_start AND ts < $grid_end\n"
        "GROUP BY GROUPING SETS ((bucket), (w))"
    )
    rows = ctx.run(sql, params).to_pylist()
    by_bucket = {r["bucket"]: _float(r["value"]) for r in rows if r["bucket"] is not None}
    by_window = [r for r in rows if r["bucket"] is None and r["w"] is not None]
    window_values = {r["w"]: _float(r["value"]) for r in by_window}
    window_rows = {r["w"]: int(r["n"]) for r in by_window}
    ctx.require_rows(ctx.incident, window_rows.get("incident", 0))
    ctx.require_rows(ctx.baseline, window_rows.get("baseline", 0))
    return sql, by_bucket, window_values, window_rows


def _measure_reported(
    ctx: Context, params: dict[str, Any]
) -> tuple[str, dict[datetime, float | None]]:
    """The alert's own series, averaged per bucket."""
    sql = (
        "SELECT time_bucket($bucket, ts) AS bucket, avg(value) AS value, count(*) AS n\n"
        "FROM metrics WHERE metric = $series AND ts >= $grid_start AND ts < $grid_end "
        "GROUP BY 1 ORDER BY 1"
    )
    reported_params = {k: params[k] for k in ("bucket", "grid_start", "grid_end")}
    series = ctx.node(ctx.metric).series
    rows = ctx.run(sql, {**reported_params, "series": series}).to_pylist()
    return sql, {r["bucket"]: _float(r["value"]) for r in rows}


def _numbers(
    ctx: Context,
    grid: list[datetime],
    points: list[MetricPoint],
    recomputed: dict[datetime, float | None],
    reported: dict[datetime, float | None],
    window_values: dict[str, float | None],
    window_rows: dict[str, int],
) -> TriageNumbers:
    base_reported = _mean(
        [p.reported for p in points if ctx.baseline.start <= p.ts < ctx.baseline.end]
    )
    inc_reported = _mean(
        [p.reported for p in points if ctx.incident.start <= p.ts < ctx.incident.end]
    )
    base_value = window_values.get("baseline")
    inc_value = window_values.get("incident")
    from_decisions = base_value is not None and inc_value is not None
    if not from_decisions:
        base_value, inc_value = base_reported, inc_reported
    span = min((ctx.incident.end - ctx.incident.start).total_seconds(), DAY_S)
    values = recomputed if from_decisions else reported
    # The baseline is read at the incident's hours unless it does not hold them (then whole).
    same = "baseline" in window_values and same_hours_span(ctx.baseline, ctx.incident) < DAY_S
    return TriageNumbers(
        base_value=base_value,
        inc_value=inc_value,
        base_reported=base_reported,
        inc_reported=inc_reported,
        recomputed=from_decisions,
        z=_noise_z(ctx, grid, values, base_value, inc_value, span),
        base_rows=window_rows.get("baseline", 0),
        inc_rows=window_rows.get("incident", 0),
        same=same,
    )


# -- explain -------------------------------------------------------------------------------


def _triage_reasons(
    ctx: Context, n: TriageNumbers, outcome: TriageOutcome, failed: list[Check]
) -> list[str]:
    triage = ctx.playbook.triage
    change = relative_change(n.base_value, n.inc_value)
    source = (
        "recomputed from decision records"
        if n.recomputed
        else "reported series (the metric cannot be recomputed from decisions)"
    )
    noise = (
        ""
        if n.z is None
        else f"; {n.z:+.1f} standard errors of the baseline's bucket-to-bucket variation"
    )
    if outcome.within_noise:
        noise += f" (under {NOISE_Z:g}: noise)"
    reported_change = relative_change(n.base_reported, n.inc_reported)
    return [
        f"{ctx.metric} {source}: baseline {num(n.base_value)} ({n.base_rows} rows"
        f"{', the same hours of the day as the incident' if n.same else ''}), incident "
        f"{num(n.inc_value)} ({n.inc_rows} rows), relative change "
        f"{change_words(change, triage.direction, triage.minor, triage.critical)}{noise}",
        f"reported series {ctx.node(ctx.metric).series}: baseline {num(n.base_reported)}, "
        f"incident {num(n.inc_reported)}, relative change "
        f"{signed_pct(reported_change)}{_moved(reported_change)}",
        *_verdict_reasons(ctx, change, outcome, failed),
    ]


def _verdict_reasons(
    ctx: Context, change: float | None, outcome: TriageOutcome, failed: list[Check]
) -> list[str]:
    triage = ctx.playbook.triage
    defects = "; ".join(c.detail for c in failed)
    if outcome.verdict == "confirmed":
        confirmed = f"confirmed: {ctx.metric} moved {signed_pct(change)} in the decision records"
        also = [f"the reported series also has defects: {defects}"] if failed else []
        return [f"{confirmed} ({outcome.tier})", *also]
    if failed:
        moved = "within noise" if outcome.within_noise else "not beyond minor"
        return [
            f"false alarm: the decisions move {moved}, while the reported series is broken: "
            + defects
        ]
    return [
        f"false alarm: {ctx.metric} does not move beyond minor ({triage.minor:.0%}) in the "
        f"bad direction ({triage.direction})"
    ]


# -- checks --------------------------------------------------------------------------------


def _bucket_grid(ctx: Context, bucket: timedelta) -> list[datetime]:
    """Starts of the buckets overlapping the baseline and incident windows (aligned like
    DuckDB's time_bucket)."""
    out: list[datetime] = []
    for window in (ctx.baseline, ctx.incident):
        first = _floor(window.start, bucket)
        ts = first
        while ts < window.end:
            out.append(ts)
            ts += bucket
    return sorted(set(out))


def _floor(ts: datetime, bucket: timedelta) -> datetime:
    epoch = datetime(2000, 1, 3, tzinfo=ts.tzinfo)  # DuckDB's time_bucket origin (a Monday)
    steps = (ts - epoch) // bucket
    return epoch + steps * bucket


def _check_gaps(
    ctx: Context, grid: list[datetime], reported: dict[datetime, float | None]
) -> Check:
    max_gap = ctx.playbook.triage.max_gap
    bucket = ctx.playbook.triage.bucket
    longest: tuple[timedelta, datetime | None, datetime | None] = (timedelta(0), None, None)
    missing_total = 0
    for window in (ctx.baseline, ctx.incident):
        run_start: datetime | None = None
        for ts in [t for t in grid if window.start <= t < window.end] + [None]:
            present = ts is not None and reported.get(ts) is not None
            if ts is not None and not present:
                missing_total += 1
                run_start = run_start or ts
                continue
            if run_start is not None:
                end = ts if ts is not None else min(window.end, _floor(window.end, bucket) + bucket)
                length = end - run_start
                if length > longest[0]:
                    longest = (length, run_start, end)
                run_start = None
    length, start, stop = longest
    passed = length <= max_gap
    if start is None or stop is None:
        detail = f"no missing {hours(bucket)} buckets in the baseline and incident windows"
    else:
        detail = (
            f"{missing_total} missing buckets; the longest gap is {hours(length)} "
            f"({format_utc(start)} to {format_utc(stop)}), "
            f"{'within' if passed else 'over'} max_gap {hours(max_gap)}"
        )
    evidence: dict[str, Any] = {
        "missing_buckets": missing_total,
        "longest_gap_s": length.total_seconds(),
    }
    if start is not None and stop is not None:
        evidence |= {"gap_start": format_utc(start), "gap_end": format_utc(stop)}
    return Check("gaps", passed, detail, evidence)


def _check_staleness(ctx: Context, series: str) -> Check:
    triage = ctx.playbook.triage
    row = ctx.run(
        "SELECT max(ts) AS last FROM metrics WHERE metric = $series AND ts < $alert",
        {"series": series, "alert": ctx.alert_at},
    ).to_pylist()[0]
    last = row["last"]
    if last is None:
        return Check("staleness", False, f"no point of {series} before the alert", {})
    age = ctx.alert_at - (last + triage.bucket)
    age = max(age, timedelta(0))
    passed = age <= triage.max_staleness
    detail = (
        f"the newest point of {series} before the alert is {format_utc(last)}; its bucket ended "
        f"{hours(age)} before the alert ({'within' if passed else 'over'} max_staleness "
        f"{hours(triage.max_staleness)})"
    )
    return Check(
        "staleness", passed, detail, {"last_point": format_utc(last), "age_s": age.total_seconds()}
    )


def _best_lag(ctx: Context, points: list[MetricPoint]) -> tuple[int, float, float] | None:
    """(lag in buckets, share of buckets agreeing at that lag, share agreeing at lag 0) when
    the reported series matches the recomputed one clearly better shifted by some buckets."""
    tolerance = ctx.playbook.triage.recompute_tolerance
    reported = [p.reported for p in points]
    recomputed = [p.recomputed for p in points]

    def agreement(lag: int) -> tuple[float, int]:
        pairs = [
            (r, c)
            for i in range(len(points))
            if 0 <= i - lag < len(points)
            and (r := reported[i]) is not None
            and (c := recomputed[i - lag]) is not None
        ]
        if not pairs:
            return 0.0, 0
        good = sum(1 for r, c in pairs if _relative_gap(r, c) <= tolerance)
        return good / len(pairs), len(pairs)

    at_zero, _ = agreement(0)
    best = max(
        ((agreement(lag), lag) for lag in range(-MAX_LAG, MAX_LAG + 1) if lag),
        key=lambda t: t[0][0],
    )
    (share, pairs), lag = best
    if at_zero < 0.5 and share >= 0.8 and pairs >= 6:
        return lag, share, at_zero
    return None


def _check_clock_skew(ctx: Context, series: str, points: list[MetricPoint]) -> Check:
    triage = ctx.playbook.triage
    shifted = _best_lag(ctx, points)
    newest = ctx.run("SELECT max(ts) AS newest FROM decisions").to_pylist()[0]["newest"]
    if newest is None:
        return Check("clock_skew", False, "the decisions table holds no timestamps", {})
    limit = newest + triage.bucket + triage.max_clock_skew
    row = ctx.run(
        "SELECT count(*) AS n, min(ts) AS first, max(ts) AS last FROM metrics "
        "WHERE metric = $series AND ts >= $limit",
        {"series": series, "limit": limit},
    ).to_pylist()[0]
    ahead = int(row["n"])
    evidence: dict[str, Any] = {"newest_decision": format_utc(newest), "points_ahead": ahead}
    if shifted is not None:
        lag, share, at_zero = shifted
        evidence |= {"lag_buckets": lag, "agreement_at_lag": share, "agreement_at_zero": at_zero}
        skew = lag * triage.bucket
        if abs(skew) > triage.max_clock_skew:
            detail = (
                f"the reported {series} matches the decisions {abs(lag)} bucket(s) "
                f"{'earlier' if lag > 0 else 'later'} ({share:.0%} of buckets agree, "
                f"{at_zero:.0%} unshifted): its clock is off by about {hours(abs(skew))}"
            )
            if ahead:
                detail += f"; {ahead} points are dated after the newest decision"
            return Check("clock_skew", False, detail, evidence)
    if ahead == 0:
        detail = (
            f"no point of {series} is dated after the newest decision ({format_utc(newest)}) "
            f"plus one bucket and max_clock_skew {hours(triage.max_clock_skew)}"
        )
        return Check("clock_skew", True, detail, evidence)
    lead = row["last"] - newest
    evidence |= {
        "first_ahead": format_utc(row["first"]),
        "last_ahead": format_utc(row["last"]),
        "lead_s": lead.total_seconds(),
    }
    detail = (
        f"{ahead} points of {series} are dated after the newest decision ({format_utc(newest)}), "
        f"up to {hours(lead)} ahead ({format_utc(row['first'])} to {format_utc(row['last'])}): "
        "the metrics clock runs ahead or points are written into the future"
    )
    return Check("clock_skew", False, detail, evidence)


def _check_duplicates(ctx: Context, series: str) -> Check:
    """Repeated (ts, labels) rows of the series, and repeated prediction ids among the
    incident's decisions (which would inflate the recomputed metric too)."""
    has_labels = "labels" in dict(ctx.store.columns("metrics"))
    key = "(ts, coalesce(labels, ''))" if has_labels else "ts"
    row = ctx.run(
        f"SELECT count(*) AS n, count(DISTINCT {key}) AS distinct_points FROM metrics "
        "WHERE metric = $series AND ts >= $start",
        {"series": series, "start": ctx.baseline.start},
    ).to_pylist()[0]
    n, distinct = int(row["n"]), int(row["distinct_points"])
    decisions = ctx.run(
        "SELECT count(*) AS n, count(DISTINCT prediction_id) AS ids FROM decisions "
        "WHERE ts >= $start AND ts < $end",
        {"start": ctx.incident.start, "end": ctx.incident.end},
    ).to_pylist()[0]
    repeated = int(decisions["n"]) - int(decisions["ids"])
    extra = n - distinct
    passed = extra == 0 and repeated == 0
    what = "(ts, labels)" if has_labels else "ts"
    detail = f"{n} rows of {series} since the baseline start, {distinct} distinct {what}: " + (
        "no duplicates" if extra == 0 else f"{extra} duplicated rows"
    )
    if repeated:
        detail += f"; {repeated} incident decision rows repeat a prediction_id"
    evidence = {
        "rows": n,
        "distinct": distinct,
        "duplicated": extra,
        "repeated_predictions": repeated,
    }
    return Check("duplicates", passed, detail, evidence)


def _check_recompute(ctx: Context, points: list[MetricPoint]) -> Check:
    tolerance = ctx.playbook.triage.recompute_tolerance
    bucket = ctx.playbook.triage.bucket
    whole = [
        p for p in points
        if any(w.start <= p.ts and p.ts + bucket <= w.end for w in (ctx.baseline, ctx.incident))
    ]  # fmt: skip
    compared = [
        (p, _relative_gap(p.reported, p.recomputed))
        for p in whole
        if p.reported is not None and p.recomputed is not None
    ]
    off = [(p, gap) for p, gap in compared if gap > tolerance]
    incident_off = [p for p, _ in off if ctx.incident.start <= p.ts < ctx.incident.end]
    worst_off = max(off, key=lambda t: t[1], default=None)
    passed = not off
    detail = (
        f"{len(compared)} buckets with both values; {len(off)} differ by more than "
        f"recompute_tolerance {tolerance:.1%} ({len(incident_off)} in the incident window)"
    )
    evidence: dict[str, Any] = {
        "compared": len(compared),
        "differ": len(off),
        "differ_incident": len(incident_off),
    }
    if worst_off is not None:
        worst, gap = worst_off
        detail += (
            f"; worst {format_utc(worst.ts)}: reported {num(worst.reported)} vs recomputed "
            f"{num(worst.recomputed)} ({gap:.1%})"
        )
        evidence["worst"] = {
            "ts": format_utc(worst.ts),
            "reported": worst.reported,
            "recomputed": worst.recomputed,
        }
    return Check("recompute", passed, detail, evidence)


def _noise_z(
    ctx: Context,
    grid: list[datetime],
    values: dict[datetime, float | None],
    base: float | None,
    inc: float | None,
    span: float,
) -> float | None:
    """(incident - baseline) in standard errors of the baseline's bucket-to-bucket variation
    (same hours of the day), or None when there are too few buckets to tell."""
    if base is None or inc is None:
        return None
    bucket = ctx.playbook.triage.bucket
    origin = ctx.incident.start
    same = [
        value for ts in grid
        if ctx.baseline.start <= ts and ts + bucket <= ctx.baseline.end
        and (value := values.get(ts)) is not None and (ts - origin).total_seconds() % DAY_S < span
    ]  # fmt: skip
    k = sum(
        1
        for ts in grid
        if ctx.incident.start <= ts < ctx.incident.end and values.get(ts) is not None
    )
    if len(same) < 3 or k == 0:
        return None
    mean = sum(same) / len(same)
    sd = math.sqrt(sum((v - mean) ** 2 for v in same) / (len(same) - 1))
    if sd == 0:
        return None
    return (inc - base) / (sd / math.sqrt(k))


# -- classification ------------------------------------------------------------------------


def _classify(ctx: Context, params: dict[str, Any]) -> tuple[Classification | None, list[str]]:
    triage = ctx.playbook.triage
    reasons: list[str] = []
    error_change = latency_ratio = None
    if triage.error_series:
        base, inc = _series_means(ctx, triage.error_series, params)
        if base is not None and inc is not None:
            error_change = (base, inc)
            reasons.append(
                f"error series {triage.error_series}: baseline {base:.4g}, incident {inc:.4g}"
            )
    if triage.latency_series:
        base, inc = _series_means(ctx, triage.latency_series, params)
        if base and inc is not None:
            latency_ratio = inc / base
            reasons.append(
                f"latency series {triage.latency_series}: baseline {base:.4g}, incident {inc:.4g} "
                f"(x{latency_ratio:.2f})"
            )
    screening = screen(ctx)
    unscored = screening.get("unscored")
    if error_change is None and unscored is not None and unscored.mean_baseline is not None:
        error_change = (unscored.mean_baseline, unscored.mean_incident or 0.0)
        reasons.append(
            f"rows without a score: baseline {error_change[0]:.4g}, incident {error_change[1]:.4g}"
        )
    inputs = [
        (s.magnitude, name)
        for name, s in screening.items()
        if name in ctx.playbook.nodes and ctx.node(name).kind in ("source", "feature")
    ]
    top_input = max(inputs, default=(0.0, ""))
    score_nodes = [
        n.id for n in ctx.playbook.nodes.values() if n.kind == "model" and n.expr.strip() == "score"
    ]
    score_shift = max((screening[n].magnitude for n in score_nodes if n in screening), default=None)
    if score_shift is None and "live_margin" in screening:
        score_shift = screening["live_margin"].magnitude
    reasons.append(
        f"largest input shift: {top_input[1] or 'none'} (effect size {top_input[0]:.2f}); "
        f"score shift {num(score_shift)}"
    )
    if error_change is not None:
        base, inc = error_change
        if inc >= 2 * base and inc - base >= 0.005:
            return "error_rate_increase", reasons + [
                f"classified error_rate_increase: error rate {base:.3%} -> {inc:.3%}"
            ]
    if latency_ratio is not None and latency_ratio >= 1.5:
        return "latency_change", reasons + [
            f"classified latency_change: latency x{latency_ratio:.2f}"
        ]
    if top_input[0] >= SMALL_EFFECT:
        return "input_distribution_shift", reasons + [
            f"classified input_distribution_shift: {top_input[1]} moved by effect size {top_input[0]:.2f}"
        ]
    if score_shift is not None and score_shift >= SMALL_EFFECT:
        return "model_output_shift", reasons + [
            f"classified model_output_shift: scores moved by {score_shift:.2f} standard deviations "
            "with no input moving by a small effect"
        ]
    return None, reasons + ["not classified: no input, score, error or latency change stands out"]


def _series_means(
    ctx: Context, series: str, params: dict[str, Any]
) -> tuple[float | None, float | None]:
    rows = ctx.run(
        f"SELECT {SIDE_CASE} AS w, avg(value) AS value FROM metrics "
        f"WHERE metric = $series AND {SIDE_WHERE} GROUP BY w",
        {**side_params(ctx.baseline, ctx.incident), "series": series},
    ).to_pylist()
    found = {r["w"]: _float(r["value"]) for r in rows}
    return found.get("baseline"), found.get("incident")


# -- numbers -------------------------------------------------------------------------------


def _float(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def relative_change(base: float | None, inc: float | None) -> float | None:
    if base is None or inc is None:
        return None
    if base == 0:
        return 0.0 if inc == 0 else math.copysign(1e9, inc)
    return (inc - base) / abs(base)


def _relative_gap(reported: float, recomputed: float) -> float:
    scale = max(abs(recomputed), 1e-12)
    return abs(reported - recomputed) / scale


def bad_change(change: float | None, direction: str) -> float | None:
    if change is None:
        return None
    if direction == "up":
        return change
    if direction == "down":
        return -change
    return abs(change)


def tier_of(bad: float | None, minor: float, critical: float) -> Tier:
    """critical / minor / none from the change in the bad direction (bad_change)."""
    if bad is not None and bad >= critical:
        return "critical"
    if bad is not None and bad >= minor:
        return "minor"
    return "none"


def change_words(change: float | None, direction: str, minor: float, critical: float) -> str:
    """A relative change in words that follow from its sign and the metric's bad direction:
    "-4.6%, down: not the bad direction (up), so no tier", "+30.0%, up: the bad direction,
    critical (at least 15%)"."""
    if change is None:
        return "n/a (a window has no value)"
    if change == 0:
        return f"{signed_pct(change)}, unchanged: no tier"
    moved = "up" if change > 0 else "down"
    bad = bad_change(change, direction)
    if bad is None or bad <= 0:
        return f"{signed_pct(change)}, {moved}: not the bad direction ({direction}), so no tier"
    which = "both directions are bad" if direction == "both" else "the bad direction"
    tier = tier_of(bad, minor, critical)
    if tier == "critical":
        return f"{signed_pct(change)}, {moved}: {which}, critical (at least {critical:.0%})"
    if tier == "minor":
        return (
            f"{signed_pct(change)}, {moved}: {which}, minor (at least {minor:.0%}; critical from "
            f"{critical:.0%})"
        )
    return f"{signed_pct(change)}, {moved}: {which}, but under minor ({minor:.0%}), so no tier"


def _moved(change: float | None) -> str:
    if change is None or change == 0:
        return ""
    return ", up" if change > 0 else ", down"
