"""Row-level SQL expressions the steps build from the playbook.

Each takes playbook expressions (a node's expr / reference, a freshness age_expr) and numbers
from the playbook, and returns SQL over one decisions row. They are shared so that the screening
pass of locate and the interventions measure exactly the same thing.
"""

from __future__ import annotations

from console.engine.context import sql_number
from console.playbook.model import Node, Playbook, Scorer
from console.telemetry.store import duckdb_string

EPS = 1e-12


def as_double(expr: str) -> str:
    return f"CAST(({expr}) AS DOUBLE)"


def as_text(expr: str) -> str:
    return f"CAST(({expr}) AS VARCHAR)"


def finite_or_null(expr: str) -> str:
    """A numeric expression with NaN and infinities as NULL (missing)."""
    x = as_double(expr)
    return f"CASE WHEN isfinite({x}) THEN {x} END"


def mismatch_expr(node: Node, tolerance: float, served: str = "", reference: str = "") -> str:
    """1.0 when the served value of a derived feature differs from its reference, else 0.0.

    Numeric: missing (NULL, NaN, infinite) on both sides agrees; missing on one side disagrees;
    otherwise equal within tolerance, relative to the reference's size when it is above 1.
    Categorical: compared as text, NULL equal to NULL.
    served / reference: SQL already holding the two values (DOUBLE or VARCHAR), e.g. columns a
    subquery computed once; by default the node's expr and reference.
    """
    if node.type == "categorical":
        s = served or as_text(node.expr)
        r = reference or as_text(node.reference)
        return f"CASE WHEN {s} IS NOT DISTINCT FROM {r} THEN 0.0 ELSE 1.0 END"
    s = served or as_double(node.expr)
    r = reference or as_double(node.reference)
    return (
        f"CASE WHEN isfinite({s}) AND isfinite({r}) THEN "
        f"CAST(abs({s} - {r}) > {sql_number(tolerance)} * greatest(1.0, abs({r})) AS DOUBLE) "
        f"WHEN coalesce(isfinite({s}), false) = coalesce(isfinite({r}), false) THEN 0.0 "
        "ELSE 1.0 END"
    )


def stale_expr(age_expr: str, max_lag_seconds: float) -> str:
    """1.0 when the value was older than max_lag when served, 0.0 when not, NULL unknown."""
    age = as_double(age_expr)
    return f"CASE WHEN {age} > {sql_number(max_lag_seconds)} THEN 1.0 WHEN {age} IS NULL THEN NULL ELSE 0.0 END"


def contribution_exprs(playbook: Playbook) -> dict[str, str]:
    """Per scorer feature, its term of the linear/logistic margin as SQL (the scorer's NULL
    policy: a missing numeric value, or a category without a weight, contributes 0).

    Empty for python/http scorers, whose sensitivity is not known in closed form.
    """
    scorer = playbook.scorer
    if scorer.type not in ("linear", "logistic"):
        return {}
    numeric: dict[str, float] = {}
    categorical: dict[str, dict[str, float]] = {}
    for key, weight in scorer.weights.items():
        node, sep, value = key.partition("=")
        if sep:
            categorical.setdefault(node, {})[value] = weight
        else:
            numeric[node] = weight
    out: dict[str, str] = {}
    for node_id, weight in numeric.items():
        expr = playbook.nodes[node_id].expr
        value = f"coalesce({finite_or_null(expr)}, 0.0)"
        out[node_id] = f"{sql_number(weight)} * {value}"
    for node_id, weights in categorical.items():
        expr = playbook.nodes[node_id].expr
        whens = " ".join(
            f"WHEN {duckdb_string(value)} THEN {sql_number(w)}" for value, w in weights.items()
        )
        out[node_id] = f"CASE {as_text(expr)} {whens} ELSE 0.0 END"
    return out


def live_margin_expr(scorer: Scorer) -> str | None:
    """The live score on the margin scale (logit for a logistic scorer), or None when the
    scorer has no margin (python/http)."""
    if scorer.type == "linear":
        return "CAST(score AS DOUBLE)"
    if scorer.type == "logistic":
        p = f"greatest(least(CAST(score AS DOUBLE), {1 - EPS!r}), {EPS!r})"
        return f"ln(({p}) / (1.0 - ({p})))"
    return None
