"""What every scorer offers: score a table of features, turn scores into decisions.

A scorer reads a pyarrow.Table whose columns are named by feature node ids (the engine selects
each node's expression AS its id) and returns one float64 score per row.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from numbers import Real

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
        """One finite float64 score per row of `table` (columns named by feature node ids);
        NonFiniteScore names a row the scorer answered without one."""

    @contextmanager
    def deadline(self) -> Iterator[None]:
        """Bound every score() call inside the block by one overall deadline: an engine step
        opens it around all its scoring. Only the http scorer has one (`scorer.deadline`);
        the others run in-process."""
        yield

    def decide(self, scores: np.ndarray | list[float]) -> np.ndarray:
        """spec.positive where score >= threshold, else spec.negative (NaN scores: negative)."""
        labels = np.array([self.spec.negative, self.spec.positive], dtype=object)
        return labels[self.is_positive(scores).astype(np.int8)]

    def is_positive(self, scores: np.ndarray | list[float]) -> np.ndarray:
        """Whether decide() gives spec.positive, per score, as booleans (no label per row)."""
        return np.asarray(scores, dtype=np.float64) >= self.spec.threshold

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


class NonFiniteScore(ConsoleError):
    """A scorer answered something other than a finite number for one row. `row` is the row's
    position in the table given to score(), so the engine can name its prediction id."""

    def __init__(self, who: str, row: int, value: object) -> None:
        number = isinstance(value, Real | Decimal) and not isinstance(value, bool)
        kind = "finite number" if number else "number"
        super().__init__(f"{who} returned {_shown(value)} for row {row}: not a {kind}")
        self.who = who
        self.row = row
        self.value = value


def as_scores(values: object, expected: int, who: str, offset: int = 0) -> np.ndarray:
    """Validate a scorer's answer: `expected` finite numbers, as float64.

    NonFiniteScore names the first row (its position plus `offset`, the answer's place in the
    scored table) whose score is null, NaN, infinite or not a number: a re-score holding such
    a value would count it as a decision of one side without any score behind it.
    """
    if isinstance(values, np.ndarray | pa.Array | pa.ChunkedArray):
        scores = _array_scores(values, expected, who)
    else:
        scores = _sequence_scores(values, expected, who, offset)
    bad = np.flatnonzero(~np.isfinite(scores))
    if bad.size:
        row = int(bad[0])
        null = isinstance(values, pa.Array | pa.ChunkedArray) and not values[row].is_valid
        raise NonFiniteScore(who, offset + row, None if null else float(scores[row]))
    return scores


def _array_scores(
    values: np.ndarray | pa.Array | pa.ChunkedArray, expected: int, who: str
) -> np.ndarray:
    if len(values) != expected:
        raise ConsoleError(f"{who} returned {len(values)} scores for {expected} rows")
    try:
        if isinstance(values, np.ndarray):
            return values.astype(np.float64).reshape(-1)
        cast = values.cast(pa.float64())
        scores: np.ndarray = cast.fill_null(np.nan).to_numpy(zero_copy_only=False)
        return scores
    except (TypeError, ValueError, pa.ArrowException) as exc:
        raise ConsoleError(f"{who} returned scores that are not numbers: {exc}") from None


def _sequence_scores(values: object, expected: int, who: str, offset: int) -> np.ndarray:
    try:
        seq = list(values)  # type: ignore[call-overload]
    except TypeError:
        raise ConsoleError(
            f"{who} returned {type(values).__name__}, not a sequence of scores"
        ) from None
    if len(seq) != expected:
        raise ConsoleError(f"{who} returned {len(seq)} scores for {expected} rows")
    out = np.empty(len(seq), dtype=np.float64)
    for row, value in enumerate(seq):
        # A bool is a number to Python, and text such as "inf" or "0.5" converts with
        # float(): neither is a score.
        if value is None or isinstance(value, bool) or not isinstance(value, Real | Decimal):
            raise NonFiniteScore(who, offset + row, value)
        try:
            out[row] = float(value)
        except OverflowError:  # an integer of hundreds of digits
            raise NonFiniteScore(who, offset + row, value) from None
    return out


def _shown(value: object) -> str:
    """How a bad score is named: JSON's spelling for null and the non-finite numbers."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and np.isnan(value):
        return "NaN"
    if isinstance(value, float) and np.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
