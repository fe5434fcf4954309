"""Which playbook expressions can run on Spark: each one, in the forms the engine runs it,
transpiled from DuckDB SQL by console.engine.dialect (`playbook check --engine spark`)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from console.engine.dialect import TranspileError, transpile
from console.errors import ConsoleError
from console.playbook.model import Playbook
from console.telemetry.binding import playbook_expressions


@dataclass(frozen=True)
class Coverage:
    """How many of a playbook's expressions transpile, and a problem line for each that
    does not (its key, then SQLGlot's reason)."""

    total: int
    problems: list[str]

    @property
    def transpiled(self) -> int:
        return self.total - len(self.problems)


def spark_coverage(playbook: Playbook) -> Coverage:
    """Every expression of the playbook transpiled to Spark SQL, as a SELECT over decisions
    (the rewrites act on whole queries: a bare expression is not a statement)."""
    if importlib.util.find_spec("sqlglot") is None:
        raise ConsoleError(
            "--engine spark transpiles with SQLGlot, which is not installed: "
            "pip install 'incident-console[spark]'"
        )
    found = playbook_expressions(playbook)
    problems = []
    for expression in found:
        for form in expression.forms():
            try:
                transpile(f"SELECT {form} FROM decisions")
            except TranspileError as exc:
                problems.append(f"{expression.key}: cannot be written as Spark SQL: {exc}")
                break
    return Coverage(len(found), problems)
