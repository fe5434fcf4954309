"""Where an investigation stands, read from its audit trail.

The rail and the resume logic both ask the same question - which steps are done, skipped, or
found the broken edge - and the trail is the one record that survives a restart, so the answer
is computed from trail entries alone (plain data, no textual), then shown by the rail. The
entries are read by the one reader, console.audit.vocabulary.Facts; Progress decides from its
facts which steps are done, skipped or next.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from console.audit.vocabulary import STEPS, Facts, Step

StepState = Literal["pending", "current", "done", "skipped", "broken", "failed"]


@dataclass
class Progress:
    """What the trail says so far (console.audit.vocabulary.Facts, the one reader): steps with
    work recorded, the triage call, marked edges, the steps whose latest attempt failed."""

    facts: Facts = field(default_factory=Facts)

    def add_entry(self, entry: Any) -> None:
        self.facts.add(entry)

    @classmethod
    def from_entries(cls, entries: Iterable[Any]) -> Progress:
        return cls(Facts.read(entries))

    @property
    def worked(self) -> set[str]:
        return self.facts.worked

    @property
    def triage_decision(self) -> str | None:
        return self.facts.triage.verdict if self.facts.triage else None

    @property
    def marks(self) -> dict[tuple[str, str], str]:
        """edge -> its latest mark, the latest mark last."""
        return {edge: m.mark for edge, m in self.facts.marks.items()}

    @property
    def proposal_decided(self) -> bool:
        return self.facts.proposal_decided

    @property
    def report_written(self) -> bool:
        return Step.REPORT in self.facts.worked

    @property
    def failures(self) -> dict[str, str]:
        """step -> the error of its latest attempt, while no later attempt succeeded."""
        return {
            step: f.error or "no error message recorded" for step, f in self.facts.failures.items()
        }

    @property
    def broken_edge(self) -> tuple[str, str] | None:
        """The last edge marked broken and not cleared since: the root cause so far."""
        broken = [edge for edge, status in self.marks.items() if status == "broken"]
        return broken[-1] if broken else None  # marks keep the order of the latest call

    @property
    def root_edge(self) -> tuple[str, str] | None:
        """The last edge marked broken or external: what Counterfactual and Validate use."""
        return self.facts.root_edge()

    @property
    def false_alarm(self) -> bool:
        return self.triage_decision == "false_alarm"

    def done(self, step: str) -> bool:
        if step == Step.TRIAGE:
            return self.triage_decision is not None
        if step == Step.INTERVENE:
            return self.root_edge is not None
        if step == Step.VALIDATE:
            return self.proposal_decided or (Step.VALIDATE in self.worked)
        if step == Step.REPORT:
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
            elif step == Step.INTERVENE and self.broken_edge is not None:
                state = "broken"
            elif done:
                state = "done"
            elif later_done or (self.false_alarm and step not in (Step.TRIAGE, Step.REPORT)):
                state = "skipped"
            else:
                state = "pending"
            later_done = later_done or done
            result[step] = state
        return {step: result[step] for step in STEPS}

    def next_step(self) -> str:
        """The step to show when an incident is opened or resumed."""
        if self.false_alarm:
            return Step.REPORT
        for step in STEPS:
            if not self.done(step):
                return step
        return Step.REPORT


def edge_text(edge: tuple[str, str]) -> str:
    return f"{edge[0]} -> {edge[1]}"
