"""Where an investigation stands, read from its audit trail.

The rail and the resume logic both ask the same question - which steps are done, skipped, or
found the broken edge - and the trail is the one record that survives a restart, so the answer
is computed from trail entries alone (plain data, no textual), then shown by the rail.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

STEPS: tuple[str, ...] = ("triage", "locate", "intervene", "counterfactual", "validate", "report")
TITLES: dict[str, str] = {
    "triage": "Triage",
    "locate": "Locate",
    "intervene": "Intervene",
    "counterfactual": "Counterfactual",
    "validate": "Validate",
    "report": "Report",
}
StepState = Literal["pending", "current", "done", "skipped", "broken", "failed"]
# Entries that say nothing about progress through the steps (a failed explain is a drill-in
# that did not work, not a failure of the counterfactual step).
_NEUTRAL_ACTIONS = frozenset(
    {"note", "correct", "open", "resume", "recovered", "grade", "explain_failed"}
)
# The entry that holds each step's result (docs/engine.md); intervention entries are named
# after the intervention type, so any intervene entry but these is a result.
_RESULT_ACTIONS = {
    "triage": "triage",
    "locate": "rank_candidates",
    "counterfactual": "blast_radius",
    "validate": "postfix",
    "report": "write",
}
_NOT_INTERVENTIONS = frozenset({"mark_edge", "failed"})


@dataclass
class Progress:
    """What the trail says so far: steps with work recorded, the triage call, marked edges."""

    worked: set[str] = field(default_factory=set)
    triage_decision: str | None = None
    marks: dict[tuple[str, str], str] = field(default_factory=dict)  # edge -> last status
    proposal_decided: bool = False
    report_written: bool = False
    # step -> the error of its latest attempt, while no later attempt succeeded
    # (the ("<step>", "failed") entries, as Investigation.failures holds them).
    failures: dict[str, str] = field(default_factory=dict)

    def add(self, step: str, action: str, params: dict[str, Any], result: Any = None) -> None:
        if action in _NEUTRAL_ACTIONS or step not in STEPS:
            return
        if action == "failed":
            error = result.get("error") if isinstance(result, dict) else None
            self.failures[step] = str(error or "no error message recorded")
            return
        if _RESULT_ACTIONS.get(step, action) == action and action not in _NOT_INTERVENTIONS:
            self.failures.pop(step, None)
        self.worked.add(step)
        if step == "triage" and action in ("decide", "decide_triage"):
            self.triage_decision = str(params.get("verdict") or params.get("decision") or "")
        elif action == "mark_edge":
            edge = edge_of(params.get("edge"))
            if edge:
                self.marks.pop(edge, None)  # re-insert: the latest mark is the last one
                self.marks[edge] = str(params.get("mark") or params.get("status") or "")
        elif action in ("accept_proposal", "reject_proposal", "decide_proposal"):
            self.proposal_decided = True
        elif step == "report":
            self.report_written = True

    @classmethod
    def from_entries(cls, entries: Iterable[Any]) -> Progress:
        progress = cls()
        for entry in entries:
            progress.add(entry.step, entry.action, entry.params, entry.result)
        return progress

    @property
    def broken_edge(self) -> tuple[str, str] | None:
        """The last edge marked broken and not cleared since: the root cause so far."""
        broken = [edge for edge, status in self.marks.items() if status == "broken"]
        return broken[-1] if broken else None  # marks keep the order of the latest call

    @property
    def root_edge(self) -> tuple[str, str] | None:
        """The last edge marked broken or external: what Counterfactual and Validate use."""
        found = [edge for edge, status in self.marks.items() if status in ("broken", "external")]
        return found[-1] if found else None

    @property
    def false_alarm(self) -> bool:
        return self.triage_decision == "false_alarm"

    def done(self, step: str) -> bool:
        if step == "triage":
            return self.triage_decision is not None
        if step == "intervene":
            return self.root_edge is not None
        if step == "validate":
            return self.proposal_decided or ("validate" in self.worked)
        if step == "report":
            return self.report_written
        return step in self.worked

    def states(self, current: str) -> dict[str, StepState]:
        """pending / current / failed / done / skipped / broken for each step, in order (the
        rail shows a current step that failed with `failures`)."""
        later_done = False
        result: dict[str, StepState] = {}
        for step in reversed(STEPS):
            done = self.done(step)
            if step == current:
                state: StepState = "current"
            elif step in self.failures:
                state = "failed"
            elif step == "intervene" and self.broken_edge is not None:
                state = "broken"
            elif done:
                state = "done"
            elif later_done or (self.false_alarm and step not in ("triage", "report")):
                state = "skipped"
            else:
                state = "pending"
            later_done = later_done or done
            result[step] = state
        return {step: result[step] for step in STEPS}

    def next_step(self) -> str:
        """The step to show when an incident is opened or resumed."""
        if self.false_alarm:
            return "report"
        for step in STEPS:
            if not self.done(step):
                return step
        return "report"


def edge_of(value: Any) -> tuple[str, str] | None:
    """An edge from its trail form: ["a", "b"] or "a -> b"."""
    if isinstance(value, list | tuple) and len(value) == 2:
        return (str(value[0]), str(value[1]))
    if isinstance(value, str) and "->" in value:
        source, target = (part.strip() for part in value.split("->", 1))
        return (source, target)
    return None


def edge_text(edge: tuple[str, str]) -> str:
    return f"{edge[0]} -> {edge[1]}"
