"""Plausibility: are a node's values ones a working pipeline could have sent?

A changing world moves values around inside what is physically and contractually possible; a
broken pipeline sends values that are not: numbers in other units (a factor of 10, 100, 1000
or a known unit conversion away), numbers outside the node's declared valid range, or a
sentinel (0, -1, "unknown", the node's declared ones) standing in for a missing value. This
module measures the three for one node, baseline against a target window, in DuckDB (only
aggregates come back), and says whether any of them is pipeline-fault evidence. The range and
default_rate intervention types and the broken-versus-external verdict read it.

Shares are of the side's values (missing values - NULL, NaN, infinities - are null_rate's
business and are left out of every denominator here).

Unit factors. For each candidate factor f, a value x is "explained by f" when it lies well
outside the baseline's central range (beyond its 0.1% / 99.9% quantiles by UNIT_MARGIN of
their size) while x / f lies inside the baseline's [1%, 99%] quantiles. The factor's excess is
the share of explained values in the target minus that share in the baseline. A factor counts
only when
- its excess is at least UNIT_MIN_EXCESS (and UNIT_MIN_ROWS values), and
- it explains at least half of the target values that left the central range (a world that
  moved a little pushes a tail out of the range, which a unit factor does not explain), and
- the values it leaves untouched still look like the baseline: if a share s of the values
  had been scaled by f, the share of values in the region scaled values cannot reach (x / f
  outside the central range) would be (1 - s) times the baseline's. A world that moved
  empties that region; a unit change of part of the rows keeps the rest where it was; and
- the explained values left from where they scale back to: a value sent in other units is
  missing from its true place, so in the baseline's decile bins that scaled values leave
  (and none land in) the window holds less, by about the explained values scaled back into
  each bin. One producer's values that moved by some other factor (a world change: short
  clips got shorter) left from elsewhere; the bins where x60 would put them are still full.
  The test decides only when those bins hold enough rows (UNIT_DEFICIT_MAX_ERROR).
The best factor explains the most; near ties (UNIT_TIE) go to the factor whose scaled-back
quartiles are closest to the baseline's (x100 against x1000 on the same rows, or any large
factor on values around 0).

Queries: one per node for the counts, quantiles, range and sentinels; for a numeric node one
more over the values that left the central range (few in a healthy window, so its two dozen
factors cost little), and a third, over every value, only when some factor explains enough
of them to be tested against the untouched rest and the deficit.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from console.engine.context import SIDE_CASE, SIDE_WHERE, Context, side_params, sql_number
from console.engine.expressions import as_text, finite_or_null
from console.engine.results import Window
from console.engine.stats_math import cohen_h, jsonable
from console.playbook.model import Node
from console.telemetry.store import duckdb_string

# Fewer values than this on a side measure no share well enough to call a pipeline broken
# (the interventions' MIN_ROWS).
MIN_VALUES = 30
# Out-of-declared-range values must rise by more than this share of the values: a contract
# that is breached on 1 row in 100 more than usual is being broken, not wobbling.
RANGE_EXCESS = 0.01
# A unit factor must explain at least this share of the target's values beyond the baseline's
# (half a percent: a producer among many, a client version, a shard).
UNIT_MIN_EXCESS = 0.005
# ... and at least this many values: a handful of rows is a typo, not a pipeline.
UNIT_MIN_ROWS = 20
# ... and at least this part of the values that left the baseline's central range.
UNIT_MIN_EXPLAINED = 0.5
# How far beyond the baseline's 0.1% / 99.9% quantiles (relative to their size) a value must
# lie to have left the central range: keeps the baseline's own extremes from counting.
UNIT_MARGIN = 0.1
# The untouched-rest test: the region scaled values cannot reach may hold the expected share
# give or take this part of the baseline's share, plus UNIT_REST_SLACK of the values.
UNIT_REST_TOLERANCE = 0.25
UNIT_REST_SLACK = 0.01
# The deficit test reads the bins that at least UNIT_BIN_LEAVES of the baseline's values leave
# when scaled and into which at most UNIT_BIN_LANDING of them land (relative to the bin).
UNIT_BIN_LEAVES = 0.5
UNIT_BIN_LANDING = 0.1
# It rejects a factor when the estimated part of the predicted deficit that is there lies
# nearer none than all of it (under UNIT_DEFICIT_PRESENT), provided the estimate's standard
# error is at most UNIT_DEFICIT_MAX_ERROR: too few rows in those bins decide nothing (kept).
UNIT_DEFICIT_PRESENT = 0.5
UNIT_DEFICIT_MAX_ERROR = 0.25
# Factors whose excess is within this ratio of the best one are a tie.
UNIT_TIE = 0.9
# Scaled back, the values a factor explains must have quartiles within this much of the
# baseline's (summed gaps, in units of its q0.01..q0.99 bulk; see _misplaced).
UNIT_SHAPE_GAP = 0.5
# A sentinel jump: its share rises by more than this (absolute) ...
SENTINEL_RISE = 0.02
# ... with at least a small effect (Cohen's h), so a common value's wobble is no jump.
SENTINEL_EFFECT = 0.2
# Undeclared stand-ins (0 and -1, '' and 'unknown') count only where the baseline rarely holds
# them: a count that is often 0 is not broken when it is 0 a little more often.
SENTINEL_RARE = 0.01

# Numeric and categorical stand-ins for "missing" when the playbook declares none.
DEFAULT_NUMERIC_SENTINELS: tuple[float, ...] = (0.0, -1.0)
DEFAULT_TEXT_SENTINELS: tuple[str, ...] = ("", "unknown", "n/a", "null", "none")

# Candidate unit factors (target value = intended value x factor) and their labels. F/C is
# affine, not a factor: left out.
_POWERS = (10.0, 100.0, 1000.0, 1e6)
_CONVERSIONS = (
    (2.54, "in", "cm"),
    (0.3048, "ft", "m"),
    (1.609344, "mi", "km"),
    (0.45359237, "lb", "kg"),
    (3.6, "m/s", "km/h"),
    (60.0, "min", "s"),
    (3600.0, "h", "s"),
    (86400.0, "day", "s"),
)


def _factors() -> tuple[tuple[float, str], ...]:
    out = [(f, f"x{f:g}") for f in _POWERS] + [(1 / f, f"/{f:g}") for f in _POWERS]
    for f, a, b in _CONVERSIONS:
        out.append((f, f"{a} -> {b} (x{f:.4g})"))
        out.append((1 / f, f"{b} -> {a} (/{f:.4g})"))
    return tuple(out)


UNIT_FACTORS = _factors()
# Baseline quantiles read for the central range, the explained band and the quartiles.
_DECILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
_PROBS = (0.001, 0.01, 0.25, 0.5, 0.75, 0.99, 0.999, *_DECILES)


@dataclass(frozen=True)
class Plausibility:
    node: str
    n_baseline: int  # values (non-missing) on each side
    n_incident: int
    # share of values outside [valid_min, valid_max]; None: no bounds declared / not numeric
    out_of_range_baseline: float | None
    out_of_range_incident: float | None
    # factor that best explains target values the baseline never shows (None: none does)
    unit_factor: float | None
    unit_label: str | None  # e.g. "x100", "/1000", "mi -> km (x1.609)"
    # share of target values that factor explains, minus the same share in the baseline (>= 0)
    unit_share: float
    sentinel_values: list[float | str]  # the values counted as sentinel/default
    sentinel_baseline: float  # share of values holding one of them
    sentinel_incident: float
    implausible: bool  # any of the three is pipeline-fault evidence
    reasons: list[str]  # each finding with its numbers, plain text
    sql: list[str]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = jsonable(asdict(self))
        return data


@dataclass(frozen=True)
class UnitBand:
    """The baseline's ranges a unit test reads (computed numbers, spelled into SQL as DOUBLE
    literals like stats.py's quantile edges)."""

    away_lo: float  # below this, a value left the central range
    away_hi: float
    q001: float
    q01: float
    q25: float
    q50: float
    q75: float
    q99: float
    q999: float
    deciles: tuple[float, ...]  # the bins of the deficit test, inside [q01, q99]


