"""Column batches of generated decision records, and the playbook scorer applied to them.

A batch holds one chunk of rows as numpy arrays. Categorical columns are kept as integer codes
into a vocabulary (`Cat`), so that mapping a categorical feature (lower-casing, an encoder) is a
lookup on the small vocabulary instead of work on every row; they become Arrow strings only
when written. Numeric columns use NaN for NULL where a column may be missing.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from console.scoring.linear import sigmoid

US_PER_HOUR = 3_600_000_000


@dataclass
class Cat:
    """A categorical column: codes into `vocab`, -1 for NULL."""

    codes: np.ndarray
    vocab: list[str]

    @classmethod
    def choice(cls, rng: np.random.Generator, vocab: list[str], n: int, p) -> Cat:
        return cls(rng.choice(len(vocab), size=n, p=p).astype(np.int32), list(vocab))

    def is_(self, value: str) -> np.ndarray:
        """Rows equal to `value` (False everywhere when the vocabulary lacks it)."""
        if value not in self.vocab:
            return np.zeros(len(self.codes), dtype=bool)
        return self.codes == self.vocab.index(value)

    def mapped(self, mapping: dict[str, str] | None = None, func=None) -> Cat:
        """The column with every vocabulary entry mapped (by dict or function)."""
        targets = [mapping.get(v, v) if mapping is not None else func(v) for v in self.vocab]
        vocab = list(dict.fromkeys(targets))
        lookup = np.array([vocab.index(t) for t in targets] + [-1], dtype=np.int32)
        return Cat(lookup[self.codes], vocab)

    def to_arrow(self) -> pa.Array:
        indices = pa.array(self.codes.astype(np.int32), mask=self.codes < 0)
        return pa.DictionaryArray.from_arrays(
            indices, pa.array(self.vocab, pa.string())
        ).dictionary_decode()


Column = np.ndarray | Cat


def numeric(column: Column, name: str) -> np.ndarray:
    """The column as a numeric array; a categorical one here is a pipeline bug, named."""
    if isinstance(column, Cat):
        raise TypeError(f"column {name!r} is categorical where a numeric one is used")
    return column


def categorical(column: Column, name: str) -> Cat:
    """The column as a Cat; a numeric one here is a pipeline bug, named."""
    if not isinstance(column, Cat):
        raise TypeError(f"column {name!r} is numeric where a categorical one is used")
    return column


@dataclass
class Batch:
    """One chunk of decision rows, sorted by time."""

    ts: np.ndarray  # int64 microseconds since the epoch, UTC
    hour: np.ndarray  # float hours since the start of the data (for effect windows)
    hour_of_day: np.ndarray  # float 0-24, UTC
    load: np.ndarray  # traffic relative to the daily mean at this row's hour
    cols: dict[str, Column] = field(default_factory=dict)
    hidden: dict[str, np.ndarray] = field(default_factory=dict)  # ground truth, never written

    @property
    def n(self) -> int:
        return len(self.ts)

    def num(self, name: str) -> np.ndarray:
        return numeric(self.cols[name], name)

    def cat(self, name: str) -> Cat:
        return categorical(self.cols[name], name)


@dataclass(frozen=True)
class PlaybookScorer:
    """The playbook's [scorer] (logistic) applied to served feature columns.

    Read straight from the playbook TOML so that the live scores in the generated telemetry
    are, by construction, the playbook scorer applied to the served features. A NULL/NaN
    numeric feature contributes 0, the NULL policy of console.scoring.
    """

    intercept: float
    weights: dict[str, float]
    threshold: float
    positive: str
    negative: str
    columns: dict[str, str]  # feature node id -> decisions column (its expr)

    @classmethod
    def from_playbook(cls, path: Path) -> PlaybookScorer:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        scorer = data["scorer"]
        columns = {n["id"]: n.get("expr", "") for n in data["nodes"] if n["kind"] == "feature"}
        return cls(
            intercept=float(scorer.get("intercept", 0.0)),
            weights={k: float(v) for k, v in scorer["weights"].items()},
            threshold=float(scorer.get("threshold", 0.5)),
            positive=str(scorer.get("positive", "1")),
            negative=str(scorer.get("negative", "0")),
            columns=columns,
        )

    def margin(self, cols: dict[str, Column]) -> np.ndarray:
        total: np.ndarray | float = self.intercept
        for key, weight in self.weights.items():
            node, sep, value = key.partition("=")
            name = self.columns[node]
            if sep:
                term = np.where(categorical(cols[name], name).is_(value), weight, 0.0)
            else:
                column = numeric(cols[name], name)
                term = weight * np.where(np.isnan(column), 0.0, column)
            total = term + total
        return np.asarray(total)

    def score(self, cols: dict[str, Column]) -> np.ndarray:
        return sigmoid(self.margin(cols))

    def decide(self, score: np.ndarray) -> Cat:
        """negative (code 0) below the threshold, positive (code 1) at or above it."""
        return Cat((score >= self.threshold).astype(np.int32), [self.negative, self.positive])


def prefixed_ids(prefix: str, start: int, n: int, width: int) -> pa.Array:
    """prefix-000123 style ids for rows start .. start + n - 1, built in Arrow."""
    numbers = pc.cast(pa.array(np.arange(start, start + n, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(numbers, width, "0"), "")


def token_strings(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """prefix + zero-padded number for each row (opaque ids such as card tokens)."""
    text = pc.cast(pa.array(numbers.astype(np.int64)), pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(text, width, "0"), "")
