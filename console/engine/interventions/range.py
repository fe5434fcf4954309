"""range (measures the source): the share of the source's values that are implausible - outside
the node's declared valid range (valid_min / valid_max), or a unit factor away from the
baseline (console.engine.plausibility: x10, x100, x1000, known conversions); broken when the
window's share exceeds the baseline's by more than `max_implausible`.

Implausible values are never the world moving, so a broken verdict blames the pipeline
(may_be_external False), and locate gives a declared-range breach seen by the screening (or a
plausibility measurement already made) as many points as a served/reference mismatch.
"""

from __future__ import annotations

from typing import Any

from console.engine.context import SIDE_CASE, SIDE_WHERE, Context, sql_number
from console.engine.corrections import Correction, draw_from_baseline, fed_features
from console.engine.expressions import finite_or_null
from console.engine.interventions.base import (
    EVIDENCE_ROWS,
    MIN_ROWS,
    InterventionKind,
    Outcome,
    count,
    windows,
)
from console.engine.plausibility import (
    Plausibility,
    UnitFinding,
    explained_condition,
    measure,
    measured,
    range_condition,
    range_text,
)
from console.engine.results import Histogram, InterventionResult, Verdict, Window
from console.engine.stats import Screening
from console.playbook.model import Edge, Node

# Locate's points for implausible values: as many as a served value that disagrees with its
# reference (shadow_recompute) - a value outside its contract, or in other units, is wrong
# whatever the world did.
IMPLAUSIBLE_POINTS = 3.0


class Range(InterventionKind):
    name = "range"
    # Implausible values are direct evidence of what the pipeline sent, as missing values are
    # (null_rate shares the rank): only a recompute from raw inputs says more.
    locate_rank = 1

    def run(self, ctx: Context, edge: Edge, target: Window, params: dict[str, Any]) -> Outcome:
        node = ctx.node(edge.source)
        plausibility, unit = measure(ctx, node.id, target)
        max_implausible = float(self.param(edge, "max_implausible"))
        name = target.name
        x = finite_or_null(node.expr)
        flagged = implausible_condition(node, unit, "x")
        parts = _parts(node, unit, "x")
        counts = ", ".join(
            [f"count(*) FILTER (WHERE {flagged}) AS implausible"]
            + [f"count(*) FILTER (WHERE {cond}) AS part{i}" for i, (_, cond) in enumerate(parts)]
        )
        sql = (
            f"SELECT w, count(*) AS n, count(x) AS n_values, {counts}\n"
            f"FROM (SELECT {SIDE_CASE} AS w, {x} AS x FROM decisions WHERE {SIDE_WHERE}) AS s\n"
            "WHERE w IS NOT NULL GROUP BY w"
        )
        sides = {r["w"]: r for r in ctx.run(sql, params).to_pylist()}
        n_b, n_t = count(sides, "baseline", "n_values"), count(sides, "incident", "n_values")
        share_b = count(sides, "baseline", "implausible") / n_b if n_b else 0.0
        share_t = count(sides, "incident", "implausible") / n_t if n_t else 0.0
        rise = share_t - share_b
        verdict: Verdict
        shares = f"{share_t:.2%} of {name} values (baseline {share_b:.2%})"
        if n_b < MIN_ROWS or n_t < MIN_ROWS:
            verdict = "inconclusive"
            head = f"too few values: baseline {n_b}, {name} {n_t} (need {MIN_ROWS})"
        elif rise > max_implausible:
            verdict = "broken"
            head = f"implausible: {shares}, +{rise:.2%} > max_implausible {max_implausible:.2%}"
        else:
            verdict = "ok"
            head = f"plausible: {shares} implausible, within max_implausible {max_implausible:.2%}"
        found = f"most likely unit factor {unit.label}" if unit else "no unit factor explains them"
        if not parts:
            found = "no valid range declared and no unit factor found"
        reasons = [f"{node.id} {head}; {found}", *plausibility.reasons]
        labels = ["plausible", *(label for label, _ in parts)]
        histogram = Histogram(
            edges=labels,
            series={
                "baseline": _shares(sides.get("baseline", {}), parts, n_b),
                name: _shares(sides.get("incident", {}), parts, n_t),
            },
        )
        evidence_sql = (
            f"SELECT prediction_id, ts, x AS value FROM (SELECT prediction_id, ts, {x} AS x "
            f"FROM decisions WHERE ts >= $start AND ts < $end) AS s WHERE {flagged} "
            f"ORDER BY ts, prediction_id LIMIT {EVIDENCE_ROWS}"
        )
        statistics = {
            **_plausibility_stats(plausibility, name),
            "max_implausible": max_implausible,
            "valid_range": range_text(node),
            "implausible_share_baseline": share_b if n_b else None,
            f"implausible_share_{name}": share_t if n_t else None,
        }
        result = InterventionResult(
            edge=(edge.source, edge.target),
            node=node.id,
            type=self.name,
            verdict=verdict,
            statistics=statistics,
            reasons=reasons,
            sql=[*plausibility.sql, sql, evidence_sql],
            rows={
                "baseline": count(sides, "baseline", "n"),
                name: count(sides, "incident", "n"),
            },
            windows=windows(ctx, target),
            evidence=[],
            histogram=histogram,
        )
        return Outcome(result, evidence_sql, {"start": target.start, "end": target.end})

    def screening_exprs(self, ctx: Context) -> dict[str, tuple[str, str]]:
        """implausible:<node>: 1.0 where a numeric node with a declared valid range holds a
        value outside it (unit factors need the baseline's quantiles: the intervention's)."""
        exprs = {}
        for node in ctx.playbook.nodes.values():
            if _has_range(node):
                x = finite_or_null(node.expr)
                flag = f"CASE WHEN {x} IS NULL THEN NULL WHEN {range_condition(node, x)} "
                exprs[f"implausible:{node.id}"] = (flag + "THEN 1.0 ELSE 0.0 END", "numeric")
        return exprs

    def breakage(
        self,
        ctx: Context,
        node_id: str,
        edge: Edge,
        screening: dict[str, Screening],
        reasons: list[str],
    ) -> float:
        threshold = self._threshold(edge, node_id)
        item = screening.get(f"implausible:{node_id}")
        if item is not None and item.mean_incident is not None and not item.inconclusive:
            base, inc = item.mean_baseline or 0.0, item.mean_incident
            if inc - base > threshold:
                reasons.append(
                    f"outside its declared valid range {range_text(ctx.node(node_id))}: "
                    f"{base:.1%} -> {inc:.1%} of the values (+{IMPLAUSIBLE_POINTS:g})"
                )
                return IMPLAUSIBLE_POINTS
        # A unit factor needs quantiles: only a measurement already made counts here.
        found = measured(ctx, node_id, ctx.incident)
        if found is not None and found.unit_label and found.unit_share > threshold:
            reasons.append(
                f"values a unit factor away: {found.unit_label} explains {found.unit_share:.1%} "
                f"of the incident's values beyond the baseline (+{IMPLAUSIBLE_POINTS:g})"
            )
            return IMPLAUSIBLE_POINTS
        return 0.0

    def _threshold(self, edge: Edge, node_id: str) -> float:
        """max_implausible of a range test planned on the edge testing node_id, else the
        default."""
        if edge.source == node_id:
            for planned in edge.planned:
                if planned.type == self.name and "max_implausible" in planned.params:
                    return float(planned.params["max_implausible"])
        return float(self.default("max_implausible"))

    def correction(self, ctx: Context, edge: Edge, features: list[str]) -> Correction:
        """Rows whose source is implausible in the incident (outside its declared range, or
        explained by the unit factor found) get a baseline draw of every feature it feeds."""
        fed = fed_features(ctx, edge.source, features)
        node = ctx.node(edge.source)
        _, unit = measure(ctx, node.id, ctx.incident)
        x = finite_or_null(node.expr)
        affected = f"coalesce({implausible_condition(node, unit, x)}, false)"
        what = f"rows where {edge.source} is implausible ({_describe(node, unit)})"
        return draw_from_baseline(ctx, fed, affected, what)

    def action_item(self, a: str, b: str) -> str:
        return f"Contract test on the units and valid range of {a} before it reaches {b}"