@dataclass(frozen=True)
class UnitFinding:
    """A unit factor that explains values of the target window, and the band it was tested in
    (the range intervention counts and corrects the same rows)."""

    factor: float
    label: str
    share_baseline: float  # explained share of the baseline's values
    share_incident: float
    band: UnitBand

    @property
    def excess(self) -> float:
        return max(0.0, self.share_incident - self.share_baseline)


def measure_plausibility(ctx: Context, node_id: str, target: Window | None = None) -> Plausibility:
    """Out-of-range values, a unit factor and sentinel values of node_id, baseline vs target
    (default: the incident). Cached per (node, target) on the Context."""
    return measure(ctx, node_id, target or ctx.incident)[0]


def measure(ctx: Context, node_id: str, target: Window) -> tuple[Plausibility, UnitFinding | None]:
    """The Plausibility, and the unit factor it found with the band it was tested in (the
    range intervention counts those rows again, with the out-of-range ones). Cached."""
    key = _cache_key(node_id, target)
    if key not in ctx.cache:
        node = ctx.node(node_id)
        params: dict[str, Any] = dict(side_params(ctx.baseline, target))
        if node.kind == "metric" or not node.expr:
            ctx.cache[key] = (_unobserved(node), None)
        elif node.type == "categorical":
            ctx.cache[key] = (_categorical(ctx, node, params, target.name), None)
        else:
            ctx.cache[key] = _numeric(ctx, node, params, target.name)
    cached: tuple[Plausibility, UnitFinding | None] = ctx.cache[key]
    return cached


