"""Where a shift happened: in one producer of the rows, or across all of them.

A producer is whoever wrote a decisions row: a segment, a source, a site, a client version, a
shard, the model version (the playbook's `[evidence] producers`; by default every `seg_*`
column and the model's version column). A node that moved in one producer while the others
stayed put points at that producer's pipeline (a broken client release, one vendor's feed);
a node that moved the same way in every producer points at the world those producers share.

One query per node measures every producer column at once (GROUPING SETS over the columns,
window x value): per value the row count and the non-missing count, and the sum of the values
(numeric) or the category histogram (categorical). The node's effect within a producer is on
the scale of console.engine.stats_screen (Cohen's conventions: 0.2 small, 0.5 medium, 0.8
large), the largest in absolute value of:
- numeric: (mean_incident - mean_baseline) / std of the WHOLE baseline, so that producers are
  measured with one ruler (a producer's own spread would make a quiet producer look loud);
- categorical: Cohen's h of the share change of the category that moved most;
- missing values (NULL, and NaN or infinite for numeric): Cohen's h of the missing-rate change.
A value with fewer than MIN_ROWS rows on a side has no effect (None). A column with more than
TOP_VALUES values keeps the TOP_VALUES with the most incident rows and folds the rest into
"(other)"; NULL is the value "(missing)" (a real value spelled like either label is shown
under it).

The rule (the constants below say why each number):
- concentrated: in some column, the value with the largest |effect| has |effect| >= MEDIUM,
  above its sampling noise, at least DOMINANCE times the largest |effect| of the column's
  other measured values, and holds less than MAX_SHARE of the incident rows. With several
  such columns, the one whose value dominates its others most (the most specific producer).
- spread: the node moved overall (|effect| >= SMALL) and in every informative column (two or
  more measured values) producers holding >= SPREAD_ROWS of the measured incident rows, at
  least two of them, moved by >= SPREAD_FRACTION of the overall effect in its direction
  (measured along the overall effect's own component: the mean, the missing rate or the same
  category's share).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from console.engine.context import SIDE_CASE, SIDE_WHERE, Context, side_params
from console.engine.screening import ROW_KINDS
from console.engine.stats_math import cohen_h, jsonable
from console.errors import ConsoleError
from console.numbers import share
from console.telemetry.store import duckdb_identifier

# Below 30 rows a mean or a share is too noisy to compare producers by (the usual
# rule of thumb for a normal approximation, and the engine's min_n elsewhere).
MIN_ROWS = 30
# A medium effect (Cohen): a move a person would notice in the producer's own data.
MEDIUM = 0.5
# The other producers must be clearly quieter: a third of the effect or less, so that a
# producer twice as affected as its peers (a world change that some feel more) is not a fault.
DOMINANCE = 3.0
# A producer holding 80% or more of the rows IS the traffic: its shift is the node's shift
# and says nothing about where the shift came from.
MAX_SHARE = 0.8
# Spread: the shift shows in producers holding most of the rows, not merely in a majority
# of values (five tiny shards must not outvote the one big one).
SPREAD_ROWS = 0.7
# ... each moved at least half as far as the node overall, the same way: a world change
# reaches every producer, not necessarily with the same strength.
SPREAD_FRACTION = 0.5
# A small effect (Cohen): below it the node did not move, and "spread" would only describe
# noise spread everywhere.
SMALL = 0.2
# The concentrated producer's effect must stand this many standard errors above zero (the
# standard error of d or h is about sqrt(1/n_baseline + 1/n_incident)): 30 rows alone can
# wobble by 0.5.
NOISE_Z = 3.0
# Values kept per column; the rest are folded into OTHER (a shard column may hold hundreds).
TOP_VALUES = 30
MISSING = "(missing)"
OTHER = "(other)"

# What an effect measures: ("mean", ""), ("missing", "") or ("share", <category>).
Component = tuple[str, str]


@dataclass(frozen=True)
class ProducerShift:
    column: str
    value: str  # the producer value as text (NULL -> "(missing)")
    rows_baseline: int
    rows_incident: int
    effect: float | None  # the node's effect size within this producer (None: too few rows)


@dataclass(frozen=True)
class Concentration:
    node: str
    columns: list[str]  # producer columns examined
    column: str | None  # the column whose one value holds the shift (None: not concentrated)
    value: str | None
    effect_in: float | None  # effect within that producer
    effect_others: float | None  # largest |effect| among that column's other measured values
    share_rows: float | None  # that producer's share of incident rows
    spread: bool  # every informative column: the shift shows in most producers (rows-weighted)
    per_producer: dict[str, list[ProducerShift]]  # column -> values, largest |effect| first
    reasons: list[str]
    sql: list[str]

    @property
    def concentrated(self) -> bool:
        return self.column is not None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = jsonable(asdict(self))
        return data


@dataclass
class _Side:
    """One window's aggregates of one producer value (or of the whole window)."""

    rows: int = 0
    values: int = 0  # non-missing
    total: float = 0.0  # numeric: sum of the non-missing values
    hist: dict[str, int] = field(default_factory=dict)  # categorical: category -> count

    def add(self, other: _Side) -> None:
        self.rows += other.rows
        self.values += other.values
        self.total += other.total
        for key, count in other.hist.items():
            self.hist[key] = self.hist.get(key, 0) + count


