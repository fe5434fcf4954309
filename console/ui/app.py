"""The incident console: a Textual app over one Investigation.

Layout: header (model, metric, windows, severity, elapsed), step rail, the current step's
pane, a live tail of the audit trail, the footer with the keys. Engine calls run in one
worker at a time (`engine_call`); it posts the typed message of its result (TriageDone, ...;
console/ui/messages.py) or EngineFailed, and only the `@on` handlers touch widgets. The steps
come from one table (console/ui/steps/table.py): the layout, `r`, the keys that belong to a
step, resume and the palette read it. The trail is the state: the rail is recomputed from
its entries.

The first frame is drawn before the investigation is open (issue 21): given an Opening
(console/ui/opening.py, what the CLI builds), the app shows the step shells with "opening
<incident> …", opens the investigation on a thread after that frame and takes it from one
message (InvestigationOpened); until then only the keys in BEFORE_OPEN act. Given an open
Investigation (the tests), it starts with it.

No file is read on the UI thread: the trail and the report are read once with the
investigation (in the constructor, or on the opening thread), then by workers only (the engine
worker after each call, the tail's polling worker), which post what they read.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.filter import LineFilter
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.theme import BUILTIN_THEMES
from textual.widgets import ContentSwitcher, DataTable, Footer, Label, ProgressBar

from console.audit import Entry, load_key
from console.audit.vocabulary import Action, Step, edge_of
from console.config import Config, save_theme
from console.engine.results import (
    BlastRadius,
    Explanation,
    InterventionResult,
    LocateResult,
    ReportResult,
    TriageResult,
    ValidationResult,
)
from console.engine.revive import last_results, revive
from console.errors import ConsoleError
from console.text import one_line
from console.ui.bindings import APP_BINDINGS, SCOPED_BINDINGS, bound_keys, clashes
from console.ui.commands import IncidentCommands
from console.ui.detail import Detail, DetailScreen
from console.ui.filters import NoControlCodes
from console.ui.format import fmt_clock, plain
from console.ui.help import KeysScreen, key_sections
from console.ui.messages import (
    CounterfactualDone,
    Done,
    EdgeMarked,
    EngineFailed,
    ExplainDone,
    ExportDone,
    GradeDone,
    InterventionDone,
    InvestigationOpened,
    LocateDone,
    NoteAdded,
    OpenFailed,
    PostfixDefault,
    ProposalDecided,
    ReportDone,
    TrailRead,
    TriageDecided,
    TriageDone,
    ValidateDone,
)
from console.ui.modals import ConfirmModal, ErrorModal, NoteModal, PromptModal
from console.ui.opening import Opened, Opening, read_opened
from console.ui.state import Progress, edge_text
from console.ui.steps.base import StepPane
from console.ui.steps.counterfactual import CounterfactualPane
from console.ui.steps.intervene import IntervenePane
from console.ui.steps.locate import LocatePane
from console.ui.steps.report import ReportPane
from console.ui.steps.table import STEP_ACTIONS, STEP_SPECS, STEP_TABLE, TITLES
from console.ui.steps.triage import TriagePane
from console.ui.steps.validate import ValidatePane
from console.ui.widgets.header import IncidentHeader
from console.ui.widgets.rail import StepRail
from console.ui.widgets.trail_tail import TrailTail

# The engine's steps, the exports and the grading are imported where they are first used,
# not here: the first frame needs none of them (issue 21: the first screen sooner).
if TYPE_CHECKING:
    from console.engine.context import ScenarioHints
    from console.engine.investigation import Investigation

# The keys that need no open investigation: they work while it opens (issue 21: the first
# screen is drawn before the investigation is open; every other key waits for it).
BEFORE_OPEN = frozenset({"quit", "toggle_keys", "goto", "command_palette"})

# What the busy line and the busy notice say the worker is doing: every task start() runs
# has its words here, so no internal name (decide_triage) ever reaches the screen.
RUNNING_TEXT: dict[str, str] = {
    "triage": "Running the triage checks",
    "decide_triage": "Recording the triage call",
    "mark_edge": "Recording the edge's mark",
    "decide_proposal": "Recording the playbook decision",
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


def _is_grade(entry: Entry) -> bool:
    return (entry.step, entry.action) == (Step.GAMEDAY, Action.GRADE)


def _with_entries(done: Done, entries: list[Entry]) -> Done:
    """The result's message, carrying the entries the worker read after the call."""
    done.entries = entries
    return done


