"""Validate: re-run the intervention on a post-fix window, watch the metric recover, and
review the playbook change the incident taught."""

from __future__ import annotations

from rich.console import Group
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from console.engine.results import ValidationResult
from console.text import one_line, terminal
from console.ui.detail import Detail
from console.ui.format import bar, fmt_num, fmt_window, plain
from console.ui.state import edge_text
from console.ui.steps.base import StepPane


class ValidatePane(StepPane):
    STEP = "validate"

    def first_hint(self) -> str:
        return self.hint(
            ("postfix-start", "set the post-fix window start (default: the fix)"),
            ("run", "re-run on the post-fix window"),
        )

    def compose(self) -> ComposeResult:
        yield self.compose_hint()
        yield Static(id="val-summary")
        with VerticalScroll(id="val-diff-scroll"):
            yield Static(id="val-diff")

    def focus_main(self) -> None:
        self.query_one("#val-diff-scroll", VerticalScroll).focus()

    def show_proposal_verdict(self, verdict: str) -> None:
        self.set_hint(
            self.hint(f"proposal {one_line(verdict)}", ("run", "re-run"), ("step-report", "Report"))
        )

    result: ValidationResult | None = None

    def detail(self) -> Detail | None:
        result = self.result
        if result is None:
            return None
        edge = edge_text(result.edge)
        detail = Detail(f"Validation of {edge}")
        detail.copy("edge", "the edge", edge)
        detail.heading("Post-fix window")
        detail.field(
            "window",
            f"{result.window.start:%Y-%m-%d %H:%M}Z .. {result.window.end:%Y-%m-%d %H:%M}Z",
        )
        detail.field("recovered", "yes" if result.recovered else "no", "bold")
        detail.field(
            "metric baseline",
            f"{fmt_num(result.metric_baseline)} (the same hours of the day as the post-fix window)",
        )
        detail.field("metric incident", fmt_num(result.metric_incident))
        detail.field("metric post-fix", fmt_num(result.metric_postfix))
        detail.lines(result.reasons)
        intervention = result.intervention
        detail.heading(f"Intervention on the post-fix window: {intervention.verdict}")
        detail.lines(intervention.reasons)
        if result.proposal is not None:
            detail.heading("Proposed playbook change")
            detail.field("proposed", result.proposal.description)
            detail.field("file", result.proposal.path)
            detail.add(
                Syntax(terminal(result.proposal.diff), "diff", theme="ansi_dark", word_wrap=True)
            )
        detail.sql(intervention.sql)
        return detail

    def show_validation(self, result: ValidationResult, decided: bool) -> None:
        """decided: whether a proposal was ever accepted or rejected (the hint says so)."""
        self.result = result
        summary = Text()
        summary.append("post-fix ", style="dim")
        summary.append(fmt_window(result.window.start, result.window.end, self.zone))
        summary.append("  ")
        if result.recovered:
            summary.append(" RECOVERED ", style="bold black on green")
        else:
            summary.append(" NOT RECOVERED ", style="bold white on red")
        summary.append(f"  intervention {result.intervention.verdict}", style="dim")
        values = [
            ("baseline", result.metric_baseline, "green"),
            ("incident", result.metric_incident, "red"),
            ("post-fix", result.metric_postfix, "cyan"),
        ]
        peak = max((abs(v) for _, v, _ in values if v is not None), default=0.0) or 1.0
        for name, value, style in values:
            summary.append(f"\n{name:<9}", style="dim")
            summary.append(bar(abs(value or 0.0) / peak, 24), style=style)
            summary.append(f" {fmt_num(value)}")
            if name == "baseline":
                # Not Triage's baseline: the hours of the day the post-fix window covers.
                summary.append("  same hours as post-fix", style="dim")
        self.query_one("#val-summary", Static).update(summary)
        diff = self.query_one("#val-diff", Static)
        if result.proposal is None:
            diff.update(Text("no playbook change proposed", style="dim"))
            self.set_hint(
                self.hint(
                    ("postfix-start", "post-fix start"),
                    ("run", "re-run"),
                    ("step-report", "Report"),
                )
            )
            return
        diff.update(
            Group(
                plain(f"proposed: {result.proposal.description}", "bold"),
                Syntax(result.proposal.diff, "diff", theme="ansi_dark", word_wrap=True),
            )
        )
        if decided:
            self.set_hint(
                self.hint(
                    "the playbook change is decided (see the trail)",
                    ("postfix-start", "post-fix start"),
                    ("run", "re-run"),
                )
            )
        else:
            self.set_hint(
                self.hint(
                    ("proposal-accept", "accept the playbook change"),
                    ("proposal-reject", "reject it"),
                    ("postfix-start", "post-fix start"),
                    ("run", "re-run"),
                )
            )
