"""Drill into one decision: which features drove it, and what single change would flip it.

attribute(): for linear and logistic scorers the exact attribution on the margin (logit) scale,
w_f * (x_f - mean_f) over the background (categorical: the weight of the row's value minus
the background's mean weight), with the NULL policy of console.scoring.linear. For python and
http scorers, Shapley values on the score scale estimated by permutation sampling: each sample
draws a random feature order and a random background row, walks from the background row to the
explained row one feature at a time, and credits each feature with the score change it caused.
All the walked rows go to the scorer in one call (an http scorer splits it into batch_size
requests), so explaining one decision costs a handful of requests.

smallest_flip(): per feature, the nearest value that flips the decision: numeric features by a
grid over the range seen in the background, then bisection generalised to `split` points a
round (size in background standard deviations), categorical ones by trying each category
seen in the background (size 1.0, the most common flipping category wins). A missing numeric
value (NULL, NaN or infinite) is searched from the background mean, and filling it counts at
least as a category change: size max(1.0, |new - mean| / std). Measured from the mean alone,
a missing value whose filling flips the decision would report a size near 0 and beat every
real change, though replacing a NULL by a typical value is a change of kind, not a small
change of amount. The smallest change over all features is returned.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import SupportsFloat

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from console.errors import ConsoleError
from console.scoring.base import BaseScorer
from console.scoring.linear import LinearScorer


@dataclass(frozen=True)
class Attribution:
    """How much `feature` (at `value`) moved the row's margin/score away from the background."""

    feature: str
    value: object
    contribution: float

    def to_dict(self) -> dict[str, object]:
        return _jsonable(asdict(self))


@dataclass(frozen=True)
class Flip:
    """Setting `feature` from old_value to new_value flips the decision."""

    feature: str
    old_value: object
    new_value: object
    # |new - old| in background standard deviations; 1.0 for a category change; for a NULL
    # old value max(1.0, |new - background mean| in standard deviations) (module docstring)
    size: float
    old_score: float
    new_score: float
    old_decision: str
    new_decision: str

    def to_dict(self) -> dict[str, object]:
        return _jsonable(asdict(self))


def attribute(
    scorer: BaseScorer,
    row: dict[str, object],
    background: pa.Table,
    samples: int = 256,
    seed: int = 0,
) -> list[Attribution]:
    """Attributions of one row against a background sample, largest |contribution| first.

    Linear/logistic: exact, on the margin scale; they sum to margin(row) - mean margin.
    python/http: sampled Shapley values on the score scale (`samples` permutations, seeded);
    they sum to roughly score(row) - mean score of the background.
    """
    background = _background(scorer, background)
    row_table = _row_table(scorer, row, background)
    if isinstance(scorer, LinearScorer):
        row_terms = scorer.contributions(row_table)
        mean_terms = scorer.contributions(background)
        values = {f: float(row_terms[f][0] - mean_terms[f].mean()) for f in scorer.features}
    else:
        values = _sampled_shapley(scorer, row_table, background, max(samples, 1), seed)
    found = [Attribution(f, row.get(f), values[f]) for f in scorer.features]
    return sorted(found, key=lambda a: -abs(a.contribution))