def measured(ctx: Context, node_id: str, target: Window) -> Plausibility | None:
    """The plausibility of node_id already measured in this investigation (None: not yet);
    costs no query, for locate's cheap pass."""
    found = ctx.cache.get(_cache_key(node_id, target))
    return found[0] if found else None


def _cache_key(node_id: str, target: Window) -> str:
    return (
        f"plausibility:{node_id}:{target.name}:{target.start.isoformat()}:{target.end.isoformat()}"
    )


# -- sentinels -----------------------------------------------------------------------------


def sentinel_candidates(node: Node) -> tuple[list[float | str], bool]:
    """The values that may stand in for missing in node, and whether the playbook declared
    them (declared ones always count; the defaults only where the baseline rarely holds them:
    this is a screen over any node, not a test someone planned)."""
    if node.sentinels:
        return list(node.sentinels), True
    if node.type == "categorical":
        return list(DEFAULT_TEXT_SENTINELS), False
    return list(DEFAULT_NUMERIC_SENTINELS), False


def default_values(node: Node) -> list[float | str]:
    """What the default_rate intervention counts: the node's declared sentinels, else 0
    (numeric) or '' (categorical). A planned test of one value, judged by how much its share
    rose, needs no rarity rule and no guessed stand-ins."""
    if node.sentinels:
        return list(node.sentinels)
    return [""] if node.type == "categorical" else [0.0]


def sentinel_condition(node: Node, values: list[float | str], declared: bool, value: str) -> str:
    """SQL true where `value` (SQL of the node's value: DOUBLE with NaN as NULL for numeric,
    else any) holds one of values. Undeclared text stand-ins match whatever their case and
    padding."""
    if not values:
        return "false"
    return "(" + " OR ".join(_is_sentinel(node, declared, value, v) for v in values) + ")"


def _is_sentinel(node: Node, declared: bool, value: str, sentinel: float | str) -> str:
    if node.type != "categorical":
        return f"{value} = {sql_number(float(sentinel))}"
    text = as_text(value) if declared else f"lower(trim({as_text(value)}))"
    return f"{text} = {duckdb_string(str(sentinel))}"


def _sentinel_counts_sql(node: Node, values: list[float | str], declared: bool, value: str) -> str:
    """One count per candidate value (each is judged rare or not on its own)."""
    return "".join(
        f", count(*) FILTER (WHERE {_is_sentinel(node, declared, value, v)}) AS sentinel_{i}"
        for i, v in enumerate(values)
    )


@dataclass(frozen=True)
class _Sentinels:
    values: list[float | str]
    share_baseline: float
    share_incident: float
    evidence: bool
    reasons: list[str]