def check_theme(config: Config) -> None:
    """The config's theme is one of Textual's (only the UI knows their names): the CLI calls
    this before anything is created, so a wrong one ends like any bad argument."""
    if config.theme is not None and config.theme not in BUILTIN_THEMES:
        raise ConsoleError(
            f"config file {config.path}: theme {config.theme!r} is not a theme "
            f"(themes: {', '.join(sorted(BUILTIN_THEMES))})"
        )


class IncidentApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "incident-console"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = list(APP_BINDINGS)
    COMMANDS = App.COMMANDS | {IncidentCommands}
    COMMAND_PALETTE_BINDING = "ctrl+p"

    def __init__(
        self,
        inv: Investigation | Opening,
        *,
        gameday: GameDay | None = None,
        keymap: dict[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
        time_text: Callable[[Entry], str] | None = None,
        config: Config | None = None,
    ) -> None:
        super().__init__()
        self.gameday = gameday
        self.clock = clock or (lambda: datetime.now(UTC))
        self.config = config
        zone = config.timezone if config else None
        self.time_text = time_text or (lambda entry: fmt_clock(entry.time, zone))
        if config and config.theme:
            check_theme(config)
            self.theme = config.theme
        self._inv: Investigation | None = None
        # Given an Opening (the CLI), the app opens the investigation itself after its first
        # frame; given an open one (tests, embedding), it reads what it shows right here.
        self.pending = inv if isinstance(inv, Opening) else None
        self.playbook = inv.playbook
        self.incident_dir = Path(
            inv.incident_dir if isinstance(inv, Opening) else inv.trail.incident_dir
        )
        self.tail = TrailTail(self.incident_dir, self.time_text, id="tail")
        self.opening: list[Entry] = []
        self.progress = Progress()
        self.report_text: str | None = None
        self.scenario: ScenarioHints | None = None  # the scenario's title and story (S)
        self.finished_at: datetime | None = None
        self.graded = False
        self.edge: tuple[str, str] | None = None
        if not isinstance(inv, Opening):
            # The constructor runs before the app does: the one read of the whole trail (and
            # of the report, on resume) happens here, off the UI thread's event loop.
            self._take(read_opened(inv, self.tail, self.incident_dir, self._scenario_folder()))
        self.step = self.progress.next_step()
        self.running: str | None = None
        self.running_text = ""  # what the running task does, in words
        self.running_since = 0.0  # time.monotonic() when it started
        self.cancelling = False
        self.keymap: dict[str, str] = {}
        self.results: dict[str, Any] = {}
        self.grade: Any = None  # the game day's Grade once graded in this session
        if keymap:
            self.set_keymap(keymap)

    @property
    def inv(self) -> Investigation:
        """The open investigation. Every key that reaches it is unavailable until it is open
        (check_action), so asking for it earlier is a bug."""
        if self._inv is None:
            raise RuntimeError("the investigation is not open yet")
        return self._inv

    @property
    def is_open(self) -> bool:
        return self._inv is not None

    def _scenario_folder(self) -> Path | None:
        return self.gameday.folder if self.gameday else None

    def _take(self, opened: Opened) -> None:
        """The state read with the investigation (off the UI thread): the trail is the state."""
        self._inv = opened.inv
        self.opening = opened.entries
        self.progress = opened.progress
        self.report_text = opened.report_text
        self.scenario = opened.scenario
        self.graded = self.progress.facts.grade is not None
        # A game day ends at its first grading: the header's clock stops there (a report
        # rewritten later grades again but does not lengthen the game), and a reopened
        # finished game shows that final time instead of a clock still running.
        self.finished_at = next((entry.time for entry in opened.entries if _is_grade(entry)), None)
        self.edge = self._last_tested_edge(opened.entries)

    def watch_theme(self, theme: str) -> None:
        """A theme chosen in the palette is kept for the next session: written into the
        config file (atomically, its other keys kept)."""
        if self.config is None or theme == self.config.theme:
            return
        try:
            self.config = save_theme(self.config, theme)
        except ConsoleError as exc:
            self.push_screen(ErrorModal("The theme was not saved", str(exc)))

    def set_keymap(self, keymap: Mapping[str, str]) -> None:
        """Rebind keys by binding id. Keys given to two bindings that apply together are an
        error naming both ids (the CLI checks the keymap file the same way before the app
        starts); the hints, notices and `?` then name the user's keys."""
        collisions = clashes(keymap)
        if collisions:
            raise ConsoleError("keymap: keys collide", problems=collisions)
        self.keymap = dict(keymap)
        super().set_keymap(keymap)

    def key_text(self, binding_id: str) -> str:
        """The key a binding answers to now (its first, under the keymap), as the footer
        shows it: what hints and notices tell the user to press."""
        binding = next(b for _, b in SCOPED_BINDINGS if b.id == binding_id)
        keys = bound_keys(binding, self.keymap)
        return self.get_key_display(Binding(keys[0], "")) if keys else binding.key

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
                    for spec in STEP_TABLE:
                        yield spec.pane(
                            self.playbook,
                            key_text=self.key_text,
                            zone=self.config.timezone if self.config else None,
                            id=spec.id,
                        )
                with Horizontal(id="busy"):
                    yield ProgressBar(total=None, show_eta=False, id="busy-bar")
                    yield Label("", id="busy-label")
        yield self.tail
        # The palette's key is in the footer's row already (`:`); Textual would repeat it,
        # docked right, now that ctrl+p is bound too.
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        header = self.query_one(IncidentHeader)
        header.model = self.playbook.model.name
        header.metric = self.playbook.triage.metric
        header.started = self.clock()
        header.label = f"scenario {self.gameday.scenario}" if self.gameday else ""
        header.zone = self.config.timezone if self.config else None
        self._tick()
        self.set_interval(1.0, self._tick)
        self.query_one("#busy").display = False
        # The report's path is copied whole from its detail view, not relative to the folder.
        self.query_one(ReportPane).folder = self.incident_dir.resolve()
        self._refresh_rail()
        self.call_after_refresh(self._pane().focus_main)
        if self.pending is None:
            self._opened()
            return
        for pane in self.query(StepPane):
            pane.set_hint(f"opening {self.incident_dir} …")
        # After the first frame: the open (and the engine's imports) would otherwise delay it.
        self.call_after_refresh(self._start_opening)

    def _start_opening(self) -> None:
        assert self.pending is not None
        tail, folder, scenario = self.tail, self.incident_dir, self._scenario_folder()

        def opened(inv: Investigation) -> None:
            # On the opening thread: the trail and the report are read there, not on the UI's.
            self.post_message(InvestigationOpened(read_opened(inv, tail, folder, scenario)))

        self.pending.start(opened, lambda: self.post_message(OpenFailed()))

    @on(InvestigationOpened)
    def _investigation_opened(self, message: InvestigationOpened) -> None:
        self._take(message.opened)
        for pane in self.query(StepPane):
            pane.set_hint(pane.first_hint())
        # Where the trail says the work stands (a fresh incident: Triage), as a resumed
        # incident opened directly would start.
        self.goto(self.progress.next_step())
        self._opened()

    @on(OpenFailed)
    def _open_failed(self, message: OpenFailed) -> None:
        # The CLI ends with the error (Opening.error) on stderr once the screen is restored.
        self.exit(return_code=2)

    def _opened(self) -> None:
        """The investigation is open: the header's windows, the trail so far, then the triage
        checks (a new incident) or the results the trail holds (a resumed one)."""
        header = self.query_one(IncidentHeader)
        header.metric = getattr(self.inv, "metric", None) or self.playbook.triage.metric
        windows = getattr(self.inv, "windows", {}) or {}
        if "incident" in windows:
            header.incident_window = (windows["incident"].start, windows["incident"].end)
        if "baseline" in windows:
            header.baseline_window = (windows["baseline"].start, windows["baseline"].end)
        self._header_from_trail(header)
        if self.opening:
            header.started = self.opening[0].time
        self._tick()
        self.tail.add(self.opening)
        self.set_interval(0.5, self._poll_tick)
        self._refresh_rail()
        self.query_one(IntervenePane).show_plan(self.edge, self._mark(self.edge))
        self.refresh_bindings()
        if Step.TRIAGE not in self.progress.worked:
            # After the first frame: the checks' worker would otherwise compete with the first
            # layout for the interpreter (issue 21: the first screen sooner).
            self.call_after_refresh(self.run_triage)
        else:
            self._restore()
            self.notify(f"Resumed at {TITLES[self.step]}", timeout=4)

    def _restore(self) -> None:
        """Show the results the trail holds, as they were, without running anything again."""
        entries = self.opening
        found = last_results(entries)
        for spec in STEP_TABLE:
            for key, show in spec.resume:
                if key in found:
                    show(self, found[key])
        if self.report_text is not None:
            self._restore_report(self.report_text)
        graded = self.progress.facts.grade
        if graded is not None:
            from console.gameday.grading import Grade

            try:
                self.grade = revive(Grade, graded.result)
                self.query_one(ReportPane).show_grade(self.grade)
            except (TypeError, ValueError, KeyError):
                self.grade = None  # an older grade format: g grades again
        for step, error in self.progress.failures.items():
            self._pane(step).show_failed(error)
        self.edge = self._last_tested_edge(entries)
        self.goto(self.step)

    def _restore_report(self, markdown: str) -> None:
        from console.engine.usecases import report_path

        entry = self.progress.facts.report
        if entry is None:
            return
        path = report_path(entry)
        report = ReportResult(
            path,
            markdown,
            str(entry.result.get("trail_head", "")),
            int(entry.result.get("trail_count", 0)),
        )
        self.results["report"] = report
        self.query_one(ReportPane).show_report(report)

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
            header.now = self.finished_at or self.clock()
        if self.running:
            self._show_running()

    def _running_words(self) -> str:
        seconds = int(time.monotonic() - self.running_since)
        words = f"{self.running_text} · {seconds} s"
        # DuckDB's own estimate for the query running now (none for a scorer call, or before
        # DuckDB has one); reading it does not wait on the query.
        done = self.inv.store.progress()
        return words if done is None else f"{words} · query {done:.0f}%"

    def _show_running(self) -> None:
        """The busy line: the task in words and its seconds (the interval ticks it); the
        cancel key last, since the footer shows it too when the line is cut."""
        for label in self.query("#busy-label").results(Label):
            if not self.cancelling:
                label.update(plain(f"{self._running_words()} · {self.key_text('cancel')} cancels"))

    def _pane(self, step: str | None = None) -> StepPane:
        return self.query_one(f"#{step or self.step}", StepPane)

    def _refresh_rail(self) -> None:
        """The rail and Locate's candidate states: both read from the trail's facts."""
        rail = self.query_one(StepRail)
        rail.failed = frozenset(self.progress.failures)
        rail.states = self.progress.states(self.step)
        self.query_one(LocatePane).show_progress(self.progress.facts)

    def _add_entries(self, entries: list[Entry]) -> None:
        """New trail entries, read by a worker: into the tail and the step rail."""
        if not entries:
            return
        self.tail.add(entries)
        for entry in entries:
            self.progress.add_entry(entry)
            if self.finished_at is None and _is_grade(entry):
                self.finished_at = entry.time
        self._tick()  # a grading just read stops the clock now, not a second later
        self._refresh_rail()

    def _poll_tick(self) -> None:
        # One poll at a time; a poll still reading (a busy machine) is left to finish and this
        # tick skips, where an exclusive worker would be cancelled mid-read (its thread reads
        # on regardless) and fail whoever waits for it.
        if not any(worker.group == "tail" and worker.is_running for worker in self.workers):
            self.poll_trail()

    @work(thread=True, exit_on_error=False, group="tail")
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

    def start(self, task: str, call: Callable[[], Done], label: str | None = None) -> None:
        """Run an engine call in the worker; one at a time, since they share one connection.
        call runs in the worker and returns the typed message of its result."""
        if self.said_busy():
            return
        self.running = task
        self.running_text = label or RUNNING_TEXT[task]
        self.running_since = time.monotonic()
        self.cancelling = False
        self._show_running()
        self.query_one("#busy").display = True
        self.refresh_bindings()
        self.engine_call(task, call)

    # Not exclusive: start() already runs one call at a time, and a handler starting the next
    # call while the previous worker thread is still returning must not cancel that worker.
    @work(thread=True, exit_on_error=False, group="engine")
    def engine_call(self, task: str, call: Callable[[], Done]) -> None:
        self._call_and_post(task, call)

    def _call_and_post(self, task: str, call: Callable[[], Done]) -> None:
        """Runs in a worker: the call, then the entries it appended, posted with its outcome
        (so the rail is up to date before the result is shown)."""
        outcome: Callable[[list[Entry]], Message]
        try:
            done = call()
        except ConsoleError as exc:
            outcome = partial(EngineFailed, task, exc, True, str(exc))
        except Exception as exc:
            outcome = partial(EngineFailed, task, exc, False, traceback.format_exc())
        else:
            outcome = partial(_with_entries, done)

        def post(new: list[Entry]) -> None:
            self.post_message(outcome(new))

        self.tail.read_new(post)

    def said_busy(self) -> bool:
        """Whether an engine call runs; if so the user is told which, instead of a key that
        seems to do nothing (one call at a time: they share one DuckDB connection)."""
        if self.running is None:
            return False
        self.notify(
            f"Busy: {self._running_words()}; {self.key_text('cancel')} cancels it",
            severity="warning",
            timeout=4,
        )
        return True

    def _idle(self) -> None:
        self.running = None
        self.query_one("#busy").display = False
        self.refresh_bindings()

    def _finished(self, message: Done) -> None:
        """Every engine result first: the worker is free, the rail knows the step is done."""
        self._idle()
        self._add_entries(message.entries)

    def on_engine_failed(self, message: EngineFailed) -> None:
        if message.task != "note":
            self._idle()
        # intervene, counterfactual and explain record their failures (and cancellations) in
        # the trail; the other steps leave no entry when they fail.
        self._add_entries(message.entries)
        if message.task in STEP_SPECS:
            # The trail's ("<step>", "failed") entry says why; a step that records none yet
            # still shows the error it raised.
            error = self.progress.failures.get(message.task, str(message.error))
            self._pane(message.task).show_failed(error)
        if self.cancelling:
            self.notify(f"{self.running_text or RUNNING_TEXT[message.task]}: cancelled", timeout=4)
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

    # -- results: each message's handler, and what shows a result (also on resume) ----------

    @on(TriageDone)
    def _triage_done(self, message: TriageDone) -> None:
        self._finished(message)
        self.show_triage(message.result)

    def show_triage(self, result: TriageResult) -> None:
        self.results["triage"] = result
        header = self.query_one(IncidentHeader)
        header.metric = result.metric
        header.change = result.relative_change
        header.tier = result.tier
        self.query_one(TriagePane).show_triage(result)

    @on(TriageDecided)
    def _triage_decided(self, message: TriageDecided) -> None:
        self._finished(message)
        if message.decision == "false_alarm":
            self.notify(
                f"Closed as a false alarm: write the report ({self.key_text('run')})", timeout=4
            )
            self.goto("report")
        else:
            self.goto("locate")
            self.run_locate()

    @on(LocateDone)
    def _locate_done(self, message: LocateDone) -> None:
        self._finished(message)
        self.show_locate(message.result)

    def show_locate(self, result: LocateResult) -> None:
        self.results["locate"] = result
        pane = self.query_one(LocatePane)
        pane.show_locate(result)
        pane.show_progress(self.progress.facts)
        pane.focus_main()

    @on(InterventionDone)
    def _intervention_done(self, message: InterventionDone) -> None:
        self._finished(message)
        self.show_intervention(message.result, message.edge)

    def show_intervention(self, result: InterventionResult, edge: tuple[str, str]) -> None:
        self.results["intervene"] = result
        pane = self.query_one(IntervenePane)
        pane.show_plan(edge, self._mark(edge))
        pane.show_intervention(result)

    @on(EdgeMarked)
    def _edge_marked(self, message: EdgeMarked) -> None:
        self._finished(message)
        edge, status = message.edge, message.status
        self.query_one(IntervenePane).show_plan(edge, status)
        if status == "broken":
            self.notify(f"{edge_text(edge)} marked broken: re-scoring the blast radius", timeout=4)
            self.goto("counterfactual")
            self._counterfactual(edge)
        elif status == "cleared":
            self.notify(f"{edge_text(edge)} cleared: pick the next candidate", timeout=4)
            self.goto("locate")
            self._highlight_next_candidate()
        else:
            self.notify(f"{edge_text(edge)} marked external", timeout=4)

    @on(CounterfactualDone)
    def _counterfactual_done(self, message: CounterfactualDone) -> None:
        self._finished(message)
        self.show_blast_radius(message.result)

    def show_blast_radius(self, result: BlastRadius) -> None:
        self.results["counterfactual"] = result
        self.query_one(CounterfactualPane).show_blast_radius(result)

    @on(ExplainDone)
    def _explain_done(self, message: ExplainDone) -> None:
        self._finished(message)
        self.show_explanation(message.result)

    def show_explanation(self, result: Explanation) -> None:
        self.query_one(CounterfactualPane).show_explanation(result)

    @on(ValidateDone)
    def _validate_done(self, message: ValidateDone) -> None:
        self._finished(message)
        self.show_validation(message.result)

    def show_validation(self, result: ValidationResult) -> None:
        self.results["validate"] = result
        self.query_one(ValidatePane).show_validation(result, self.progress.proposal_decided)

    @on(ProposalDecided)
    def _proposal_decided(self, message: ProposalDecided) -> None:
        self._finished(message)
        path, accept = message.path, message.accept
        verdict = (
            f"accepted: {path}" if accept and path else "rejected" if not accept else "accepted"
        )
        self.query_one(ValidatePane).show_proposal_verdict(verdict)
        self.notify(f"Playbook change {verdict}", timeout=4)

    @on(PostfixDefault)
    def _postfix_default(self, message: PostfixDefault) -> None:
        self._finished(message)
        self._prompt_postfix_start(message.start)

    def _write_report(self) -> ReportDone:
        """Runs in the worker: the post-mortem, graded and with the grade appended on a game day."""
        zone = self.config.timezone if self.config else None
        result = self.inv.report(zone.key if zone is not None else None)
        if self.gameday is None:
            return ReportDone(result, None)
        from console.gameday.grading import grade_written_report

        path = self.incident_dir / result.path
        grade = grade_written_report(self.inv.trail, self.gameday.folder, path, self.grade)
        return ReportDone(replace(result, markdown=path.read_text(encoding="utf-8")), grade)

    @on(ReportDone)
    def _report_done(self, message: ReportDone) -> None:
        self._finished(message)
        self.results["report"] = message.result
        self.query_one(ReportPane).show_report(message.result)
        if message.grade is not None and self.grade is None:
            self._show_grade(message.grade)

    @on(ExportDone)
    def _export_done(self, message: ExportDone) -> None:
        self._finished(message)
        result = message.result
        self.query_one(ReportPane).show_export(result)
        state = "verifies" if result["verified"] else "FAILS verification"
        self.notify(f"Exported {len(result['files'])} files; the trail {state}", timeout=5)

    def _grade_game_day(self, report: Path | None) -> GradeDone:
        """Runs in the worker: the game day graded, recorded and appended to the report."""
        assert self.gameday is not None  # end_gameday is only available on a game day
        from console.gameday.grading import finish_game_day

        return GradeDone(*finish_game_day(self.inv.trail, self.gameday.folder, report))

    @on(GradeDone)
    def _grade_done(self, message: GradeDone) -> None:
        self._finished(message)
        report = self.results.get("report")
        if report is not None and message.markdown is not None:
            self.results["report"] = replace(report, markdown=message.markdown)
            self.query_one(ReportPane).show_report(self.results["report"])
        self._show_grade(message.grade)

    def _show_grade(self, grade: Any) -> None:
        self.graded = True
        self.grade = grade
        self.query_one(ReportPane).show_grade(grade)
        self.goto("report")
        self.notify(grade.headline(), title="Game day graded", timeout=8)

    @on(NoteAdded)
    def _note_added(self, message: NoteAdded) -> None:
        # A note has its own worker: the engine's may still be running.
        self._add_entries(message.entries)
        self.notify("Note added to the trail", timeout=2)

    def _highlight_next_candidate(self) -> None:
        self.query_one(LocatePane).highlight_next_untested()

    # -- actions ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if isinstance(self.screen, KeysScreen):
            return action == "toggle_keys"  # the key that opened the list closes it
        if len(self.screen_stack) > 1:
            return False  # a modal is open: only its own keys apply
        if not self.is_open:
            return action in BEFORE_OPEN
        if action in ("command_palette", "quit", "toggle_keys", "note"):
            return True
        return self.available(action, parameters)

    def available(self, action: str, parameters: tuple[object, ...]) -> bool:
        """Whether an action makes sense now (the palette asks too, while it is open)."""
        if not self.is_open:
            return action in BEFORE_OPEN
        if action == "cancel":
            return self.running is not None
        owner = STEP_ACTIONS.get(action)
        if owner is not None and owner != self.step:
            return False
        # mark, decide and run stay enabled while a call runs: pressing them says busy.
        if action == "mark":
            return self.results.get("intervene") is not None
        if action == "decide":
            return "triage" in self.results
        if action == "proposal":
            result = self.results.get("validate")
            return bool(result and result.proposal) and not self.progress.proposal_decided
        if action == "explain_id":
            return self.progress.root_edge is not None
        if action == "end_gameday":
            return self.gameday is not None and not self.graded
        if action == "story":
            return self.scenario is not None
        if action == "export":
            return "report" in self.results
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
        STEP_SPECS[self.step].run(self)

    def run_triage(self) -> None:
        self.start("triage", lambda: TriageDone(self.inv.triage()))

    def run_locate(self) -> None:
        self.start("locate", lambda: LocateDone(self.inv.locate()))

    def run_intervene(self) -> None:
        if self.edge is None:
            self.notify(
                f"Pick an edge first: Locate ({self.key_text('step-locate')})"
                f" or the palette ({self.key_text('palette')})",
                severity="warning",
            )
            return
        self.query_one(IntervenePane).clear_result()
        self._intervene(self.edge)

    def _intervene(self, edge: tuple[str, str]) -> None:
        label = f"{RUNNING_TEXT['intervene']} on {edge_text(edge)}"

        def planned() -> InterventionDone:
            # Every planned intervention of the edge in priority order; the decisive one shows.
            self.inv.intervene_planned(edge)
            return InterventionDone(self.inv.interventions[edge], edge)

        self.start("intervene", planned, label)

    def run_counterfactual(self) -> None:
        edge = self.progress.root_edge
        if edge is None:
            self._mark_first()
            return
        self._counterfactual(edge)

    def _counterfactual(self, edge: tuple[str, str]) -> None:
        self.start("counterfactual", lambda: CounterfactualDone(self.inv.counterfactual(edge)))

    def run_validate(self) -> None:
        self._validate(None)

    def run_report(self) -> None:
        self.start("report", self._write_report)

    def _validate(self, start: datetime | None) -> None:
        edge = self.progress.root_edge
        if edge is None:
            self._mark_first()
            return
        self.start("validate", lambda: ValidateDone(self.inv.validate(edge, start)))

    def action_cancel(self) -> None:
        if self.running:
            self.cancelling = True
            self.inv.cancel()
            self.query_one("#busy-label", Label).update("Cancelling…")

    def _mark_first(self) -> None:
        broken, external = self.key_text("mark-broken"), self.key_text("mark-external")
        self.notify(
            f"Mark the root-cause edge ({broken} or {external}) in Intervene first",
            severity="warning",
        )

    def confirm_then(self, question: ConfirmModal, call: Callable[[], None]) -> None:
        """Run call once the user confirms; nothing happens on cancel."""

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                call()

        self.push_screen(question, answered)

    def action_decide(self, decision: Literal["confirmed", "false_alarm"]) -> None:
        if self.said_busy():
            return

        def call() -> Done:
            self.inv.decide_triage(decision, "")
            return TriageDecided(decision)

        def decide() -> None:
            self.start("decide_triage", call)

        if decision == "confirmed":
            decide()
            return
        # Closing as a false alarm skips locating the cause: asked first, with the engine's
        # own verdict beside it, since a slip of one key would end the investigation.
        triage: TriageResult = self.results["triage"]
        question = ConfirmModal(
            "Close as a false alarm?",
            f"The engine's verdict: {triage.verdict} ({triage.classification or 'unclassified'},"
            f" tier {triage.tier}).\nClosing skips Locate to Validate and goes to the report.",
            confirm="Close as false alarm",
        )
        self.confirm_then(question, decide)

    def action_mark(self, status: Literal["broken", "external", "cleared"]) -> None:
        edge = self.edge
        if edge is None or self.said_busy():
            return

        def call() -> Done:
            self.inv.mark_edge(edge, status, "")
            return EdgeMarked(edge, status)

        def mark() -> None:
            self.start("mark_edge", call)

        result: InterventionResult | None = self.results.get("intervene")
        if status != "broken" or result is None or result.verdict == "broken":
            mark()
            return
        # The root-cause call against the evidence on screen: asked first.
        question = ConfirmModal(
            f"Mark {edge_text(edge)} broken?",
            f"Its intervention ({result.type}) said {result.verdict}, not broken.\n"
            "Marking it broken makes it the root cause and re-scores the blast radius.",
            confirm="Mark broken",
        )
        self.confirm_then(question, mark)

    def test_edge(self, edge: tuple[str, str]) -> None:
        """Show the edge's plan in Intervene and run its intervention."""
        self.edge = edge
        self.goto("intervene")
        self.query_one(IntervenePane).clear_result()
        self._intervene(edge)

    @on(DataTable.RowSelected, "#locate-candidates")
    def _candidate_selected(self, event: DataTable.RowSelected) -> None:
        candidate = self.query_one(LocatePane).highlighted
        if candidate is not None and not self.said_busy():
            self.test_edge(candidate.edge)

    @on(DataTable.RowSelected, "#cf-flipped")
    def _flipped_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value and not self.said_busy():
            self.explain(str(event.row_key.value))

    def explain(self, prediction_id: str) -> None:
        edge = self.progress.broken_edge
        self.start("explain", lambda: ExplainDone(self.inv.explain(prediction_id, edge)))

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
            self._mark_first()
            return
        validated = self.results.get("validate")
        if validated is not None:
            self._prompt_postfix_start(validated.window.start)
        else:
            # Runs in the worker: the post-fix start the engine picks by default, if a fix shows.
            from console.engine.usecases import postfix_default

            self.start(
                "postfix_default", lambda: PostfixDefault(postfix_default(self.inv.ctx, edge))
            )

    def _prompt_postfix_start(self, start: datetime | None) -> None:
        default = start.strftime("%Y-%m-%dT%H:%M") if start else ""

        def chosen(value: str | None) -> None:
            if value is None:
                return
            if not value:
                self._validate(None)  # the engine's default: from the fix
                return
            try:
                # Imported here: console.telemetry.windows loads the store (pyarrow, duckdb),
                # which the first frame does not need.
                from console.telemetry.windows import parse_utc

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
        self.start(
            "decide_proposal", lambda: ProposalDecided(self.inv.decide_proposal(accept), accept)
        )

    def action_export(self) -> None:
        self.start("export", self._export_all)

    def _export_all(self) -> ExportDone:
        """Runs in the worker: every trail format plus the report, into <incident>/exports."""
        from console.engine.usecases import export_all

        report = self.results.get("report")
        # As the CLI does: with a key, the head's signature is checked too.
        done = export_all(
            self.inv.trail,
            self.inv.playbook.sensitive,
            report.path if report is not None else None,
            load_key(),
        )
        return ExportDone(done.to_dict())

    def action_end_gameday(self) -> None:
        if self.gameday is None:
            return
        report = self.results.get("report")
        path = self.incident_dir / report.path if report is not None else None
        self.start("grade", lambda: self._grade_game_day(path))

    def action_story(self) -> None:
        """The game day's briefing, as scenario.toml tells it: the participant can read it
        again at any time without leaving the console."""
        hints, gameday = self.scenario, self.gameday
        if hints is None or gameday is None:
            return
        # The title and story are data: Detail shows them as typed (Text, never markup).
        detail = Detail(f"Game day {gameday.scenario}")
        detail.heading(hints.title or gameday.scenario)
        if hints.alert_at is not None:
            detail.field("alert", f"{hints.alert_at:%Y-%m-%d %H:%M} UTC")
        if hints.metric:
            detail.field("metric", hints.metric)
        detail.heading("Story")
        detail.lines([hints.story or "This scenario has no story."], bullet="")
        self.push_screen(DetailScreen(detail))

    def action_note(self) -> None:
        step = self.step  # the step shown when the note was begun

        def chosen(text: str | None) -> None:
            if text:
                self.start_note(text, step)

        self.push_screen(NoteModal("Add a note to the trail", f"step: {TITLES[step]}"), chosen)

    def start_note(self, text: str, step: str) -> None:
        # Notes go through their own worker group so they never cancel a running query.
        self.note_call(text, step)

    @work(thread=True, exclusive=False, exit_on_error=False, group="note")
    def note_call(self, text: str, step: str) -> None:
        def call() -> Done:
            self.inv.note(text, step=step)
            return NoteAdded()

        self._call_and_post("note", call)

    async def action_quit(self) -> None:
        # A running query is interrupted first, so closing the store does not wait for it.
        if self.running:
            self.inv.cancel()
        self.exit()

    def action_toggle_keys(self) -> None:
        if isinstance(self.screen, KeysScreen):
            self.pop_screen()
            return
        sections = key_sections(
            self.step,
            self.keymap,
            self.screen.active_bindings,
            lambda key: self.get_key_display(Binding(key, "")),
        )
        heading = (
            f"Keys, {TITLES[self.step]} first · esc or {self.key_text('keys')} closes"
            " · a keymap rebinds a key by its id (docs/console.md)"
        )
        self.push_screen(KeysScreen(sections, heading))
