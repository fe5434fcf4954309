"""A scikit-learn linear or logistic model's coefficients as the built-in scorer's weights.

The user exports the numbers, never a pickle (loading one runs arbitrary code):

    import json
    json.dump({
        "type": "logistic",                      # or "linear"
        "feature_names": list(model.feature_names_in_),
        "coef": model.coef_.ravel().tolist(),
        "intercept": float(model.intercept_.ravel()[0]),
        "threshold": 0.5,                         # optional
        "scaler": {"mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist()},  # optional
    }, open("model.json", "w"))

A StandardScaler in front of the model is folded into the weights, since the built-in scorer
reads the features as served: w_i' = w_i / scale_i and b' = b - sum(w_i * mean_i / scale_i).
Feature names are decisions columns (feat_*) or node ids; `column_to_node` maps them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.errors import ConsoleError


@dataclass(frozen=True)
class ImportedModel:
    type: str  # linear | logistic
    intercept: float
    weights: dict[str, float]  # node id -> weight on the served feature
    threshold: float | None


def read_sklearn_json(path: Path, column_to_node: Callable[[str], str]) -> ImportedModel:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConsoleError(f"{path}: not a readable JSON export of a model: {exc}") from exc
    if not isinstance(data, dict):
        raise ConsoleError(f"{path}: expected a JSON object")
    kind = data.get("type", "logistic")
    if kind not in ("linear", "logistic"):
        raise ConsoleError(f"{path}: type {kind!r}: choose linear or logistic")
    names = _list(path, data, "feature_names", str)
    coef = _list(path, data, "coef", float)
    if len(coef) != len(names):
        raise ConsoleError(f"{path}: {len(coef)} coef for {len(names)} feature_names")
    intercept = _number(path, data.get("intercept", 0.0), "intercept")
    scaler = data.get("scaler")
    if scaler is not None:
        if not isinstance(scaler, dict):
            raise ConsoleError(f"{path}: scaler: expected an object with mean and scale")
        mean = _list(path, scaler, "mean", float)
        scale = _list(path, scaler, "scale", float)
        if not len(mean) == len(scale) == len(names):
            raise ConsoleError(f"{path}: scaler mean and scale need one number per feature")
        if any(s == 0 for s in scale):
            raise ConsoleError(f"{path}: scaler scale holds a 0")
        intercept -= sum(w * m / s for w, m, s in zip(coef, mean, scale, strict=True))
        coef = [w / s for w, s in zip(coef, scale, strict=True)]
    threshold = data.get("threshold")
    return ImportedModel(
        kind,
        intercept,
        {column_to_node(n): w for n, w in zip(names, coef, strict=True)},
        None if threshold is None else _number(path, threshold, "threshold"),
    )


def _list(path: Path, data: dict[str, Any], key: str, kind: type) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list) or not value:
        raise ConsoleError(f"{path}: {key}: expected a non-empty list")
    if kind is float:
        return [_number(path, v, f"{key}[{i}]") for i, v in enumerate(value)]
    if not all(isinstance(v, str) and v for v in value):
        raise ConsoleError(f"{path}: {key}: expected names")
    return value


def _number(path: Path, value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConsoleError(f"{path}: {key}: expected a finite number, got {value!r}")
    return float(value)