def smallest_flip(
    scorer: BaseScorer,
    row: dict[str, object],
    background: pa.Table,
    grid: int = 32,
    rounds: int = 7,
    split: int = 9,
) -> Flip | None:
    """The smallest single-feature change that flips the row's decision, or None.

    Costs 3 + `rounds` scoring calls whatever the number of features: the row, every
    feature's first candidates, `rounds` narrowing rounds (each shrinks the numeric brackets
    `split` times: 9**7, about 5e6, by default), and the chosen values.
    """
    background = _background(scorer, background)
    row_table = _row_table(scorer, row, background)
    old_score = float(scorer.score(row_table)[0])
    old_decision = str(scorer.decide([old_score])[0])

    def flips(scores: np.ndarray) -> np.ndarray:
        flipped: np.ndarray = scorer.decide(scores) != old_decision
        return flipped

    # One scoring call for every feature's first candidates.
    plans: list[_Plan] = []
    for feature in scorer.features:
        column = background.column(feature)
        plan: _Plan | None
        if _is_numeric(column.type):
            plan = _numeric_plan(feature, column, row.get(feature), grid)
        else:
            plan = _categorical_plan(feature, column, row.get(feature))
        if plan is not None:
            plans.append(plan)
    if not plans:
        return None
    scores = scorer.score(pa.concat_tables([p.table(row_table, background) for p in plans]))
    offset = 0
    for plan in plans:
        plan.pick(flips(scores[offset : offset + plan.count]))
        offset += plan.count

    # Narrow each bracket by scoring `split - 1` evenly spaced points inside it and keeping
    # the part between the last non-flipping and the first flipping one; every numeric feature
    # advances together, so each round is one scoring call.
    # Only a numeric plan brackets a flip.
    bisecting = [p for p in plans if isinstance(p, _NumericPlan) and p.bracket is not None]
    brackets = [p.bracket for p in bisecting if p.bracket is not None]
    inner = np.arange(1, split) / split
    for _ in range(rounds if bisecting else 0):
        points = [keep + inner * (flip - keep) for keep, flip in brackets]
        tables = [p.table_of(list(x), row_table) for p, x in zip(bisecting, points, strict=True)]
        flipped = flips(scorer.score(pa.concat_tables(tables))).reshape(len(bisecting), -1)
        for i, (x, did) in enumerate(zip(points, flipped, strict=True)):
            keep, flip = brackets[i]
            hits = np.flatnonzero(did)
            if hits.size:
                first = int(hits[0])
                flip = float(x[first])
                keep = float(x[first - 1]) if first else keep
            else:
                keep = float(x[-1])
            brackets[i] = (keep, flip)
    for plan, bracket in zip(bisecting, brackets, strict=True):
        plan.settle(bracket)

    # One last call scores each feature's chosen value; a value that does not flip is dropped.
    chosen = [p for p in plans if p.choice is not None]
    if not chosen:
        return None
    final = scorer.score(pa.concat_tables([p.choice_table(row_table, background) for p in chosen]))
    best: Flip | None = None
    for plan, new_score in zip(chosen, final, strict=True):
        if not flips(np.array([new_score]))[0]:
            continue
        candidate = Flip(
            feature=plan.feature,
            old_value=row.get(plan.feature),
            new_value=plan.choice_value(background),
            size=plan.choice_size(),
            old_score=old_score,
            new_score=float(new_score),
            old_decision=old_decision,
            new_decision=str(scorer.decide([new_score])[0]),
        )
        if best is None or candidate.size < best.size:
            best = candidate
    return best


class _Plan(ABC):
    """The search for one feature's flipping value (numeric or categorical)."""

    def __init__(self, feature: str, column_type: pa.DataType) -> None:
        self.feature = feature
        self.type = column_type
        self.count = 0
        self.bracket: tuple[float, float] | None = None  # (does not flip, flips)
        self.choice: float | int | None = None

    def table_of(self, values: list[float], row_table: pa.Table) -> pa.Table:
        """The row repeated, with this feature set to each numeric value."""
        base = row_table.take(np.zeros(len(values), dtype=np.int64))
        array = pa.array(values, pa.float64()).cast(self.type, safe=False)
        return base.set_column(base.schema.get_field_index(self.feature), self.feature, array)

    @abstractmethod
    def table(self, row_table: pa.Table, background: pa.Table) -> pa.Table:
        """The row once per first candidate (`count` rows)."""

    @abstractmethod
    def pick(self, flipped: np.ndarray) -> None:
        """Set the bracket or the choice from which first candidates flipped."""

    @abstractmethod
    def choice_table(self, row_table: pa.Table, background: pa.Table) -> pa.Table:
        """The row with the chosen value (only called once `choice` is set)."""

    @abstractmethod
    def choice_value(self, background: pa.Table) -> object:
        """The chosen value as the column holds it."""

    @abstractmethod
    def choice_size(self) -> float:
        """How large the chosen change is (see the module docstring)."""


