"""The shared shapes of common model types: starting points for `playbook init --template`.

A template says what the data cannot: which way the triage metric goes bad, which series is
the one a person is paged on, how long an incident window should be, and (for a regression)
that the scorer is linear rather than fitted as a logistic. The draft fills everything else
from the telemetry (console/playbook/draft.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Template:
    name: str
    shape: str  # one line on the model type, written at the top of the draft
    direction: Literal["up", "down", "both"]  # the triage metric's bad direction
    paged_on: Literal["decision", "label"]  # the triage metric: a decision rate or an outcome
    incident: str  # [windows] incident
    scorer: Literal["linear", "logistic"] | None  # None: logistic when scores are in (0, 1)


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template(
            "classification",
            "a classifier with a threshold: paged when the positive decision's rate rises",
            "up", "decision", "6h", None,
        ),
        Template(
            "ranking",
            "ranking / recommendation: paged when the outcome (click, conversion) rate falls",
            "down", "label", "4h", None,
        ),
        Template(
            "regression",
            "a regression with a decision rule: paged when the decision rate moves either way",
            "both", "decision", "6h", "linear",
        ),
    )
}  # fmt: skip
