"""build_scorer: the playbook's [scorer] table -> a scorer object."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from console.errors import ConsoleError
from console.playbook.model import Scorer
from console.scoring.base import BaseScorer
from console.scoring.http_scorer import HttpScorer
from console.scoring.linear import LinearScorer, LogisticScorer
from console.scoring.python_entry import PythonScorer


def build_scorer(
    spec: Scorer, base_dir: Path | None = None, features: Sequence[str] | None = None
) -> BaseScorer:
    """The scorer the playbook describes.

    base_dir: the playbook's folder, searched first when importing a python entry point.
    features: the feature node ids a python or http scorer is given (their weights, if any,
    name them otherwise); linear and logistic scorers read the nodes their weights name.
    """
    if spec.type == "linear":
        return LinearScorer(spec)
    if spec.type == "logistic":
        return LogisticScorer(spec)
    names = list(features) if features is not None else spec.features
    if not names:
        raise ConsoleError(
            f"[scorer] type {spec.type!r}: no features to send; pass the model node's "
            f"feature node ids (or list them in [scorer.weights])"
        )
    if spec.type == "python":
        return PythonScorer(spec, names, base_dir)
    if spec.type == "http":
        return HttpScorer(spec, names)
    raise ConsoleError(f"[scorer] type {spec.type!r} is not one of linear, logistic, python, http")