def _sentinels(
    values: list[float | str],
    declared: bool,
    base: dict[str, Any],
    inc: dict[str, Any],
) -> _Sentinels:
    nb, ni = int(base.get("n_values") or 0), int(inc.get("n_values") or 0)
    kept, reasons = [], []
    for i, value in enumerate(values):
        share_b = int(base.get(f"sentinel_{i}") or 0) / nb if nb else 0.0
        if declared or share_b < SENTINEL_RARE:
            kept.append((i, value))
        elif int(inc.get(f"sentinel_{i}") or 0):
            reasons.append(
                f"{value!r} is {share_b:.1%} of the baseline's values: a common value, not a "
                "stand-in for missing"
            )
    share_b = sum(int(base.get(f"sentinel_{i}") or 0) for i, _ in kept) / nb if nb else 0.0
    share_i = sum(int(inc.get(f"sentinel_{i}") or 0) for i, _ in kept) / ni if ni else 0.0
    h = cohen_h(share_b, share_i)
    jump = share_i - share_b > SENTINEL_RISE and h >= SENTINEL_EFFECT
    shown = ", ".join(repr(v) for _, v in kept)
    # A rise of half a jump is worth a word (not evidence); less is the usual wobble.
    if kept and (jump or share_i - share_b > SENTINEL_RISE / 2):
        word = "jumped" if jump else "rose"
        reasons.append(
            f"sentinel/default values ({shown}) {word}: {share_b:.2%} -> {share_i:.2%} of the "
            f"values (Cohen's h {h:.2f}; a jump is over +{SENTINEL_RISE:.0%} with h >= "
            f"{SENTINEL_EFFECT:g})"
        )
    return _Sentinels([v for _, v in kept], share_b, share_i, jump, reasons)


# -- numeric nodes ---------------------------------------------------------------------------


def _numeric(
    ctx: Context, node: Node, params: dict[str, Any], name: str
) -> tuple[Plausibility, UnitFinding | None]:
    x = finite_or_null(node.expr)
    values, declared = sentinel_candidates(node)
    bounds = range_condition(node, "x")
    probs = ", ".join(repr(p) for p in _PROBS)
    sql = (
        f"SELECT w, count(*) AS n, count(x) AS n_values, quantile_cont(x, [{probs}]) AS q, "
        f"count(*) FILTER (WHERE {bounds}) AS out_of_range"
        f"{_sentinel_counts_sql(node, values, declared, 'x')}\n"
        f"FROM (SELECT {SIDE_CASE} AS w, {x} AS x FROM decisions WHERE {SIDE_WHERE}) AS s\n"
        "WHERE w IS NOT NULL GROUP BY w"
    )
    sides = {r["w"]: r for r in ctx.run(sql, params).to_pylist()}
    base, inc = sides.get("baseline", {}), sides.get("incident", {})
    nb, ni = int(base.get("n_values") or 0), int(inc.get("n_values") or 0)
    sentinels = _sentinels(values, declared, base, inc)
    declared_range = node.valid_min is not None or node.valid_max is not None
    range_b = int(base.get("out_of_range") or 0) / nb if declared_range and nb else None
    range_i = int(inc.get("out_of_range") or 0) / ni if declared_range and ni else None
    reasons: list[str] = []
    queries = [sql]
    unit: UnitFinding | None = None
    band = _band(base.get("q"))
    if nb >= MIN_VALUES and ni >= MIN_VALUES and band is not None:
        unit, unit_reasons, unit_sql = _best_unit(ctx, x, params, band, nb, ni)
        queries += unit_sql
        reasons += unit_reasons
    elif nb >= MIN_VALUES and band is None:
        reasons.append("the baseline's central values do not spread: no unit factor tested")
    range_evidence = (
        range_b is not None and range_i is not None and range_i - range_b > RANGE_EXCESS
    )
    if range_b is not None and range_i is not None:
        reasons.append(
            f"outside the declared valid range {range_text(node)}: {range_b:.2%} -> "
            f"{range_i:.2%} of the values (evidence over +{RANGE_EXCESS:.0%})"
        )
    reasons += sentinels.reasons
    plausibility = _decide(
        node, name, nb, ni, range_b, range_i, unit, sentinels, range_evidence, reasons, queries
    )
    return plausibility, unit if plausibility.unit_factor is not None else None