@dataclass
class _Value:
    """A producer value's two sides, its shift, and its effect along the overall component."""

    label: str
    base: _Side
    inc: _Side
    shift: ProducerShift | None = None
    along: float | None = None


def producer_columns(ctx: Context) -> list[str]:
    """The decisions columns naming who produced a row: `[evidence] producers`, else every
    seg_* column and the model version column (those present in the decisions table)."""
    named = ctx.playbook.producers
    if named:
        missing = [c for c in named if not ctx.has_column(c)]
        if missing:
            raise ConsoleError(
                f"{ctx.playbook.path}: [evidence] producers names {missing[0]!r}, "
                f"which is not a column of {ctx.store.label('decisions')}",
                key="evidence.producers",
            )
        return list(dict.fromkeys(named))
    columns = [c for c in ctx.columns if c.startswith("seg_")]
    version = ctx.playbook.model.version_column
    if version and ctx.has_column(version) and version not in columns:
        columns.append(version)
    return columns


def measure_concentration(ctx: Context, node_id: str) -> Concentration:
    """Whether node_id's shift sits in one producer or across all of them (cached per node)."""
    key = f"concentration:{node_id}"
    if key not in ctx.cache:
        ctx.cache[key] = _measure(ctx, node_id)
    result: Concentration = ctx.cache[key]
    return result


# -- measure -------------------------------------------------------------------------------


def _measure(ctx: Context, node_id: str) -> Concentration:
    node = ctx.node(node_id)
    columns = producer_columns(ctx)
    if node.kind not in ROW_KINDS or not node.expr:
        return _nothing(
            node_id, columns, f"{node_id} has no per-row value to break down by producer"
        )
    if not columns:
        return _nothing(
            node_id,
            [],
            "no producer columns: the decisions have no seg_* column and no model version "
            "column, and the playbook names none ([evidence] producers)",
        )
    sql = _sql(node.expr, node.type, columns)
    rows = ctx.run(sql, side_params(ctx.baseline, ctx.incident)).to_pylist()
    whole: dict[str, _Side] = {"baseline": _Side(), "incident": _Side()}
    stds: dict[str, float | None] = {}
    groups: dict[str, dict[str, dict[str, _Side]]] = {c: {} for c in columns}
    for row in rows:
        side = _side(row)
        grouped = [i for i in range(len(columns)) if row[f"g{i}"] == 0]
        if not grouped:
            whole[row["w"]] = side
            stds[row["w"]] = row.get("s")
            continue
        value = row[f"p{grouped[0]}"]
        label = MISSING if value is None else str(value)
        groups[columns[grouped[0]]].setdefault(label, {})[row["w"]] = side
    scale = _scale(stds)
    overall = _effects(node.type, whole["baseline"], whole["incident"], scale)
    component, effect = _largest(overall)
    per: dict[str, list[_Value]] = {}
    for column in columns:
        values = _fold(groups[column])
        for item in values:
            effects = _effects(node.type, item.base, item.inc, scale)
            _, own = _largest(effects)
            item.shift = ProducerShift(column, item.label, item.base.rows, item.inc.rows, own)
            if own is not None and component is not None:
                item.along = _along(component, item.base, item.inc, scale)
        per[column] = sorted(values, key=_rank)
    return _decide(node_id, columns, per, component, effect, sql)


def _sql(expr: str, node_type: str, columns: list[str]) -> str:
    """One scan of both windows, grouped by window alone and by window x each producer."""
    keys = [f"CAST({duckdb_identifier(c)} AS VARCHAR) AS p{i}" for i, c in enumerate(columns)]
    names = [f"p{i}" for i in range(len(columns))]
    flags = [f"GROUPING(p{i}) AS g{i}" for i in range(len(columns))]
    if node_type == "numeric":
        # NaN and infinity become NULL (missing) once per row in the middle projection.
        value = f"CAST(({expr}) AS DOUBLE) AS r"
        clean = "CASE WHEN isfinite(r) THEN r END AS x"
        aggregates = "count(x) AS v, sum(x) AS t, stddev_samp(x) AS s"
    else:
        value = f"CAST(({expr}) AS VARCHAR) AS r"
        clean = "r AS x"
        aggregates = "count(x) AS v, histogram(x) AS h"
    sets = ", ".join(["(w)", *(f"(w, {n})" for n in names)])
    return (
        f"SELECT w, {', '.join(names)}, {', '.join(flags)}, count(*) AS n, {aggregates}\n"
        f"FROM (SELECT w, {', '.join(names)}, {clean}\n"
        f"  FROM (SELECT {SIDE_CASE} AS w, {', '.join(keys)}, {value}\n"
        f"    FROM decisions WHERE {SIDE_WHERE}) AS valued) AS cleaned\n"
        f"WHERE w IS NOT NULL\nGROUP BY GROUPING SETS ({sets})"
    )


