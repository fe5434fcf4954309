"""Report: the post-mortem draft rendered as Markdown, its exports and the trail's head."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from console.engine.results import ReportResult
from console.text import one_line
from console.ui.detail import Detail
from console.ui.steps.base import StepPane


class ReportPane(StepPane):
    STEP = "report"

    def first_hint(self) -> str:
        return self.hint(
            ("run", "write the post-mortem draft"), ("export", "export it with the trail")
        )

    def compose(self) -> ComposeResult:
        yield self.compose_hint()
        yield Static(id="report-status")
        yield VerticalScroll(Static(id="report-markdown"), id="report-scroll")

    def focus_main(self) -> None:
        self.query_one("#report-scroll", VerticalScroll).focus()

    report: ReportResult | None = None
    grade: Any = None  # the game day's Grade (console.gameday.grading)
    exported: dict[str, Any] | None = None  # console.engine.usecases.ExportAll.to_dict()
    # The incident folder, when the app gives it: the report's path is copied whole (the
    # result's own path is relative to it).
    folder: Path | None = None

    def report_path(self, report: ReportResult) -> str:
        return str(self.folder / report.path) if self.folder is not None else report.path

    def detail(self) -> Detail | None:
        report, exported = self.report, self.exported
        if report is None and exported is None:
            return None
        detail = Detail("Report and trail")
        if report is not None:
            path = self.report_path(report)
            detail.copy("path", "the report path", path)
            detail.copy("head", "the head hash", report.trail_head)
            detail.heading("Post-mortem draft")
            detail.field("path", path, "bold")
            detail.field("quotes the trail at entry", report.trail_count)
            detail.field("head", report.trail_head)
        if exported:
            # The export's head is the trail's latest: it wins over the report's.
            detail.copy("head", "the head hash", str(exported["head"]))
            detail.heading("Exports")
            detail.field("verified", "yes" if exported["verified"] else "NO", "bold")
            detail.field("head", exported["head"])
            detail.lines(exported["files"])
        if self.grade is not None:
            detail.heading("Game day")
            detail.lines([self.grade.headline()])
        return detail

    def _show_markdown(self, text: str) -> None:
        # Rich's Markdown, drawn in one Static: Textual's Markdown widget made a widget of
        # each block (428 for a bundled game day's report), and each focus change on the
        # scroll restyled them all (0.25 s a move), as did every resume that showed a report.
        # Imported here: markdown-it would delay the first frame, which shows Triage.
        from rich.markdown import Markdown

        self.query_one("#report-markdown", Static).update(Markdown(text))

    def show_report(self, result: ReportResult) -> None:
        self._show_markdown(result.markdown)
        self.report = result
        self._status()
        self.set_hint(
            self.hint(("export", "export report + trail"), "↑↓ scroll", ("run", "rewrite"))
        )

    def show_grade(self, grade: Any) -> None:
        self.grade = grade
        if self.report is None:
            self._show_markdown(grade.markdown())
            self.set_hint(
                self.hint(("run", "write the post-mortem draft (the grade is appended to it)"))
            )
        self._status()

    def show_export(self, exported: dict[str, Any]) -> None:
        self.exported = exported
        self._status()

    def _status(self) -> None:
        report, exported, grade = self.report, self.exported, self.grade
        text = Text()
        if grade is not None:
            text.append("game day: ", style="bold magenta")
            text.append(one_line(grade.headline()) + "\n", style="bold")
        if report is not None:
            text.append(f"{report.path}", style="bold")
            text.append(
                f" quotes the trail at entry {report.trail_count}, head {report.trail_head[:16]}…",
                style="dim",
            )
        if exported:
            text.append("\ntrail ")
            ok = exported["verified"]
            text.append(
                "verifies ✓" if ok else "FAILS verification ✗", style="green" if ok else "bold red"
            )
            text.append(f", exported at head {exported['head'][:16]}…: ", style="dim")
            text.append(one_line(", ".join(exported["files"])))
        self.query_one("#report-status", Static).update(text)