def range_condition(node: Node, x: str) -> str:
    """SQL true where x (a DOUBLE) lies outside the node's declared valid range; "false" when
    no bound is declared (either bound alone is a range)."""
    parts = []
    if node.valid_min is not None:
        parts.append(f"{x} < {sql_number(node.valid_min)}")
    if node.valid_max is not None:
        parts.append(f"{x} > {sql_number(node.valid_max)}")
    return "(" + " OR ".join(parts) + ")" if parts else "false"


def range_text(node: Node) -> str:
    """The declared valid range in words: [0, 1e+06] EUR."""
    lo = "-inf" if node.valid_min is None else f"{node.valid_min:g}"
    hi = "+inf" if node.valid_max is None else f"{node.valid_max:g}"
    units = f" {node.units}" if node.units else ""
    return f"[{lo}, {hi}]{units}"


def _band(q: list[float | None] | None) -> UnitBand | None:
    """The unit test's band from the baseline quantiles (None: no spread to test against)."""
    if not q:
        return None
    found = [float(v) for v in q if v is not None and math.isfinite(v)]
    if len(found) != len(_PROBS):
        return None
    q001, q01, q25, q50, q75, q99, q999 = found[:7]
    if not q001 < q999 or not q01 < q99:
        return None
    return UnitBand(
        away_lo=q001 - UNIT_MARGIN * abs(q001),
        away_hi=q999 + UNIT_MARGIN * abs(q999),
        q001=q001,
        q01=q01,
        q25=q25,
        q50=q50,
        q75=q75,
        q99=q99,
        q999=q999,
        deciles=tuple(found[7:]),
    )


def away_condition(band: UnitBand, x: str) -> str:
    """SQL true where x left the baseline's central range (by UNIT_MARGIN of its bounds)."""
    return f"({x} < {sql_number(band.away_lo)} OR {x} > {sql_number(band.away_hi)})"


def explained_condition(band: UnitBand, x: str, factor: float) -> str:
    """SQL true where x left the central range and x / factor lies in the baseline's bulk."""
    back = f"{x} / {sql_number(factor)}"
    return (
        f"({away_condition(band, x)} AND {back} BETWEEN {sql_number(band.q01)} AND "
        f"{sql_number(band.q99)})"
    )


def _explained_sql(x: str, band: UnitBand) -> str:
    """Per side, over the values that left the central range only (few, unless something is
    wrong): how many, and per factor how many it explains and their scaled-back quartiles."""
    aggregates = ["count(*) AS away"]
    for i, (f, _) in enumerate(UNIT_FACTORS):
        back = f"x / {sql_number(f)}"
        inside = f"{back} BETWEEN {sql_number(band.q01)} AND {sql_number(band.q99)}"
        aggregates += [
            f"count(*) FILTER (WHERE {inside}) AS e{i}",
            f"quantile_cont({back}, [0.25, 0.5, 0.75]) FILTER (WHERE {inside}) AS m{i}",
        ]
    return (
        "SELECT w, "
        + ",\n  ".join(aggregates)
        + f"\nFROM (SELECT {SIDE_CASE} AS w, {x} AS x FROM decisions WHERE {SIDE_WHERE}) AS s\n"
        f"WHERE w IS NOT NULL AND {away_condition(band, 'x')} GROUP BY w"
    )