def _side(row: dict[str, Any]) -> _Side:
    hist = row.get("h") or {}
    return _Side(
        rows=int(row["n"]),
        values=int(row["v"] or 0),
        total=float(row.get("t") or 0.0),
        hist={str(k): int(c) for k, c in dict(hist).items()},
    )


def _scale(stds: dict[str, float | None]) -> float | None:
    """The whole baseline's standard deviation (the incident's when the baseline has none):
    the one ruler every producer's mean shift is measured with."""
    for side in ("baseline", "incident"):
        value = stds.get(side)
        if value is not None and math.isfinite(value) and value > 0:
            return float(value)
    return None


def _fold(groups: dict[str, dict[str, _Side]]) -> list[_Value]:
    """The producer values of one column, the TOP_VALUES with most incident rows kept and the
    rest folded into OTHER."""
    values = [
        _Value(label, sides.get("baseline", _Side()), sides.get("incident", _Side()))
        for label, sides in groups.items()
    ]
    values.sort(key=lambda v: (-v.inc.rows, -v.base.rows, v.label))
    if len(values) <= TOP_VALUES:
        return values
    folded = _Value(OTHER, _Side(), _Side())
    for item in values[TOP_VALUES:]:
        folded.base.add(item.base)
        folded.inc.add(item.inc)
    return [*values[:TOP_VALUES], folded]


def _effects(
    node_type: str, base: _Side, inc: _Side, scale: float | None
) -> dict[Component, float]:
    """Every signed effect of one producer (or the whole window), by component."""
    if base.rows < MIN_ROWS or inc.rows < MIN_ROWS:
        return {}
    out: dict[Component, float] = {
        ("missing", ""): cohen_h(1 - base.values / base.rows, 1 - inc.values / inc.rows)
    }
    if base.values < MIN_ROWS or inc.values < MIN_ROWS:
        return out
    if node_type == "numeric":
        out[("mean", "")] = _mean_shift(base, inc, scale)
    else:
        for category in set(base.hist) | set(inc.hist):
            out[("share", category)] = _share_shift(category, base, inc)
    return out


def _along(component: Component, base: _Side, inc: _Side, scale: float | None) -> float | None:
    """One producer's effect along the overall shift's component (None: not measurable)."""
    kind, category = component
    if kind == "missing":
        return cohen_h(1 - base.values / base.rows, 1 - inc.values / inc.rows)
    if base.values < MIN_ROWS or inc.values < MIN_ROWS:
        return None
    if kind == "mean":
        return _mean_shift(base, inc, scale)
    return _share_shift(category, base, inc)


def _mean_shift(base: _Side, inc: _Side, scale: float | None) -> float:
    diff = inc.total / inc.values - base.total / base.values
    if scale:
        return diff / scale
    # A constant baseline: any change is infinitely many of its (zero) standard deviations.
    return 0.0 if diff == 0 else math.copysign(math.inf, diff)


def _share_shift(category: str, base: _Side, inc: _Side) -> float:
    return cohen_h(base.hist.get(category, 0) / base.values, inc.hist.get(category, 0) / inc.values)


def _largest(effects: dict[Component, float]) -> tuple[Component | None, float | None]:
    if not effects:
        return None, None
    component = max(effects, key=lambda c: abs(effects[c]))
    return component, effects[component]


def _rank(item: _Value) -> tuple[int, float, str]:
    """Largest |effect| first, values without one last."""
    effect = item.shift.effect if item.shift else None
    if effect is None:
        return (1, 0.0, item.label)
    return (0, -abs(effect), item.label)


# -- decide --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    column: str
    value: str
    effect_in: float
    effect_others: float
    share_rows: float

    @property
    def dominance(self) -> float:
        return abs(self.effect_in) / max(self.effect_others, 1e-12)


