"""What every intervention type module provides, and the helpers they share.

A type is a subclass of InterventionKind, one per module, named after its TypeSpec (the
parameters, declared in console.playbook.intervention_types). Everything else the engine
knows about a type is a class attribute or method here, read through the registry
(console.engine.interventions.KINDS): which node it measures, its rank in locate, how it runs,
what the one-pass screening measures for it, its breakage signal in locate, how the
counterfactual corrects what it found broken, and the action item the report suggests.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa

from console.engine.context import SIDE_CASE, SIDE_WHERE, Context
from console.engine.corrections import Correction, fed_features, rank_map
from console.engine.results import Histogram, InterventionResult, Verdict, Window
from console.engine.stats import Screening
from console.playbook.intervention_types import INTERVENTION_TYPES, TypeSpec
from console.playbook.model import Edge
from console.scoring.base import BaseScorer
from console.scoring.build import build_scorer
from console.telemetry.store import duckdb_identifier

MIN_ROWS = 30
SAMPLE_ROWS = 5000
EVIDENCE_ROWS = 1000

End = Literal["source", "target"]
# A statistics verdict (shifted / ok / inconclusive) as an intervention's verdict.
VERDICTS: dict[str, Verdict] = {"shifted": "broken", "ok": "ok"}


@dataclass
class Outcome:
    """An intervention's result plus the rows to keep as evidence (snapshotted by the caller)."""

    result: InterventionResult
    evidence_sql: str = ""
    evidence_params: dict[str, Any] = field(default_factory=dict)
    evidence_table: pa.Table | None = None


class InterventionKind(ABC):
    """One intervention type. Subclasses set `name` (a key of INTERVENTION_TYPES) and
    `locate_rank`, and implement run() and action_item()."""

    name: ClassVar[str]
    # Which end of the edge the intervention measures (and, by default, blames).
    measures: ClassVar[End] = "source"
    # Locate tests a node through the edge whose type ranks lowest: the most direct evidence.
    locate_rank: ClassVar[int]
    # Whose team owns the action item: the measured source's or the target's.
    action_owner: ClassVar[End] = "source"
    # A "broken" verdict may only mean the world moved (shown as this label in the UI, and the
    # automatic run looks for a change event before calling the edge broken).
    broken_label: ClassVar[str] = "BROKEN"
    may_be_external: ClassVar[bool] = False

    @property
    def spec(self) -> TypeSpec:
        return INTERVENTION_TYPES[self.name]

    def planned_on(self, edge: Edge) -> Edge | None:
        """The edge as if this type's planned intervention on it were its only one (so
        param() reads that one's parameters); None when the edge does not plan this type."""
        found = next((i for i in edge.planned if i.type == self.name), None)
        return replace(edge, intervention=found) if found else None

    def edges_planning(self, ctx: Context) -> list[Edge]:
        """Every playbook edge that plans this type, each as planned_on() gives it."""
        return [e for e in (self.planned_on(edge) for edge in ctx.playbook.edges) if e]

    def param(self, edge: Edge, name: str) -> Any:
        """The edge's value of a parameter, else the schema's default."""
        given = edge.intervention.params if edge.intervention else {}
        return given[name] if name in given else self.default(name)

    def default(self, name: str) -> Any:
        """The schema's default of a parameter, as the loader stores it."""
        return self.spec.param(name).parsed_default()

    def tested_node(self, edge: Edge) -> str:
        return edge.target if self.measures == "target" else edge.source

    def root_node(self, ctx: Context, edge: Edge) -> str:
        """The node a broken verdict blames."""
        return self.tested_node(edge)

    @abstractmethod
    def run(self, ctx: Context, edge: Edge, target: Window, params: dict[str, Any]) -> Outcome: ...

    def screening_exprs(self, ctx: Context) -> dict[str, tuple[str, str]]:
        """name -> (row-level SQL, "numeric" | "categorical") for the one screening pass."""
        return {}

    def breakage(
        self,
        ctx: Context,
        node_id: str,
        edge: Edge,
        screening: dict[str, Screening],
        reasons: list[str],
    ) -> float:
        """Locate's breakage points for node_id from this type's screening (edge: the one
        testing the node), each appended to reasons with its numbers."""
        return 0.0

    def correction(self, ctx: Context, edge: Edge, features: list[str]) -> Correction:
        """How the counterfactual corrects what this edge found broken (default: every scorer
        feature the source feeds mapped rank for rank onto its baseline distribution)."""
        return rank_map(ctx, fed_features(ctx, edge.source, features))

    @abstractmethod
    def action_item(self, a: str, b: str) -> str:
        """The report's prevent item; a and b: the edge's ends as Markdown code spans."""


def scorer_of(ctx: Context) -> BaseScorer:
    """The playbook scorer (built once per investigation)."""
    if "scorer" not in ctx.cache:
        spec = ctx.playbook.scorer
        features = spec.features or [
            n.id for n in ctx.playbook.nodes.values() if n.kind == "feature"
        ]
        ctx.cache["scorer"] = build_scorer(spec, ctx.playbook.path.parent, features=features)
    scorer: BaseScorer = ctx.cache["scorer"]
    return scorer


