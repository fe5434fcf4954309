"""Messages workers post to the app; only their handlers touch widgets.

One message class per result, so each handler (`@on(TriageDone)`) gets the result's own type.
Each carries the trail entries its worker read after the call (read off the UI thread, set by
the worker before posting), so the step rail is up to date before the result is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.message import Message

from console.audit import Entry
from console.engine.results import (
    BlastRadius,
    Explanation,
    InterventionResult,
    LocateResult,
    ReportResult,
    TriageResult,
    ValidationResult,
)

if TYPE_CHECKING:
    from console.ui.opening import Opened

Edge = tuple[str, str]


class Done(Message):
    """An engine call finished. Subclasses are dataclasses of its typed result (Message
    initialises itself in __post_init__, as dataclasses call it; identity equality, as every
    message)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.entries: list[Entry] = []


@dataclass(eq=False)
class TriageDone(Done):
    result: TriageResult


@dataclass(eq=False)
class TriageDecided(Done):
    decision: str


@dataclass(eq=False)
class LocateDone(Done):
    result: LocateResult


@dataclass(eq=False)
class InterventionDone(Done):
    result: InterventionResult
    edge: Edge


@dataclass(eq=False)
class EdgeMarked(Done):
    edge: Edge
    status: str


@dataclass(eq=False)
class CounterfactualDone(Done):
    result: BlastRadius


@dataclass(eq=False)
class ExplainDone(Done):
    result: Explanation


@dataclass(eq=False)
class ValidateDone(Done):
    result: ValidationResult


@dataclass(eq=False)
class ProposalDecided(Done):
    path: Path | None
    accept: bool


@dataclass(eq=False)
class PostfixDefault(Done):
    start: datetime | None


@dataclass(eq=False)
class ReportDone(Done):
    result: ReportResult
    grade: Any  # the game day's Grade (console.gameday.grading), when graded now


@dataclass(eq=False)
class ExportDone(Done):
    result: dict[str, Any]  # console.engine.usecases.ExportAll.to_dict()


@dataclass(eq=False)
class GradeDone(Done):
    grade: Any  # console.gameday.grading.Grade
    markdown: str | None  # the report's text with the grade appended, when written


class NoteAdded(Done):
    """A note was appended to the trail."""


class EngineFailed(Message):
    """An engine call raised. `expected` is True for a ConsoleError (the user can fix it)."""

    def __init__(
        self,
        task: str,
        error: BaseException,
        expected: bool,
        details: str,
        entries: list[Entry],
    ) -> None:
        super().__init__()
        self.task = task
        self.error = error
        self.expected = expected
        self.details = details
        self.entries = entries


class TrailRead(Message):
    """New trail entries, read by the tail's polling worker."""

    def __init__(self, entries: list[Entry]) -> None:
        super().__init__()
        self.entries = entries


class InvestigationOpened(Message):
    """The investigation is open (console/ui/opening.py): the one message that hands it, and
    what was read with it, to the app and so to the panes."""

    def __init__(self, opened: Opened) -> None:
        super().__init__()
        self.opened = opened


class OpenFailed(Message):
    """The investigation did not open: the app ends and the CLI reports the error."""