def _rest_sql(x: str, band: UnitBand, factors: list[int]) -> str:
    """Per side, for the candidate factors only: baseline values the factor would push out
    of the central range (its coverage) and values in the region its scaled values cannot
    reach (see _rest_mismatch); per decile bin of the bulk, the values, and per factor the
    values that leave the bin when scaled, that land in it when scaled, and that it explains
    scaled back into it (see _deficit_mismatch)."""
    q01, q99 = sql_number(band.q01), sql_number(band.q99)
    q001, q999 = sql_number(band.q001), sql_number(band.q999)
    aggregates = [f"histogram({_bin(band, 'x')}) AS hx"]
    for i in factors:
        factor = sql_number(UNIT_FACTORS[i][0])
        scaled, back = f"x * {factor}", f"x / {factor}"
        aggregates += [
            f"count(*) FILTER (WHERE x BETWEEN {q01} AND {q99} AND "
            f"{away_condition(band, scaled)}) AS c{i}",
            f"count(*) FILTER (WHERE NOT {back} BETWEEN {q001} AND {q999}) AS u{i}",
            f"histogram({_bin(band, 'x')}) FILTER (WHERE {away_condition(band, scaled)}) AS hc{i}",
            f"histogram({_bin(band, scaled)}) FILTER (WHERE NOT {away_condition(band, scaled)}) "
            f"AS hl{i}",
            f"histogram({_bin(band, back)}) FILTER (WHERE {explained_condition(band, 'x', UNIT_FACTORS[i][0])}) "
            f"AS he{i}",
        ]
    return (
        "SELECT w, "
        + ",\n  ".join(aggregates)
        + f"\nFROM (SELECT {SIDE_CASE} AS w, {x} AS x FROM decisions WHERE {SIDE_WHERE}) AS s\n"
        "WHERE w IS NOT NULL AND x IS NOT NULL GROUP BY w"
    )


def _best_unit(
    ctx: Context, x: str, params: dict[str, Any], band: UnitBand, nb: int, ni: int
) -> tuple[UnitFinding | None, list[str], list[str]]:
    """The unit factor found (None: none), the reasons, and the queries run: the values that
    left the central range are read first; only when a factor explains enough of them are
    all values read again to test the untouched rest."""
    explained_sql = _explained_sql(x, band)
    queries = [explained_sql]
    rows = {r["w"]: r for r in ctx.run(explained_sql, params).to_pylist()}
    base, inc = rows.get("baseline", {}), rows.get("incident", {})
    away_i = int(inc.get("away") or 0)
    candidates: list[tuple[int, UnitFinding]] = []
    rejected: list[str] = []
    for i, (f, label) in enumerate(UNIT_FACTORS):
        explained = int(inc.get(f"e{i}") or 0)
        found = UnitFinding(f, label, int(base.get(f"e{i}") or 0) / nb, explained / ni, band)
        if found.excess < UNIT_MIN_EXCESS or explained < UNIT_MIN_ROWS:
            continue
        if explained < UNIT_MIN_EXPLAINED * away_i:
            rejected.append(
                f"{label} explains only {explained} of the {away_i} values that left the "
                "baseline's range"
            )
            continue
        misplaced = _misplaced(inc.get(f"m{i}"), band)
        if misplaced:
            rejected.append(f"{label}: {misplaced}")
            continue
        candidates.append((i, found))
    kept: list[tuple[UnitFinding, float]] = []
    if candidates:
        rest_sql = _rest_sql(x, band, [i for i, _ in candidates])
        queries.append(rest_sql)
        rest = {r["w"]: r for r in ctx.run(rest_sql, params).to_pylist()}
        for i, found in candidates:
            why = _deficit_mismatch(
                i, rest.get("baseline", {}), rest.get("incident", {}), nb, ni
            ) or _rest_mismatch(
                i, found, rest.get("baseline", {}), rest.get("incident", {}), nb, ni
            )
            if why:
                rejected.append(f"{found.label}: {why}")
            else:
                kept.append((found, _shape_gap(inc.get(f"m{i}"), band)))
    if not kept:
        return None, [f"no unit factor: {'; '.join(rejected)}"] if rejected else [], queries
    top = max(found.excess for found, _ in kept)
    tied = [(found, gap) for found, gap in kept if found.excess >= UNIT_TIE * top]
    best, _ = min(tied, key=lambda t: (t[1], -t[0].excess))
    reasons = [
        f"values a unit factor away: {best.label} explains {best.share_incident:.2%} of the "
        f"values (baseline {best.share_baseline:.2%}): they lie beyond the baseline's "
        f"[{band.q001:.4g}, {band.q999:.4g}] and, scaled back, inside its [{band.q01:.4g}, "
        f"{band.q99:.4g}]"
    ]
    others = [found.label for found, _ in tied if found is not best]
    if others:
        reasons.append(
            f"{best.label} chosen over {', '.join(others)} (about as many values; scaled back, "
            f"its quartiles are closest to the baseline's {band.q25:.4g}, {band.q50:.4g}, "
            f"{band.q75:.4g})"
        )
    return best, reasons, queries