def _decide(
    node_id: str,
    columns: list[str],
    per: dict[str, list[_Value]],
    component: Component | None,
    effect: float | None,
    sql: str,
) -> Concentration:
    reasons: list[str] = []
    candidates = []
    for column in columns:
        candidate, why = _concentrated_in(column, per[column])
        reasons.append(why)
        if candidate is not None:
            candidates.append(candidate)
    best = max(candidates, key=lambda c: c.dominance, default=None)
    spread, why_spread = _spread(node_id, per, effect)
    if best is not None:
        reasons.insert(
            0,
            f"the shift of {node_id} is concentrated in {best.column} = {best.value!r}: "
            f"effect {best.effect_in:+.2f} there ({share(best.share_rows)} of incident rows) "
            f"against at most {best.effect_others:.2f} in the column's other values: "
            "evidence of a fault in one producer",
        )
    if spread:
        reasons.insert(
            0,
            f"the shift of {node_id} ({effect:+.2f} overall) shows in the producers holding most "
            "rows of every producer column: evidence of a change shared by every producer",
        )
    reasons.extend(why_spread)
    return Concentration(
        node=node_id,
        columns=columns,
        column=best.column if best else None,
        value=best.value if best else None,
        effect_in=best.effect_in if best else None,
        effect_others=best.effect_others if best else None,
        share_rows=best.share_rows if best else None,
        spread=spread,
        per_producer={c: [v.shift for v in per[c] if v.shift is not None] for c in columns},
        reasons=reasons,
        sql=[sql],
    )


def _concentrated_in(column: str, values: list[_Value]) -> tuple[_Candidate | None, str]:
    """The column's concentrated producer, if any, and why (not)."""
    measured = [(v, v.shift.effect) for v in values if v.shift and v.shift.effect is not None]
    if len(measured) < 2:
        return None, (
            f"{column}: {len(measured)} value(s) with {MIN_ROWS}+ rows on each side: "
            "no producers to compare"
        )
    (top, e_in), others = measured[0], measured[1:]
    e_others = max(abs(e) for _, e in others)
    rows = sum(v.inc.rows for v in values)
    share_rows = top.inc.rows / rows if rows else 0.0
    noise = NOISE_Z * math.sqrt(1 / top.base.rows + 1 / top.inc.rows)
    head = f"{column}: {top.label!r} moved most ({e_in:+.2f}, {share(share_rows)} of incident rows)"
    if top.label == OTHER:
        return None, f"{head}, and it gathers many small producers: not one producer"
    if abs(e_in) < max(MEDIUM, noise):
        return None, f"{head}: under a medium effect ({MEDIUM}) or its noise ({noise:.2f})"
    if not math.isfinite(e_others) or abs(e_in) < DOMINANCE * e_others:
        return None, (
            f"{head}, but another value moved {e_others:.2f} "
            f"(needs under a third of it): not confined to one producer"
        )
    if share_rows >= MAX_SHARE:
        return (
            None,
            f"{head}, but it carries {share(MAX_SHARE)} or more of the traffic: it IS the traffic",
        )
    return _Candidate(column, top.label, e_in, e_others, share_rows), head


def _spread(
    node_id: str, per: dict[str, list[_Value]], effect: float | None
) -> tuple[bool, list[str]]:
    """Whether the shift shows in the producers holding most rows, in every informative column."""
    if effect is None or abs(effect) < SMALL or math.isnan(effect):
        moved = "not measurable" if effect is None else f"{effect:+.2f}"
        return False, [f"{node_id} moved {moved} overall (under {SMALL}): no shift to spread"]
    reasons, verdicts = [], []
    for column, values in per.items():
        measured = [(v, v.along) for v in values if v.along is not None]
        if len(measured) < 2:
            continue
        showing = [
            v
            for v, along in measured
            if math.copysign(1.0, along) == math.copysign(1.0, effect)
            and abs(along) >= SPREAD_FRACTION * abs(effect)
        ]
        rows = sum(v.inc.rows for v, _ in measured)
        held = sum(v.inc.rows for v in showing) / rows if rows else 0.0
        ok = held >= SPREAD_ROWS and len(showing) >= 2
        verdicts.append(ok)
        reasons.append(
            f"{column}: {len(showing)} of {len(measured)} values, holding {share(held)} of the "
            f"incident rows, moved at least half as far as {node_id} overall ({effect:+.2f}) "
            + ("- spread across producers" if ok else "- not spread")
        )
    if not verdicts:
        reasons.append("no producer column has two values with enough rows: spread unknown")
    return bool(verdicts) and all(verdicts), reasons


def _nothing(node_id: str, columns: list[str], reason: str) -> Concentration:
    return Concentration(
        node=node_id,
        columns=columns,
        column=None,
        value=None,
        effect_in=None,
        effect_others=None,
        share_rows=None,
        spread=False,
        per_producer={},
        reasons=[reason],
        sql=[],
    )
