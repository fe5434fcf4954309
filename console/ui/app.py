"""The incident console: a Textual app over one Investigation.

Layout: header (model, metric, windows, severity, elapsed), step rail, the current step's
pane, a live tail of the audit trail, the footer with the keys. Engine calls run in one
worker at a time (`engine_call`); it posts EngineDone / EngineFailed and only the handlers
touch widgets. The trail is the state: the rail is recomputed from its entries.

No file is read on the UI thread: the trail and the report are read once in the constructor
(before the app runs), then by workers only (the engine worker after each call, the tail's
polling worker), which post what they read.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.filter import LineFilter
from textual.notifications import SeverityLevel
from textual.widgets import ContentSwitcher, DataTable, Footer, Label, ProgressBar

from console.audit import Entry, load_key
from console.audit.export import FORMATS as EXPORT_FORMATS
from console.audit.vocabulary import Action, Step, View, edge_of
from console.engine.results import ReportResult
from console.engine.revive import last_results, revive
from console.errors import ConsoleError
from console.gameday.grading import Grade
from console.telemetry.windows import parse_utc
from console.text import one_line
from console.ui.bindings import APP_BINDINGS
from console.ui.commands import IncidentCommands
from console.ui.filters import NoControlCodes
from console.ui.format import plain
from console.ui.messages import EngineDone, EngineFailed, TrailRead
from console.ui.modals import ErrorModal, PromptModal
from console.ui.state import STEPS, TITLES, Progress, edge_text
from console.ui.steps.base import StepPane
from console.ui.steps.counterfactual import CounterfactualPane
from console.ui.steps.intervene import IntervenePane
from console.ui.steps.locate import LocatePane
from console.ui.steps.report import ReportPane
from console.ui.steps.triage import TriagePane
from console.ui.steps.validate import ValidatePane
from console.ui.widgets.header import IncidentHeader
from console.ui.widgets.rail import StepRail
from console.ui.widgets.trail_tail import TrailTail

# Actions that belong to one step: enabled only while that step is shown.
STEP_ACTIONS = {
    "decide": "triage",
    "mark": "intervene",
    "explain_id": "counterfactual",
    "postfix_start": "validate",
    "proposal": "validate",
    "export": "report",
}
RUNNING_TEXT = {
    "triage": "Running the triage checks",
    "locate": "Ranking the ancestors of the metric",
    "intervene": "Running the intervention",
    "counterfactual": "Re-scoring the incident window",
    "explain": "Explaining the decision",
    "validate": "Re-running on the post-fix window",
    "report": "Writing the post-mortem draft",
    "export": "Exporting the report and the trail",
    "grade": "Grading the game day",
    "postfix_default": "Finding the fix (the first change after the alert)",
}


NO_CONTROL_CODES = NoControlCodes()


@dataclass(frozen=True)
class GameDay:
    """A game day: the bundled scenario's name and its folder (with answer.toml)."""

    scenario: str
    folder: Path


def entry_clock(entry: Entry) -> str:
    return entry.time.strftime("%H:%M:%S")


class IncidentApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "incident-console"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = APP_BINDINGS
    COMMANDS = App.COMMANDS | {IncidentCommands}
    COMMAND_PALETTE_BINDING = "ctrl+p"

    def __init__(
        self,
        inv: Any,
        *,
        gameday: GameDay | None = None,
        keymap: dict[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
        time_text: Callable[[Entry], str] = entry_clock,
    ) -> None:
        super().__init__()
        self.inv = inv
        self.gameday = gameday
        self.clock = clock or (lambda: datetime.now(UTC))
        self.time_text = time_text
        self.incident_dir = Path(inv.trail.incident_dir)
        self.tail = TrailTail(self.incident_dir, self.time_text, id="tail")
        # The constructor runs before the app does: the one read of the whole trail (and of
        # the report, on resume) happens here, off the UI thread's event loop.
        opening: list[Entry] = []
        self.tail.read_new(opening.extend)
        self.opening = opening
        self.progress = Progress.from_entries(opening)
        self.report_text = self._read_report()
        self.step = self.progress.next_step()
        self.edge: tuple[str, str] | None = self._last_tested_edge(opening)
        self.running: str | None = None
        self.cancelling = False
        self.results: dict[str, Any] = {}
        self.graded = self.progress.facts.grade is not None
        self.grade: Any = None  # the game day's Grade once graded in this session
        if keymap:
            self.set_keymap(keymap)

    def get_line_filters(self) -> list[LineFilter]:
        return [*super().get_line_filters(), NO_CONTROL_CODES]

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notification as plain text: they quote edges, typed values and grades, which
        must never be read as markup (an unbalanced `[/b]` would even raise)."""
        super().notify(
            one_line(message), title=one_line(title), severity=severity, timeout=timeout,
            markup=False,
        )  # fmt: skip

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield IncidentHeader(id="header")
        with Horizontal(id="main"):
            yield StepRail(id="rail")
            with Vertical(id="center"):
                with ContentSwitcher(id="steps", initial=self.step):
                    yield TriagePane(id="triage")
                    yield LocatePane(id="locate")
                    yield IntervenePane(id="intervene")
                    yield CounterfactualPane(id="counterfactual")
                    yield ValidatePane(id="validate")
                    yield ReportPane(id="report")
                with Horizontal(id="busy"):
                    yield ProgressBar(total=None, show_eta=False, id="busy-bar")
                    yield Label("", id="busy-label")
        yield self.tail
        yield Footer()

    def on_mount(self) -> None:
        header = self.query_one(IncidentHeader)
        playbook = self.inv.playbook
        header.model = playbook.model.name
        header.metric = getattr(self.inv, "metric", None) or playbook.triage.metric
        windows = getattr(self.inv, "windows", {}) or {}
        if "incident" in windows:
            header.incident_window = (windows["incident"].start, windows["incident"].end)
        if "baseline" in windows:
            header.baseline_window = (windows["baseline"].start, windows["baseline"].end)
        self._header_from_trail(header)
        header.started = self.opening[0].time if self.opening else self.clock()
        header.label = f"scenario {self.gameday.scenario}" if self.gameday else ""
        self._tick()
        self.set_interval(1.0, self._tick)
        self.tail.add(self.opening)
        self.set_interval(0.5, self.poll_trail)
        self.query_one("#busy").display = False
        self._refresh_rail()
        self.query_one(IntervenePane).show_plan(self.edge, self._mark(self.edge))
        self.call_after_refresh(self._pane().focus_main)
        if Step.TRIAGE not in self.progress.worked:
            self.start("triage", self.inv.triage)
        else:
            self._restore()
            self.notify(f"Resumed at {TITLES[self.step]}", timeout=4)

    def _restore(self) -> None:
        """Show the results the trail holds, as they were, without running anything again."""
        entries = self.opening
        found = last_results(entries)
        if "triage" in found:
            self._done_triage(found["triage"])
        if "locate" in found:
            self._done_locate(found["locate"])
        if "intervene" in found:
            self._done_intervene(found["intervene"], tuple(found["intervene"].edge))
        if "counterfactual" in found:
            self._done_counterfactual(found["counterfactual"], found["counterfactual"].edge)
        if "explain" in found:
            self._done_explain(found["explain"], found["explain"].prediction_id)
        if "validate" in found:
            self._done_validate(found["validate"], found["validate"].edge)
        if self.report_text is not None:
            self._restore_report(self.report_text)
        graded = self.progress.facts.grade
        if graded is not None:
            try:
                self.grade = revive(Grade, graded.result)
                self._pane("report").show("grade", self.grade)
            except (TypeError, ValueError, KeyError):
                self.grade = None  # an older grade format: g grades again
        for step, error in self.progress.failures.items():
            self._pane(step).show_failed(error)
        self.edge = self._last_tested_edge(entries)
        self.goto(self.step)

    def _read_report(self) -> str | None:
        """The text of the last report the trail says was written; None when there is none
        or the file is gone (r writes it again)."""
        entry = self.progress.facts.report
        if entry is None:
            return None
        try:
            return (self.incident_dir / self._report_path(entry)).read_text(encoding="utf-8")
        except OSError:
            return None

    @staticmethod
    def _report_path(entry: View) -> str:
        return str(entry.result.get("path") or entry.params.get("path") or "report.md")

    def _restore_report(self, markdown: str) -> None:
        entry = self.progress.facts.report
        if entry is None:
            return
        path = self._report_path(entry)
        report = ReportResult(
            path,
            markdown,
            str(entry.result.get("trail_head", "")),
            int(entry.result.get("trail_count", 0)),
        )
        self.results["report"] = report
        self._pane("report").show("report", report)

    def _header_from_trail(self, header: IncidentHeader) -> None:
        """On resume, the severity and change of the last triage in the trail."""
        entry = self.progress.facts.results.get(Step.TRIAGE)
        if entry is not None:
            header.tier = str(entry.result.get("tier", ""))
            change = entry.result.get("relative_change")
            header.change = change if isinstance(change, int | float) else None

    def _tick(self) -> None:
        # The interval can fire while the app is shutting down and its widgets are gone.
        for header in self.query(IncidentHeader):
            header.now = self.clock()

    def _pane(self, step: str | None = None) -> StepPane:
        return self.query_one(f"#{step or self.step}", StepPane)

    def _refresh_rail(self) -> None:
        rail = self.query_one(StepRail)
        rail.failed = frozenset(self.progress.failures)
        rail.states = self.progress.states(self.step)

    def _add_entries(self, entries: list[Entry]) -> None:
        """New trail entries, read by a worker: into the tail and the step rail."""
        if not entries:
            return
        self.tail.add(entries)
        for entry in entries:
            self.progress.add_entry(entry)
        self._refresh_rail()

    @work(thread=True, exclusive=True, exit_on_error=False, group="tail")
    def poll_trail(self) -> None:
        self.tail.read_new(self._post_new_entries)

    def _post_new_entries(self, entries: list[Entry]) -> None:
        if entries:
            self.post_message(TrailRead(entries))

    def on_trail_read(self, message: TrailRead) -> None:
        self._add_entries(message.entries)

    def _last_tested_edge(self, entries: list[Entry]) -> tuple[str, str] | None:
        if self.progress.root_edge:
            return self.progress.root_edge
        edge = None
        for entry in entries:
            if entry.step == Step.INTERVENE:
                edge = edge_of(entry.params.get("edge")) or edge
        return edge

    def _mark(self, edge: tuple[str, str] | None) -> str | None:
        return self.progress.marks.get(edge) if edge else None

    # -- workers ---------------------------------------------------------------------------

    def start(self, task: str, fn: Callable[..., Any], *args: Any) -> None:
        """Run an engine call in the worker; one at a time, since they share one connection."""
        if self.running:
            self.notify(f"Busy: {RUNNING_TEXT.get(self.running, self.running)} (x cancels)")
            return
        self.running = task
        self.cancelling = False
        label = RUNNING_TEXT.get(task, task)
        if task == "intervene":
            label = f"{label} on {edge_text(args[0])}"
        self.query_one("#busy-label", Label).update(plain(f"{label}…  x cancels"))
        self.query_one("#busy").display = True
        self.refresh_bindings()
        self.engine_call(task, fn, *args)

    # Not exclusive: start() already runs one call at a time, and a handler starting the next
    # call while the previous worker thread is still returning must not cancel that worker.
    @work(thread=True, exit_on_error=False, group="engine")
    def engine_call(self, task: str, fn: Callable[..., Any], *args: Any) -> None:
        self._call_and_post(task, fn, *args)

    def _call_and_post(self, task: str, fn: Callable[..., Any], *args: Any) -> None:
        """Runs in a worker: the call, then the entries it appended, posted with its outcome
        (so the rail is up to date before the result is shown)."""
        outcome: Callable[[list[Entry]], EngineDone | EngineFailed]
        try:
            result = fn(*args)
        except ConsoleError as exc:
            outcome = partial(EngineFailed, task, exc, True, str(exc))
        except Exception as exc:
            outcome = partial(EngineFailed, task, exc, False, traceback.format_exc())
        else:
            outcome = partial(EngineDone, task, result, args)
        self.tail.read_new(lambda new: self.post_message(outcome(new)))

    def _idle(self) -> None:
        self.running = None
        self.query_one("#busy").display = False
        self.refresh_bindings()

    def on_engine_failed(self, message: EngineFailed) -> None:
        if message.task != "note":
            self._idle()
        # intervene, counterfactual and explain record their failures (and cancellations) in
        # the trail; the other steps leave no entry when they fail.
        self._add_entries(message.entries)
        if message.task in STEPS:
            # The trail's ("<step>", "failed") entry says why; a step that records none yet
            # still shows the error it raised.
            error = self.progress.failures.get(message.task, str(message.error))
            self._pane(message.task).show_failed(error)
        if self.cancelling:
            self.notify(f"{RUNNING_TEXT.get(message.task, message.task)}: cancelled", timeout=4)
        elif message.expected:
            self.push_screen(ErrorModal(f"{message.task} failed", message.details))
        else:
            self.push_screen(
                ErrorModal(
                    f"Unexpected error in {message.task} (a bug: copy it into an issue)",
                    f"{type(message.error).__name__}: {message.error}\n\n{message.details}",
                )
            )
        self.cancelling = False

    def on_engine_done(self, message: EngineDone) -> None:
        if message.task != "note":
            self._idle()
        self._add_entries(message.entries)  # the rail knows the step is done before it shows
        handler = getattr(self, f"_done_{message.task}")
        handler(message.result, *message.args)

    # -- results ---------------------------------------------------------------------------

    def _done_triage(self, result: Any) -> None:
        self.results["triage"] = result
        header = self.query_one(IncidentHeader)
        header.metric = result.metric
        header.change = result.relative_change
        header.tier = result.tier
        self._pane("triage").show("triage", result)

    def _done_decide_triage(self, _result: Any, decision: str, _note: str = "") -> None:
        if decision == "false_alarm":
            self.notify("Closed as a false alarm: write the report (r)", timeout=4)
            self.goto("report")
        else:
            self.goto("locate")
            self.start("locate", self.inv.locate)

    def _done_locate(self, result: Any) -> None:
        self.results["locate"] = result
        self._pane("locate").show("locate", result)
        self._pane("locate").focus_main()

    def _done_intervene(self, result: Any, edge: tuple[str, str]) -> None:
        self.results["intervene"] = result
        pane = self.query_one(IntervenePane)
        pane.show_plan(edge, self._mark(edge))
        pane.show("intervene", result)

    def _done_mark_edge(
        self, _result: Any, edge: tuple[str, str], status: str, _note: str = ""
    ) -> None:
        self.query_one(IntervenePane).show_plan(edge, status)
        if status == "broken":
            self.notify(f"{edge_text(edge)} marked broken: re-scoring the blast radius", timeout=4)
            self.goto("counterfactual")
            self.start("counterfactual", self.inv.counterfactual, edge)
        elif status == "cleared":
            self.notify(f"{edge_text(edge)} cleared: pick the next candidate", timeout=4)
            self.goto("locate")
            self._highlight_next_candidate()
        else:
            self.notify(f"{edge_text(edge)} marked external", timeout=4)

    def _done_counterfactual(self, result: Any, _edge: tuple[str, str]) -> None:
        self.results["counterfactual"] = result
        self._pane("counterfactual").show("counterfactual", result)

    def _done_explain(self, result: Any, _prediction_id: str, _edge: Any = None) -> None:
        self._pane("counterfactual").show("explain", result)

    def _done_validate(self, result: Any, _edge: tuple[str, str], _start: Any = None) -> None:
        self.results["validate"] = result
        self._pane("validate").show("validate", result)

    def _done_decide_proposal(self, result: Path | None, accept: bool) -> None:
        verdict = (
            f"accepted: {result}" if accept and result else "rejected" if not accept else "accepted"
        )
        self._pane("validate").show("decide_proposal", verdict)
        self.notify(f"Playbook change {verdict}", timeout=4)

    def _write_report(self) -> tuple[Any, Any]:
        """Runs in the worker: the post-mortem, graded and with the grade appended on a game day."""
        result = self.inv.report()
        if self.gameday is None:
            return result, None
        from console.gameday import grading

        path = self.incident_dir / result.path
        grade = self.grade
        if grade is None:
            grade = grading.grade_and_record(self.inv.trail, self.gameday.folder, path)
        else:
            # The grade section goes back on the rewritten report, and a grade entry records
            # the report's final sha256 (report() hashed it before the section was added).
            grading.record_grade(self.inv.trail, grade, path)
        return replace(result, markdown=path.read_text(encoding="utf-8")), grade

    def _done_report(self, outcome: tuple[Any, Any]) -> None:
        result, grade = outcome
        self.results["report"] = result
        self._pane("report").show("report", result)
        if grade is not None and self.grade is None:
            self._show_grade(grade)

    def _done_export(self, result: dict) -> None:
        self._pane("report").show("export", result)
        state = "verifies" if result["verified"] else "FAILS verification"
        self.notify(f"Exported {len(result['files'])} files; the trail {state}", timeout=5)

    def _grade_game_day(self, report: Path | None) -> tuple[Any, str | None]:
        """Runs in the worker: grade and record the game day; with a written report, the
        grade is appended to it and its new text comes back too."""
        from console.gameday import grading

        grade = grading.grade_and_record(self.inv.trail, self.gameday.folder, report)
        markdown = report.read_text(encoding="utf-8") if report and report.exists() else None
        return grade, markdown

    def _done_grade(self, outcome: tuple[Any, str | None], _report: Path | None) -> None:
        grade, markdown = outcome
        report = self.results.get("report")
        if report is not None and markdown is not None:
            self.results["report"] = replace(report, markdown=markdown)
            self._pane("report").show("report", self.results["report"])
        self._show_grade(grade)

    def _show_grade(self, grade: Any) -> None:
        self.graded = True
        self.grade = grade
        self._pane("report").show("grade", grade)
        self.goto("report")
        self.notify(grade.headline(), title="Game day graded", timeout=8)

    def _done_note(self, _result: Any, _text: str, _step: str | None = None) -> None:
        self.notify("Note added to the trail", timeout=2)

    def _highlight_next_candidate(self) -> None:
        pane = self.query_one(LocatePane)
        marked = set(self.progress.marks)
        for row, candidate in enumerate(pane.candidates):
            if candidate.edge not in marked:
                pane.query_one("#locate-candidates", DataTable).move_cursor(row=row)
                break
        pane.focus_main()

    # -- actions ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if len(self.screen_stack) > 1:
            return False  # a modal is open: only its own keys apply
        if action in ("command_palette", "quit", "toggle_keys", "note"):
            return True
        return self.available(action, parameters)

    def available(self, action: str, parameters: tuple[object, ...]) -> bool:
        """Whether an action makes sense now (the palette asks too, while it is open)."""
        if action == "cancel":
            return self.running is not None
        owner = STEP_ACTIONS.get(action)
        if owner is not None and owner != self.step:
            return False
        if action == "mark":
            return self.results.get("intervene") is not None and self.running is None
        if action == "decide":
            return "triage" in self.results and self.running is None
        if action == "proposal":
            result = self.results.get("validate")
            return bool(result and result.proposal) and not self.progress.proposal_decided
        if action == "explain_id":
            return self.progress.root_edge is not None
        if action == "end_gameday":
            return self.gameday is not None and not self.graded
        if action == "export":
            return "report" in self.results
        if action == "run":
            return self.running is None
        return True

    def goto(self, step: str) -> None:
        self.step = step
        self.query_one("#steps", ContentSwitcher).current = step
        self._refresh_rail()
        if step == "intervene":
            self.query_one(IntervenePane).show_plan(self.edge, self._mark(self.edge))
        self._pane().focus_main()
        self.refresh_bindings()

    def action_goto(self, step: str) -> None:
        self.goto(step)

    def action_run(self) -> None:
        inv = self.inv
        if self.step == "triage":
            self.start("triage", inv.triage)
        elif self.step == "locate":
            self.start("locate", inv.locate)
        elif self.step == "intervene":
            if self.edge is None:
                self.notify("Pick an edge first: Locate (2) or the palette (:)", severity="warning")
                return
            self.query_one(IntervenePane).clear_result()
            self.start("intervene", inv.intervene, self.edge)
        elif self.step == "counterfactual":
            edge = self.progress.root_edge
            if edge is None:
                self.notify(
                    "Mark the root-cause edge (b or e) in Intervene first", severity="warning"
                )
                return
            self.start("counterfactual", inv.counterfactual, edge)
        elif self.step == "validate":
            self._validate(None)
        elif self.step == "report":
            self.start("report", self._write_report)

    def _validate(self, start: datetime | None) -> None:
        edge = self.progress.root_edge
        if edge is None:
            self.notify("Mark the root-cause edge (b or e) in Intervene first", severity="warning")
            return
        self.start("validate", self.inv.validate, edge, start)

    def action_cancel(self) -> None:
        if self.running:
            self.cancelling = True
            self.inv.cancel()
            self.query_one("#busy-label", Label).update("Cancelling…")

    def action_decide(self, decision: str) -> None:
        self.start("decide_triage", self.inv.decide_triage, decision, "")

    def action_mark(self, status: str) -> None:
        if self.edge is not None:
            self.start("mark_edge", self.inv.mark_edge, self.edge, status, "")

    def test_edge(self, edge: tuple[str, str]) -> None:
        """Show the edge's plan in Intervene and run its intervention."""
        self.edge = edge
        self.goto("intervene")
        self.query_one(IntervenePane).clear_result()
        self.start("intervene", self.inv.intervene, edge)

    @on(DataTable.RowSelected, "#locate-candidates")
    def _candidate_selected(self, event: DataTable.RowSelected) -> None:
        candidate = self.query_one(LocatePane).highlighted
        if candidate is not None and self.running is None:
            self.test_edge(candidate.edge)

    @on(DataTable.RowSelected, "#cf-flipped")
    def _flipped_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value and self.running is None:
            self.explain(str(event.row_key.value))

    def explain(self, prediction_id: str) -> None:
        self.start("explain", self.inv.explain, prediction_id, self.progress.broken_edge)

    def action_explain_id(self) -> None:
        def chosen(value: str | None) -> None:
            if value:
                self.explain(value)

        self.push_screen(
            PromptModal("Explain a decision", "prediction id", placeholder="id"), chosen
        )

    def action_postfix_start(self) -> None:
        # Prefilled with the start of the last validation, else with the engine's default
        # (the fix: the first change on the root-cause edge after the alert, found by the
        # engine worker), so adjusting it is an edit, not a retype.
        edge = self.progress.root_edge
        if edge is None:
            self.notify("Mark the root-cause edge (b or e) in Intervene first", severity="warning")
            return
        validated = self.results.get("validate")
        if validated is not None:
            self._prompt_postfix_start(validated.window.start)
        else:
            self.start("postfix_default", self._fix_time, edge)

    def _fix_time(self, edge: tuple[str, str]) -> datetime | None:
        """Runs in the worker: the post-fix start the engine picks by default, if a fix shows."""
        from console.engine.validate import fix_time

        ctx = self.inv.ctx
        return fix_time(ctx, ctx.edge(*edge))

    def _done_postfix_default(self, start: datetime | None, _edge: tuple[str, str]) -> None:
        self._prompt_postfix_start(start)

    def _prompt_postfix_start(self, start: datetime | None) -> None:
        default = start.strftime("%Y-%m-%dT%H:%M") if start else ""

        def chosen(value: str | None) -> None:
            if value is None:
                return
            if not value:
                self._validate(None)  # the engine's default: from the fix
                return
            try:
                start = parse_utc(value)  # as --alert-at: no offset means UTC
            except ConsoleError as exc:
                self.notify(f"{exc} (use 2026-11-20T14:00)", severity="error")
                return
            self._validate(start)

        self.push_screen(
            PromptModal(
                "Post-fix window start (UTC)",
                "ISO time, e.g. 2026-11-20T14:00, or empty for the engine's default (the fix); "
                "the window lasts the playbook's postfix",
                value=default,
            ),
            chosen,
        )

    def action_proposal(self, accept: bool) -> None:
        self.start("decide_proposal", self.inv.decide_proposal, accept)

    def action_export(self) -> None:
        self.start("export", self._export_all)

    def _export_all(self) -> dict:
        """Runs in the worker: every trail format plus the report, into <incident>/exports."""
        from console.audit import export, verify

        key = load_key()  # as the CLI does: with a key, the head's signature is checked too
        sensitive = list(self.inv.playbook.sensitive)
        folder = self.incident_dir / "exports"
        folder.mkdir(exist_ok=True)
        files = []
        for fmt in EXPORT_FORMATS:
            out = folder / f"trail.{fmt}"
            done = export(self.incident_dir, fmt, out, sensitive=sensitive, key=key)
            files.append(str(done.path.relative_to(self.incident_dir)))
        report = self.results.get("report")
        if report is not None:
            files.insert(0, report.path)
        check = verify(self.incident_dir, key=key)
        self.inv.trail.append(
            Step.REPORT,
            Action.EXPORT,
            params={"formats": list(EXPORT_FORMATS)},
            result={"files": files, "head": check.head, "verified": check.ok},
        )
        return {"files": files, "head": check.head, "verified": check.ok}

    def action_end_gameday(self) -> None:
        if self.gameday is None:
            return
        report = self.results.get("report")
        path = self.incident_dir / report.path if report is not None else None
        self.start("grade", self._grade_game_day, path)

    def action_note(self) -> None:
        def chosen(text: str | None) -> None:
            if text:
                self.start_note(text)

        self.push_screen(
            PromptModal(
                "Add a note to the trail",
                f"step: {TITLES[self.step]}",
                placeholder="what you saw or did",
            ),
            chosen,
        )

    def start_note(self, text: str) -> None:
        # Notes go through their own worker group so they never cancel a running query.
        self.note_call(text, self.step)

    @work(thread=True, exclusive=False, exit_on_error=False, group="note")
    def note_call(self, text: str, step: str) -> None:
        self._call_and_post("note", self._note, text, step)

    def _note(self, text: str, step: str) -> None:
        self.inv.note(text, step=step)

    async def action_quit(self) -> None:
        # A running query is interrupted first, so closing the store does not wait for it.
        if self.running:
            self.inv.cancel()
        self.exit()

    def action_toggle_keys(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()