def _misplaced(quartiles: list[float] | None, band: UnitBand) -> str:
    """Why the values a factor explains do not scale back to where the baseline's values lie
    ("" when they do). Values sent in other units scale back onto the baseline's distribution,
    so their median lands in its middle; a world that moved up pushes its upper tail out of the
    range, and that tail divided by 10 lands low in the baseline's bulk, not in its middle."""
    if not quartiles or quartiles[1] is None:
        return ""
    median = float(quartiles[1])
    lo, hi = band.deciles[0], band.deciles[-1]
    if not lo <= median <= hi:
        return (
            f"scaled back, their median {median:.4g} lies outside the baseline's middle "
            f"[{lo:.4g}, {hi:.4g}] (q0.1 to q0.9): not the baseline's values in other units"
        )
    if _shape_gap(quartiles, band) > UNIT_SHAPE_GAP:
        return "scaled back, their quartiles do not match the baseline's"
    return ""


def _shape_gap(quartiles: list[float] | None, band: UnitBand) -> float:
    """How far the scaled-back quartiles of the values a factor explains lie from the
    baseline's, in units of the baseline's bulk: the right factor puts them back in place
    (x100 against x1000, or any large factor on values around 0, which all land in the bulk)."""
    if not quartiles:
        return math.inf
    ours = (band.q25, band.q50, band.q75)
    return sum(abs(float(a) - b) for a, b in zip(quartiles, ours, strict=True)) / (
        band.q99 - band.q01
    )


def _bin(band: UnitBand, v: str) -> str:
    """SQL of v's decile bin of the baseline's bulk (0..9; NULL outside [q01, q99])."""
    steps = " + ".join(f"CAST({v} >= {sql_number(d)} AS INTEGER)" for d in band.deciles)
    return (
        f"CASE WHEN {v} BETWEEN {sql_number(band.q01)} AND {sql_number(band.q99)} THEN {steps} END"
    )


def _deficit_mismatch(i: int, base: dict[str, Any], inc: dict[str, Any], nb: int, ni: int) -> str:
    """Why the rows the factor explains did not leave from where they scale back to ("" when
    they did, or when no bin can tell). A value sent in other units is missing from its true
    place: in the bins every scaled value leaves and no scaled value lands in, the target
    should hold the baseline's share less the explained values that scale back into the bin.
    The part of that predicted deficit which is really there is estimated by weighted least
    squares over those bins (1: all of it, 0: none); rows that moved by some other factor (a
    world change of one producer) left from elsewhere, and leave it near 0."""
    counts_b = _histogram(base.get("hx"))
    counts_i = _histogram(inc.get("hx"))
    leaving = _histogram(base.get(f"hc{i}"))
    landing = _histogram(base.get(f"hl{i}"))
    explained = _histogram(inc.get(f"he{i}"))
    cross = weight = predicted = 0.0
    for k in range(10):
        n_k = counts_b.get(k, 0)
        if not n_k or leaving.get(k, 0) < UNIT_BIN_LEAVES * n_k:
            continue
        if landing.get(k, 0) > UNIT_BIN_LANDING * n_k or not explained.get(k, 0):
            continue
        p_k = n_k / nb
        deficit = explained[k] / ni * n_k / leaving[k]
        variance = p_k * (1 / nb + 1 / ni)
        cross += deficit * (p_k - counts_i.get(k, 0) / ni) / variance
        weight += deficit**2 / variance
        predicted += deficit
    if not weight:
        return ""
    present, error = cross / weight, 1 / math.sqrt(weight)
    if error > UNIT_DEFICIT_MAX_ERROR or present >= UNIT_DEFICIT_PRESENT:
        return ""
    return (
        f"scaled back, the values it explains should have left bins of the baseline's bulk "
        f"({predicted:.1%} of the values), but {present:.0%} (+-{error:.0%}) of that deficit "
        "is there: they left from elsewhere (a world that moved, not units)"
    )


