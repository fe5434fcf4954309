"""The model-version gate: the counterfactual test a deploy pipeline runs before shipping.

A fixed sample of the audited window's decisions (up to GATE_ROWS, chosen by hash of
prediction_id, so the same rows every run) is scored twice from the features as served: by
the playbook's scorer (the model in production) and by the candidate's. A decision that
differs is a decision the new model would change; the share changed, overall and per seg_*
segment, is held against max_changed. Both sides are re-scores, so a difference is the
model's and not the serving path's (that is the model_version intervention's job).

The candidate is a playbook file whose [scorer] describes the new model (built-in linear or
logistic, python or http, docs/scoring.md) - usually a copy of the playbook with the new
scorer - so it is validated by the same loader. Its features must be nodes of the audited
playbook.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from console.engine.dialect import hash64
from console.engine.interventions.base import feature_select, scorer_of
from console.engine.investigation import Investigation
from console.errors import ConsoleError
from console.playbook.loader import load_playbook
from console.scoring.build import build_scorer
from console.telemetry.store import duckdb_identifier

GATE_ROWS = 5000
MAX_CHANGED = 0.01  # default share of decisions a candidate may change
SEGMENTS_SHOWN = 10


@dataclass(frozen=True)
class SegmentChange:
    column: str
    value: str
    changed: int
    total: int


@dataclass(frozen=True)
class GateResult:
    candidate: str
    scorer: str  # the candidate scorer's name
    rows: int
    changed: int
    max_changed: float
    segments: list[SegmentChange]

    @property
    def share(self) -> float | None:
        return self.changed / self.rows if self.rows else None

    @property
    def passed(self) -> bool:
        return self.share is not None and self.share <= self.max_changed

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "scorer": self.scorer,
            "rows": self.rows,
            "changed": self.changed,
            "share": self.share,
            "max_changed": self.max_changed,
            "passed": self.passed,
            "segments": [vars(s) for s in self.segments],
        }

    def reason(self) -> str:
        if not self.rows:
            return "no decisions in the window to re-score"
        return (
            f"the candidate changes {self.changed} of {self.rows} sampled decisions "
            f"({self.share:.2%}; at most {self.max_changed:.2%})"
        )


def candidate_gate(
    inv: Investigation, candidate: Path, max_changed: float = MAX_CHANGED
) -> GateResult:
    ctx = inv.ctx
    spec = load_playbook(candidate).scorer
    live = scorer_of(ctx)
    new = build_scorer(spec, candidate.parent, features=spec.features or live.features)
    unknown = [f for f in new.features if f not in ctx.playbook.nodes]
    if unknown:
        raise ConsoleError(
            f"{candidate}: the candidate scorer reads {', '.join(unknown)}, not nodes of "
            f"{ctx.playbook.path}"
        )
    features = list(dict.fromkeys([*live.features, *new.features]))
    segs = [c for c in ctx.columns if c.startswith("seg_")]
    seg_sql = "".join(f", CAST({duckdb_identifier(s)} AS VARCHAR) AS {duckdb_identifier(s)}"
                      for s in segs)  # fmt: skip
    sql = (
        f"SELECT prediction_id{seg_sql}, {feature_select(ctx, features)} FROM decisions "  # noqa: S608
        f"WHERE ts >= $start AND ts < $end ORDER BY {hash64('prediction_id')} LIMIT {GATE_ROWS}"
    )
    rows = ctx.run(sql, {"start": ctx.incident.start, "end": ctx.incident.end})
    if rows.num_rows:
        with live.deadline():
            current = live.decide(live.score(rows.select(live.features))).astype(str)
        with new.deadline():
            proposed = new.decide(new.score(rows.select(new.features))).astype(str)
    else:
        current = proposed = np.zeros(0, dtype=str)
    changed = current != proposed
    segments = []
    for column in segs:
        values = np.array(rows.column(column).to_pylist(), dtype=object).astype(str)
        for value in np.unique(values):
            pick = values == value
            segments.append(
                SegmentChange(column, str(value), int(changed[pick].sum()), int(pick.sum()))
            )
    segments.sort(key=lambda s: (-s.changed / max(s.total, 1), -s.changed, s.column, s.value))
    result = GateResult(
        str(candidate), new.name, int(rows.num_rows), int(changed.sum()), max_changed,
        segments[:SEGMENTS_SHOWN],
    )  # fmt: skip
    inv.note(
        f"model-version gate: {'passed' if result.passed else 'failed'}: {result.reason()}",
    )
    return result