def implausible_condition(node: Node, unit: UnitFinding | None, x: str) -> str:
    """SQL true where x (the node's value as a DOUBLE) is implausible: outside the declared
    valid range, or explained by the unit factor found."""
    parts = [cond for _, cond in _parts(node, unit, x)]
    return "(" + " OR ".join(parts) + ")" if parts else "false"


def _parts(node: Node, unit: UnitFinding | None, x: str) -> list[tuple[str, str]]:
    """(label, SQL) of each kind of implausible value, disjoint: a value outside the declared
    range is counted there, not under the unit factor."""
    parts = []
    if node.valid_min is not None:
        parts.append(("below valid_min", f"{x} < {sql_number(node.valid_min)}"))
    if node.valid_max is not None:
        parts.append(("above valid_max", f"{x} > {sql_number(node.valid_max)}"))
    if unit is not None:
        outside = range_condition(node, x)
        parts.append(
            (
                f"{unit.label} away",
                f"(NOT {outside} AND {explained_condition(unit.band, x, unit.factor)})",
            )
        )
    return parts


def _shares(side: dict[str, Any], parts: list[tuple[str, str]], n: int) -> list[float]:
    if not n:
        return [0.0] * (len(parts) + 1)
    implausible = int(side.get("implausible") or 0)
    return [1 - implausible / n, *(int(side.get(f"part{i}") or 0) / n for i in range(len(parts)))]


def _has_range(node: Node) -> bool:
    return (
        node.type == "numeric"
        and node.kind != "metric"
        and bool(node.expr)
        and (node.valid_min is not None or node.valid_max is not None)
    )


def _describe(node: Node, unit: UnitFinding | None) -> str:
    found = [f"outside {range_text(node)}"] if _has_range(node) else []
    if unit is not None:
        found.append(f"{unit.label} away from the baseline")
    return " or ".join(found) or "nothing found implausible"


def _plausibility_stats(p: Plausibility, name: str) -> dict[str, Any]:
    """The Plausibility's fields (not its SQL or reasons, kept beside), incident -> name."""
    data = p.to_dict()
    data.pop("sql")
    data.pop("reasons")
    return {key.replace("incident", name): value for key, value in data.items()}


KIND = Range()