def _histogram(value: Any) -> dict[int, int]:
    return {int(k): int(v) for k, v in dict(value or {}).items() if k is not None}


def _rest_mismatch(
    i: int, found: UnitFinding, base: dict[str, Any], inc: dict[str, Any], nb: int, ni: int
) -> str:
    """Why the values the factor leaves alone do not look like the baseline ("" when they
    do): see the module docstring."""
    coverage = int(base.get(f"c{i}") or 0) / nb
    if coverage <= 0:
        return "no baseline value would be seen scaled"
    scaled = min(1.0, found.excess / coverage)
    region_b = int(base.get(f"u{i}") or 0) / nb
    region_i = int(inc.get(f"u{i}") or 0) / ni
    expected = (1 - scaled) * region_b
    if abs(region_i - expected) <= UNIT_REST_TOLERANCE * region_b + UNIT_REST_SLACK:
        return ""
    return (
        f"if {scaled:.0%} of the values had been scaled, {expected:.1%} would remain where "
        f"scaled values cannot reach (baseline {region_b:.1%}), but {region_i:.1%} do: the "
        "rest moved too (a world that moved, not units)"
    )


# -- categorical nodes and the verdict -----------------------------------------------------


def _categorical(ctx: Context, node: Node, params: dict[str, Any], name: str) -> Plausibility:
    values, declared = sentinel_candidates(node)
    sql = (
        "SELECT w, count(*) AS n, count(v) AS n_values"
        f"{_sentinel_counts_sql(node, values, declared, 'v')}\n"
        f"FROM (SELECT {SIDE_CASE} AS w, ({node.expr}) AS v FROM decisions WHERE {SIDE_WHERE}) "
        "AS s\nWHERE w IS NOT NULL GROUP BY w"
    )
    sides = {r["w"]: r for r in ctx.run(sql, params).to_pylist()}
    base, inc = sides.get("baseline", {}), sides.get("incident", {})
    nb, ni = int(base.get("n_values") or 0), int(inc.get("n_values") or 0)
    sentinels = _sentinels(values, declared, base, inc)
    return _decide(node, name, nb, ni, None, None, None, sentinels, False, sentinels.reasons, [sql])


def _decide(
    node: Node,
    name: str,
    nb: int,
    ni: int,
    range_b: float | None,
    range_i: float | None,
    unit: UnitFinding | None,
    sentinels: _Sentinels,
    range_evidence: bool,
    reasons: list[str],
    sql: list[str],
) -> Plausibility:
    enough = nb >= MIN_VALUES and ni >= MIN_VALUES
    if not enough:
        reasons = [
            f"too few values to judge: baseline {nb}, {name} {ni} (need {MIN_VALUES} a side)",
            *reasons,
        ]
        unit = None
    implausible = enough and (range_evidence or unit is not None or sentinels.evidence)
    if enough and not implausible:
        reasons.append("no implausible values: nothing points at the pipeline")
    return Plausibility(
        node=node.id,
        n_baseline=nb,
        n_incident=ni,
        out_of_range_baseline=range_b,
        out_of_range_incident=range_i,
        unit_factor=unit.factor if unit else None,
        unit_label=unit.label if unit else None,
        unit_share=unit.excess if unit else 0.0,
        sentinel_values=sentinels.values,
        sentinel_baseline=sentinels.share_baseline,
        sentinel_incident=sentinels.share_incident,
        implausible=implausible,
        reasons=[f"{node.id}: {r}" for r in reasons],
        sql=sql,
    )


def _unobserved(node: Node) -> Plausibility:
    return Plausibility(
        node=node.id,
        n_baseline=0,
        n_incident=0,
        out_of_range_baseline=None,
        out_of_range_incident=None,
        unit_factor=None,
        unit_label=None,
        unit_share=0.0,
        sentinel_values=[],
        sentinel_baseline=0.0,
        sentinel_incident=0.0,
        implausible=False,
        reasons=[f"{node.id}: not observed row by row (no expression): plausibility unknown"],
        sql=[],
    )
