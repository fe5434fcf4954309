"""The declarative half of the intervention registry: each type's name and parameters.

The playbook layer cannot import the engine, so what a playbook needs to know about an
intervention type (its parameters with type, default, bounds, units and meaning, and which
node fields it reads) lives here; how a type runs, what it measures, how locate ranks it, how
the counterfactual corrects it and the action item it suggests live in
console/engine/interventions/<type>.py, one module per type, registered under the same name.
A test checks that both tables name the same types and that docs/playbooks.md documents every
parameter with its default.

Adding a type: a TypeSpec here, a module under console/engine/interventions/ (listed in that
package's KINDS), its section in docs/playbooks.md and a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from console.playbook.durations import parse_duration

ParamKind = Literal["number", "integer", "duration", "sql"]
# A node field an intervention needs: the target's reference (to recompute it) or the
# source's expr (to read its values).
Requirement = Literal["target_reference", "source_expr"]


@dataclass(frozen=True)
class Param:
    """One parameter of an intervention table in a playbook edge.

    default None: required. kind "sql": an expression over the decisions table giving a
    number per row, checked by the telemetry binding like a node expr.
    """

    name: str
    kind: ParamKind
    default: float | int | str | None
    units: str
    doc: str
    minimum: float | None = None
    maximum: float | None = None

    @property
    def required(self) -> bool:
        return self.default is None

    def parsed_default(self) -> float | int | str | timedelta | None:
        """The default as the loader stores it (a duration as a timedelta)."""
        if self.kind == "duration" and isinstance(self.default, str):
            return parse_duration(self.default)
        return self.default


@dataclass(frozen=True)
class TypeSpec:
    name: str
    doc: str
    params: tuple[Param, ...] = ()
    requires: Requirement | None = None
    # The type reads the source's values as numbers (a valid range, unit factors), which a
    # categorical source does not have: the loader refuses it on an edge from one.
    numeric_source: bool = False

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)


def _fraction(name: str, default: float, doc: str) -> Param:
    return Param(name, "number", default, "share of rows (0..1)", doc, minimum=0, maximum=1)


INTERVENTION_TYPES: dict[str, TypeSpec] = {
    spec.name: spec
    for spec in (
        TypeSpec(
            "shadow_recompute",
            "recompute the target feature from its reference and count rows whose served "
            "value differs",
            (
                Param(
                    "tolerance", "number", 1e-6, "relative gap (absolute below 1)",
                    "a numeric served value differs beyond this", minimum=0,
                ),
                _fraction("max_mismatch_rate", 0.01, "broken above this share of differing rows"),
            ),
            requires="target_reference",
        ),
        TypeSpec(
            "distribution_shift",
            "compare the source's baseline and window distributions (PSI and a test)",
            (
                Param(
                    "psi_threshold", "number", 0.2, "PSI",
                    "shifted when the PSI reaches this (and the test agrees)", minimum=0,
                ),
                _fraction("alpha", 0.001, "significance level of the test"),
                Param(
                    "bins", "integer", 10, "bins", "baseline-quantile bins of a numeric source",
                    minimum=2,
                ),
            ),
            requires="source_expr",
        ),
        TypeSpec(
            "null_rate",
            "compare the source's missing-value rate between baseline and window",
            (_fraction("max_increase", 0.02, "flagged when the rate rises by more than this"),),
            requires="source_expr",
        ),
        TypeSpec(
            "freshness",
            "the age of the source's value when served, against max_lag",
            (
                Param(
                    "age_expr", "sql", None, "seconds",
                    "SQL giving the age in seconds of the node's value when it was served",
                ),
                Param("max_lag", "duration", "2h", "duration", "a value older than this is stale"),
            ),
        ),
        TypeSpec(
            "model_version",
            "re-score a sample with the playbook scorer and compare with the live scores",
            (
                Param(
                    "max_score_delta", "number", 0.05, "score",
                    "a re-score further than this from the live score is a mismatch", minimum=0,
                ),
            ),
        ),
        # Reads the source node's valid_min / valid_max / units / sentinels; the unit factors
        # it tries (10, 100, 1000, known conversions) live in the engine module, not here.
        TypeSpec(
            "range",
            "the share of the source's values that are implausible (outside the node's valid "
            "range, or a unit factor away from it), baseline vs window",
            (
                _fraction(
                    "max_implausible", 0.01,
                    "broken when the window's share of implausible values exceeds the "
                    "baseline's by more than this",
                ),
            ),
            requires="source_expr",
            numeric_source=True,
        ),
        # The default values are the source node's sentinels, else 0 (numeric) or ''
        # (categorical): a property of the node, so not a parameter of the edge.
        TypeSpec(
            "default_rate",
            "the share of the source's values that are a default or sentinel, baseline vs "
            "window",
            (
                _fraction(
                    "max_increase", 0.02,
                    "flagged when the share of default or sentinel values rises by more than "
                    "this",
                ),
            ),
            requires="source_expr",
        ),
    )
}  # fmt: skip

# The type planned by default for an edge of each shape, where no person chose one: a drafted
# playbook (console/playbook/draft.py) and the report's suggested action items.
DEFAULT_PLANS: dict[str, str] = {
    "recomputable_feature": "shadow_recompute",  # a feature whose reference expression is known
    "source_feature": "distribution_shift",  # any other input: watch it for shifts
    "feature_model": "model_version",  # the model's inputs: re-score and compare
}