class _NumericPlan(_Plan):
    def __init__(
        self,
        feature: str,
        column_type: pa.DataType,
        origin: float,
        known: bool,
        std: float,
        candidates: np.ndarray,
    ) -> None:
        super().__init__(feature, column_type)
        self.origin = origin  # the row's value, or the background mean when it is NULL
        self.known = known  # the row holds a value here (so the origin does not flip)
        self.std = std
        self.candidates = candidates
        self.count = len(candidates)

    def table(self, row_table: pa.Table, background: pa.Table) -> pa.Table:
        return self.table_of(list(self.candidates), row_table)

    def pick(self, flipped: np.ndarray) -> None:
        if not flipped.any():
            return
        distance = np.abs(self.candidates - self.origin)
        order = np.argsort(distance, kind="stable")
        target = next(i for i in order if flipped[i])
        # The nearest non-flipping point between the origin and the target brackets the flip.
        side = np.sign(self.candidates[target] - self.origin)
        between = [
            i
            for i in order
            if not flipped[i]
            and np.sign(self.candidates[i] - self.origin) in (side, 0)
            and distance[i] < distance[target]
        ]
        flip_at = float(self.candidates[target])
        if between:
            self.bracket = (float(self.candidates[between[-1]]), flip_at)
        elif self.known:
            self.bracket = (self.origin, flip_at)
        else:
            self.choice = flip_at

    def settle(self, bracket: tuple[float, float]) -> None:
        keep, flip = bracket
        if pa.types.is_integer(self.type):
            # The first whole number past the non-flipping end, toward the flipping end.
            self.choice = math.floor(keep) + 1 if flip > keep else math.ceil(keep) - 1
        else:
            self.choice = flip

    def _chosen(self) -> float:
        assert self.choice is not None, "only a plan with a choice is asked for it"
        return float(self.choice)

    def choice_table(self, row_table: pa.Table, background: pa.Table) -> pa.Table:
        return self.table_of([self._chosen()], row_table)

    def choice_value(self, background: pa.Table) -> object:
        array = pa.array([self._chosen()], pa.float64()).cast(self.type, safe=False)
        value: object = array[0].as_py()
        return value

    def choice_size(self) -> float:
        distance = abs(self._chosen() - self.origin) / self.std
        return distance if self.known else max(1.0, distance)


class _CategoricalPlan(_Plan):
    def __init__(
        self, feature: str, column_type: pa.DataType, indices: list[int], values: list[object]
    ) -> None:
        super().__init__(feature, column_type)
        self.indices = indices  # a background row holding each candidate category
        self.values = values  # candidate categories, most common first
        self.count = len(indices)

    def table(self, row_table: pa.Table, background: pa.Table) -> pa.Table:
        base = row_table.take(np.zeros(self.count, dtype=np.int64))
        column = background.column(self.feature).take(pa.array(self.indices, pa.int64()))
        return base.set_column(base.schema.get_field_index(self.feature), self.feature, column)

    def pick(self, flipped: np.ndarray) -> None:
        hits = np.flatnonzero(flipped)
        if hits.size:
            self.choice = int(hits[0])

    def _chosen(self) -> int:
        assert isinstance(self.choice, int), "only a plan with a choice is asked for it"
        return self.choice

    def choice_table(self, row_table: pa.Table, background: pa.Table) -> pa.Table:
        base = row_table
        column = background.column(self.feature).take(pa.array([self.indices[self._chosen()]]))
        return base.set_column(base.schema.get_field_index(self.feature), self.feature, column)

    def choice_value(self, background: pa.Table) -> object:
        return self.values[self._chosen()]

    def choice_size(self) -> float:
        return 1.0