def feature_select(ctx: Context, features: list[str]) -> str:
    """`(expr) AS "node id"` for each scorer feature."""
    return ", ".join(f"({ctx.node(f).expr}) AS {duckdb_identifier(f)}" for f in features)


def windows(ctx: Context, target: Window) -> list[Window]:
    return [ctx.baseline, target]


def sample_sql(expr: str) -> str:
    return f"SELECT {SIDE_CASE} AS w, ({expr}) AS v FROM decisions WHERE {SIDE_WHERE}"


def bucket_counts_sql(value: str, counts: str) -> str:
    """An evidence snapshot's query: per window side and time bucket ($bucket), the
    aggregates `counts` over `v`, the row's value (SQL `value`)."""
    return (
        f"SELECT w, time_bucket($bucket, ts) AS bucket, {counts} FROM (SELECT {SIDE_CASE} AS w, "
        f"ts, {value} AS v FROM decisions WHERE {SIDE_WHERE}) AS s WHERE w IS NOT NULL "
        "GROUP BY ALL ORDER BY bucket"
    )


def evidence_rows(table: pa.Table) -> pa.Table:
    """Rows a query returned, kept as evidence in the total order a snapshot gives them
    (console.telemetry.evidence.snapshot's ORDER BY ALL: every column ascending, NULLs last),
    so evidence taken from the statistic's own scan is the file a second scan would write."""
    return table.sort_by([(name, "ascending") for name in table.column_names])


def side_sums(table: pa.Table, columns: list[str]) -> dict[str, dict[str, int]]:
    """Per window side (column w), the sum of each of `columns` over its rows (buckets)."""
    sums: dict[str, dict[str, int]] = {}
    for row in table.select(["w", *columns]).to_pylist():
        side = sums.setdefault(str(row["w"]), dict.fromkeys(columns, 0))
        for column in columns:
            side[column] += int(row[column] or 0)
    return sums


# -- histograms and small helpers ----------------------------------------------------------


def numeric_histogram_sql(values_sql: str, bins: int = 20) -> str:
    """Counts per side over equal-width bins between the smallest and largest value."""
    return (
        f"WITH v AS ({values_sql}), r AS (SELECT min(x) AS lo, max(x) AS hi FROM v)\n"
        f"SELECT side, lo, hi, least(CAST(floor((x - lo) / greatest(hi - lo, 1e-300) * {bins}) AS BIGINT), "
        f"{bins - 1}) AS bin, count(*) AS n FROM v, r WHERE x IS NOT NULL GROUP BY ALL"
    )


def rows_to_numeric_histogram(
    rows: list[dict[str, Any]], sides: tuple[str, str], bins: int = 20
) -> Histogram:
    if not rows:
        return Histogram(edges=[], series={s: [] for s in sides})
    lo, hi = float(rows[0]["lo"]), float(rows[0]["hi"])
    width = (hi - lo) / bins if hi > lo else 1.0
    edges = [lo + i * width for i in range(bins + 1)]
    series = {}
    for side in sides:
        counts = [0.0] * bins
        for r in rows:
            if r["side"] == side:
                counts[int(r["bin"])] += r["n"]
        total = sum(counts)
        series[side] = [c / total if total else 0.0 for c in counts]
    return Histogram(edges=edges, series=series)


def category_histogram(
    rows: list[dict[str, Any]], sides: tuple[str, str], keep: int = 20
) -> Histogram:
    totals: dict[str, float] = {}
    for r in rows:
        totals[str(r["value"])] = totals.get(str(r["value"]), 0.0) + r["n"]
    labels = sorted(totals, key=lambda k: -totals[k])[:keep]
    series = {}
    for side in sides:
        counts = {str(r["value"]): r["n"] for r in rows if r["side"] == side}
        total = sum(counts.values())
        series[side] = [counts.get(label, 0) / total if total else 0.0 for label in labels]
    return Histogram(edges=labels, series=series)


def score_histogram(live: np.ndarray, rescored: np.ndarray, bins: int = 20) -> Histogram:
    both = np.concatenate([live, rescored])
    both = both[np.isfinite(both)]
    if both.size == 0:
        return Histogram(edges=[], series={"live": [], "rescored": []})
    lo, hi = float(both.min()), float(both.max())
    hi = hi if hi > lo else lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    series = {}
    for label, values in (("live", live), ("rescored", rescored)):
        counts, _ = np.histogram(values[np.isfinite(values)], bins=edges)
        total = counts.sum()
        series[label] = [float(c / total) if total else 0.0 for c in counts]
    return Histogram(edges=[float(e) for e in edges], series=series)


def shares_of(histogram: Any, size: int) -> list[float]:
    counts = [0.0] * size
    for key, value in dict(histogram or {}).items():
        counts[int(key)] += value
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


def stats_dict(stat: Any, name: str) -> dict[str, Any]:
    data: dict[str, Any] = stat.to_dict()
    data.pop("sql", None)
    if name != "incident":
        data = {k.replace("incident", name): v for k, v in data.items()}
    return data


def count(sides: dict[str, Any], side: str, key: str) -> int:
    value = sides.get(side, {}).get(key)
    return int(value) if value is not None else 0
