"""Built-in scorers from the playbook's weights: linear and logistic.

margin = intercept + sum(w_f * x_f) over numeric features + the weight of each categorical
feature's value ("node=value" keys). linear scores the margin; logistic scores sigmoid(margin).

NULL policy (docs/scoring.md): a NULL, NaN or infinite numeric input contributes 0 (as if the
value were 0, the usual fill-with-zero of a serving path); a NULL categorical value, or a value with no
"node=value" weight, contributes 0. So re-scoring rows where the live model saw NULLs reproduces
what a zero-filling model did with them.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from console.errors import ConsoleError
from console.playbook.model import Scorer
from console.scoring.base import BaseScorer


def sigmoid(margin: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-margin)) without overflow for large |margin|; a NaN margin (no score, see
    LinearScorer.margin) stays NaN without a warning."""
    with np.errstate(invalid="ignore"):
        probability: np.ndarray = np.exp(-np.logaddexp(0.0, -margin))
    return probability


class LinearScorer(BaseScorer):
    """score = intercept + sum of contributions (see the module docstring for NULLs)."""

    def __init__(self, spec: Scorer) -> None:
        if not spec.weights:
            raise ConsoleError(f"[scorer] type {spec.type!r} needs [scorer.weights]")
        self.numeric: dict[str, float] = {}
        self.categorical: dict[str, dict[str, float]] = {}
        for key, weight in spec.weights.items():
            node, sep, value = key.partition("=")
            if sep:
                self.categorical.setdefault(node, {})[value] = float(weight)
            else:
                self.numeric[node] = float(weight)
        both = sorted(set(self.numeric) & set(self.categorical))
        if both:
            raise ConsoleError(
                f"[scorer.weights]: {', '.join(both)} has both a numeric weight and "
                f"'node=value' weights; a feature is either numeric or categorical"
            )
        super().__init__(spec, spec.features)

    def contributions(self, table: pa.Table) -> dict[str, np.ndarray]:
        """Per feature, each row's term of the margin (w * x, or the value's weight)."""
        self.check_columns(table)
        terms: dict[str, np.ndarray] = {}
        for feature in self.features:
            column = table.column(feature)
            if feature in self.numeric:
                values = numeric_values(column, feature, self.name)
                # A finite value past about 1e308 / w makes the term +-inf, as IEEE arithmetic
                # has it: the score's own non-finite handling takes it from there, and numpy's
                # warning would only reach the terminal.
                with np.errstate(over="ignore"):
                    terms[feature] = self.numeric[feature] * values
            else:
                terms[feature] = self._category_weights(column, self.categorical[feature])
        return terms

    def margin(self, table: pa.Table) -> np.ndarray:
        """intercept + sum of contributions, one float64 per row."""
        total = np.full(table.num_rows, float(self.spec.intercept))
        # Sums past the largest double are +-inf, and +inf plus -inf is NaN (no score): both
        # handled where scores are read, as contributions() says.
        with np.errstate(over="ignore", invalid="ignore"):
            for term in self.contributions(table).values():
                total += term
        return total

    def score(self, table: pa.Table) -> np.ndarray:
        return self.margin(table)

    @staticmethod
    def _category_weights(column: pa.ChunkedArray, weights: dict[str, float]) -> np.ndarray:
        text = column.cast(pa.string()) if column.type != pa.string() else column
        keys = list(weights)
        index = pc.index_in(text, value_set=pa.array(keys, pa.string()))
        lookup = np.append(np.array([weights[k] for k in keys], dtype=np.float64), 0.0)
        positions: np.ndarray = index.fill_null(len(keys)).to_numpy(zero_copy_only=False)
        looked_up: np.ndarray = lookup[positions]
        return looked_up


class LogisticScorer(LinearScorer):
    """score = sigmoid(margin); attributions are reported on the margin (logit) scale."""

    def score(self, table: pa.Table) -> np.ndarray:
        return sigmoid(self.margin(table))


def numeric_values(column: pa.ChunkedArray, feature: str, who: str) -> np.ndarray:
    """A column as float64 with NULL, NaN and infinities replaced by 0 (the NULL policy)."""
    kind = column.type
    if not (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_null(kind)
    ):
        raise ConsoleError(
            f"{who}: feature {feature!r} is a column of type {kind}, but its weight needs "
            f"numbers (a categorical feature takes '{feature}=value' weights)"
        )
    values = column.cast(pa.float64()).fill_null(0.0).to_numpy(zero_copy_only=False)
    # An infinity is missing too (as everywhere in the engine): w * inf would make the score
    # infinite or NaN, a number no decision can be read from.
    return np.where(np.isfinite(values), values, 0.0)