def _numeric_plan(
    feature: str, column: pa.ChunkedArray, value: object, grid: int
) -> _NumericPlan | None:
    data: np.ndarray = column.cast(pa.float64()).drop_null().to_numpy(zero_copy_only=False)
    data = data[np.isfinite(data)]
    if data.size < 2 or float(data.std()) == 0.0:
        return None  # no spread seen in the background: no scale to measure a change by
    # An infinite value is missing, as NaN is (the NULL policy): no distance is measured from it.
    number = float(value) if isinstance(value, SupportsFloat) else math.nan  # None: missing
    known = math.isfinite(number)
    origin = number if known else float(data.mean())
    candidates = np.linspace(float(data.min()), float(data.max()), max(grid, 2))
    return _NumericPlan(feature, column.type, origin, known, float(data.std()), candidates)


def _categorical_plan(
    feature: str, column: pa.ChunkedArray, value: object
) -> _CategoricalPlan | None:
    counts = pc.value_counts(column.combine_chunks().drop_null())
    values = counts.field("values").to_pylist()
    frequency = counts.field("counts").to_pylist()
    ranked = [v for _, v in sorted(zip(frequency, values, strict=True), key=lambda p: -p[0])]
    ranked = [v for v in ranked if v != value and str(v) != str(value)]
    if not ranked:
        return None
    as_list = column.to_pylist()
    first: dict[object, int] = {}
    for index, item in enumerate(as_list):
        first.setdefault(item, index)
    return _CategoricalPlan(feature, column.type, [first[v] for v in ranked], ranked)


def _sampled_shapley(
    scorer: BaseScorer, row_table: pa.Table, background: pa.Table, samples: int, seed: int
) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    features = scorer.features
    n, m = len(features), background.num_rows
    position = np.argsort(rng.random((samples, n)), axis=1).argsort(axis=1)  # rank of each
    donors = rng.integers(0, m, size=samples)
    # step k of a walk: features ranked below k hold the row's value, the others the donor's.
    from_row = position[:, None, :] < np.arange(n + 1)[None, :, None]  # (samples, n+1, n)
    columns = {}
    for j, feature in enumerate(features):
        pool = pa.concat_arrays(
            [background.column(feature).combine_chunks(), row_table.column(feature).chunk(0)]
        )
        index = np.where(from_row[:, :, j], m, donors[:, None]).reshape(-1)
        columns[feature] = pool.take(pa.array(index, pa.int64()))
    walked = scorer.score(pa.table(columns)).reshape(samples, n + 1)
    steps = np.diff(walked, axis=1)  # steps[s, k]: the change when rank-k feature switched
    return {
        feature: float(np.take_along_axis(steps, position[:, [j]], axis=1).mean())
        for j, feature in enumerate(features)
    }


def _background(scorer: BaseScorer, background: pa.Table) -> pa.Table:
    if background.num_rows == 0:
        raise ConsoleError(f"{scorer.name}: the background sample has no rows")
    scorer.check_columns(background)
    return background.select(scorer.features)


def _row_table(scorer: BaseScorer, row: dict[str, object], background: pa.Table) -> pa.Table:
    missing = [f for f in scorer.features if f not in row]
    if missing:
        raise ConsoleError(f"{scorer.name}: the row lacks feature(s) {', '.join(missing)}")
    columns = {}
    for field in background.schema:
        value = row[field.name]
        if isinstance(value, float) and math.isnan(value) and not pa.types.is_floating(field.type):
            value = None
        try:
            columns[field.name] = _one_value(value, field.type)
        except (pa.ArrowException, TypeError) as exc:
            raise ConsoleError(
                f"{scorer.name}: feature {field.name!r} value {value!r} does not fit the "
                f"column type {field.type}: {exc}"
            ) from None
    return pa.table(columns)


def _one_value(value: object, kind: pa.DataType) -> pa.Array:
    """[value] as an array of the column's type; a float fits a decimal column by a cast."""
    try:
        return pa.array([value], kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        if not isinstance(value, int | float) or not _is_numeric(kind):
            raise
        return pa.array([float(value)], pa.float64()).cast(kind, safe=False)


def _is_numeric(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
    )


def _jsonable(data: dict[str, object]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in data.items():
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        elif not isinstance(value, str | int | float | bool | type(None)):
            value = str(value)
        out[key] = value
    return out
