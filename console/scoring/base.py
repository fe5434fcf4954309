"""What every scorer offers: score a table of features, turn scores into decisions.

A scorer reads a pyarrow.Table whose columns are named by feature node ids (the engine selects
each node's expression AS its id) and returns one float64 score per row.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import pyarrow as pa

from console.errors import ConsoleError
from console.playbook.model import Scorer


class BaseScorer(ABC):
    """A scorer built from the playbook's [scorer] table (see build_scorer)."""

    def __init__(self, spec: Scorer, features: list[str]) -> None:
        self.spec = spec
        self.features: list[str] = list(features)

    @property
    def name(self) -> str:
        """How messages name this scorer (its type and, where it has one, its target)."""
        return f"scorer {self.spec.type}"

    @abstractmethod
    def score(self, table: pa.Table) -> np.ndarray:
        """One float64 score per row of `table` (columns named by feature node ids)."""

    def decide(self, scores: np.ndarray | list[float]) -> np.ndarray:
        """spec.positive where score >= threshold, else spec.negative (NaN scores: negative)."""
        values = np.asarray(scores, dtype=np.float64)
        labels = np.array([self.spec.negative, self.spec.positive], dtype=object)
        return labels[(values >= self.spec.threshold).astype(np.int8)]

    def check_columns(self, table: pa.Table) -> None:
        """ConsoleError naming every feature the table lacks."""
        missing = [f for f in self.features if f not in table.column_names]
        if missing:
            raise ConsoleError(
                f"{self.name}: the feature table lacks column(s) {', '.join(missing)} "
                f"(it has: {', '.join(table.column_names) or 'none'})"
            )

    def feature_table(self, table: pa.Table) -> pa.Table:
        """The table's feature columns, in the scorer's order (every column when the scorer
        names none); ConsoleError naming any it lacks."""
        self.check_columns(table)
        return table.select(self.features) if self.features else table


def as_scores(values: object, expected: int, who: str) -> np.ndarray:
    """Validate a scorer's answer: `expected` numbers (None becomes NaN) as float64."""
    if isinstance(values, (np.ndarray, pa.Array, pa.ChunkedArray)):
        if len(values) != expected:
            raise ConsoleError(f"{who} returned {len(values)} scores for {expected} rows")
        try:
            if isinstance(values, np.ndarray):
                return values.astype(np.float64).reshape(-1)
            cast = values.cast(pa.float64())
            return cast.fill_null(np.nan).to_numpy(zero_copy_only=False)
        except (TypeError, ValueError, pa.ArrowException) as exc:
            raise ConsoleError(f"{who} returned scores that are not numbers: {exc}") from None
    try:
        seq = list(values)  # type: ignore[call-overload]
    except TypeError:
        raise ConsoleError(
            f"{who} returned {type(values).__name__}, not a sequence of scores"
        ) from None
    if len(seq) != expected:
        raise ConsoleError(f"{who} returned {len(seq)} scores for {expected} rows")
    try:
        return np.array([np.nan if v is None else float(v) for v in seq], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConsoleError(f"{who} returned a score that is not a number: {exc}") from None
