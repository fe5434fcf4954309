"""The python scorer: a function "package.module:function" of a pyarrow.Table.

The function is imported when the scorer is built (so a wrong entry point fails before any
investigation step runs), with the playbook's folder first on sys.path so a module kept next
to the playbook is found.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from console.errors import ConsoleError
from console.playbook.model import Scorer
from console.scoring.base import BaseScorer, as_scores


def load_entry_point(entry_point: str, base_dir: Path | None) -> Callable[[pa.Table], object]:
    """Import "package.module:function"; ConsoleError naming the entry point if it fails."""
    module_name, sep, attr = entry_point.partition(":")
    if not sep or not module_name or not attr:
        raise ConsoleError(
            f"[scorer] entry_point {entry_point!r} must look like 'package.module:function'"
        )
    added = base_dir is not None and str(base_dir) not in sys.path
    if added:
        sys.path.insert(0, str(base_dir))
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any failure inside the user's module is theirs to fix
        raise ConsoleError(
            f"[scorer] entry_point {entry_point!r}: cannot import {module_name!r}: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    finally:
        if added:
            sys.path.remove(str(base_dir))
    func: object = module
    for part in attr.split("."):
        func = getattr(func, part, None)
        if func is None:
            raise ConsoleError(
                f"[scorer] entry_point {entry_point!r}: module {module_name!r} has no {attr!r}"
            )
    if not callable(func):
        raise ConsoleError(f"[scorer] entry_point {entry_point!r} is not callable")
    return func


class PythonScorer(BaseScorer):
    """Calls the entry point with the feature columns; expects one score per row."""

    def __init__(self, spec: Scorer, features: list[str], base_dir: Path | None) -> None:
        super().__init__(spec, features)
        self.func = load_entry_point(spec.entry_point, base_dir)

    @property
    def name(self) -> str:
        return f"scorer python {self.spec.entry_point}"

    def score(self, table: pa.Table) -> np.ndarray:
        features = self.feature_table(table)
        try:
            answer = self.func(features)
        except ConsoleError:
            raise
        except Exception as exc:  # the user's function failing is a scorer problem
            raise ConsoleError(f"{self.name} raised {type(exc).__name__}: {exc}") from None
        return as_scores(answer, table.num_rows, self.name)
