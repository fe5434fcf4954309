"""The command palette: one provider whose commands follow the investigation's state."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from console.ui.clipboard import copy
from console.ui.state import edge_text
from console.ui.steps.report import ReportPane
from console.ui.steps.table import STEP_TABLE

if TYPE_CHECKING:
    from console.ui.app import IncidentApp


class IncidentCommands(Provider):
    """Go to a step, test an edge by name, mark, export, note, end the game day."""

    @property
    def incident_app(self) -> IncidentApp:
        """The app, typed: this provider is only registered by IncidentApp.COMMANDS."""
        return cast("IncidentApp", self.app)

    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        app = self.incident_app
        commands: list[tuple[str, Callable[[], object], str]] = []
        for number, spec in enumerate(STEP_TABLE, start=1):
            commands.append((f"Go to {spec.title}", partial(app.goto, spec.id), f"key {number}"))
        if not app.is_open:
            return commands  # the rest acts on the investigation, still opening
        if app.running is None:
            # Every causal edge, planned or not: an edge out of an external node has no plan,
            # and the engine compares its distributions instead (how an external shift shows).
            for edge in app.playbook.edges:
                if not edge.feedback:
                    plan = " then ".join(i.type for i in edge.planned) or "distribution comparison"
                    commands.append(
                        (
                            f"Intervene on {edge.source} ({edge_text((edge.source, edge.target))})",
                            partial(app.test_edge, (edge.source, edge.target)),
                            plan,
                        )
                    )
        checks: list[tuple[str, str, tuple[str, ...], str | None, Callable[[], object]]] = [
            (
                "Write the post-mortem report",
                "run",
                (),
                "report",
                partial(_on_step, app, "report", app.action_run),
            ),
            ("Export the report and the trail", "export", (), "report", app.action_export),
            (
                "Mark the tested edge broken",
                "mark",
                ("broken",),
                "intervene",
                partial(app.action_mark, "broken"),
            ),
            (
                "Mark the tested edge external",
                "mark",
                ("external",),
                "intervene",
                partial(app.action_mark, "external"),
            ),
            (
                "Clear the tested edge",
                "mark",
                ("cleared",),
                "intervene",
                partial(app.action_mark, "cleared"),
            ),
            ("End the game day and grade it", "end_gameday", (), None, app.action_end_gameday),
            ("Cancel the running query", "cancel", (), None, app.action_cancel),
        ]
        for title, action, params, step, run in checks:
            if step is not None and step != app.step and action != "run":
                continue
            if action == "run" or app.available(action, params):
                commands.append((title, run, ""))
        commands.append(("Add a note to the trail", app.action_note, "key n"))
        commands += _copy_commands(app)
        return commands

    async def discover(self) -> Hits:
        for title, run, help_text in self._commands():
            yield DiscoveryHit(title, run, help=help_text or None)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, run, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), run, help=help_text or None)


def _copy_commands(app: IncidentApp) -> list[tuple[str, Callable[[], object], str]]:
    """Copies reachable from any step (the detail views copy the SQL and prediction ids)."""
    commands: list[tuple[str, Callable[[], object], str]] = []
    entries = app.tail.entries
    if entries:
        # `trail verify --head` takes exactly this text.
        head = f"count={entries[-1].seq} hash={entries[-1].hash}"
        commands.append(
            ("Copy the trail's head (count and hash)", partial(copy, app, "the head", head), "")
        )
    if app.edge is not None:
        edge = edge_text(app.edge)
        commands.append(("Copy the tested edge", partial(copy, app, "the edge", edge), edge))
    report = app.query_one(ReportPane).report
    if report is not None:
        path = app.query_one(ReportPane).report_path(report)
        commands.append(("Copy the report path", partial(copy, app, "the report path", path), ""))
    return commands


def _on_step(app: IncidentApp, step: str, run: Callable[[], object]) -> None:
    app.goto(step)
    run()
