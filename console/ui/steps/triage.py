"""Triage: is the anomaly real? The checks, the metric against its baseline, the call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, Sparkline, Static

from console.engine.results import TriageResult
from console.text import one_line
from console.ui.detail import Detail
from console.ui.format import fmt_num, fmt_pct, plain
from console.ui.steps.base import StepPane

if TYPE_CHECKING:
    from console.ui.widgets.metric_plot import MetricPlot

PLOT_BUCKETS = 96


class TriagePane(StepPane):
    STEP = "triage"

    def first_hint(self) -> str:
        return self.hint(("run", "runs the triage checks"))

    result: TriageResult | None = None

    def compose(self) -> ComposeResult:
        yield self.compose_hint()
        yield Static(id="triage-summary")
        with Horizontal(id="triage-body"):
            # The plot (#triage-plot) joins the table when the first result is drawn: plotext
            # is not imported before the first frame (issue 21: the first screen sooner).
            yield DataTable(id="triage-checks", cursor_type="row", zebra_stripes=False)
        with Horizontal(id="triage-sparks", classes="sparks"):
            yield Static("reported  ", classes="spark-label")
            yield Sparkline([], id="triage-spark-reported")
        with Horizontal(id="triage-sparks-recomputed", classes="sparks"):
            yield Static("recomputed", classes="spark-label")
            yield Sparkline([], id="triage-spark-recomputed")
        yield Static(id="triage-detail")
        yield Static(id="triage-reasons")

    def on_mount(self) -> None:
        table = self.query_one("#triage-checks", DataTable)
        table.add_columns("", "check", "evidence")

    def focus_main(self) -> None:
        self.query_one("#triage-checks", DataTable).focus()

    def show_triage(self, result: TriageResult) -> None:
        summary = Text()
        summary.append(f"{result.metric} ", style="bold cyan")
        summary.append(
            f"baseline {fmt_num(result.baseline_value)} → incident "
            f"{fmt_num(result.incident_value)} ({fmt_pct(result.relative_change)})"
        )
        summary.append("\nclass ", style="dim")
        summary.append((result.classification or "unclassified").replace("_", " "), style="bold")
        summary.append("  tier ", style="dim")
        summary.append(result.tier, style="bold red" if result.tier == "critical" else "bold")
        summary.append("  engine says ", style="dim")
        summary.append(result.verdict.replace("_", " "), style="bold")
        self.query_one("#triage-summary", Static).update(summary)
        table = self.query_one("#triage-checks", DataTable)
        table.clear()
        for check in result.checks:
            mark = Text("✓", style="green") if check.passed else Text("✗", style="bold red")
            table.add_row(mark, plain(check.name), plain(check.detail))
        self.checks = list(result.checks)
        self.result = result
        self._detail()
        self.query_one("#triage-reasons", Static).update(
            plain(
                "\n".join(f"• {one_line(reason)}" for reason in result.reasons), "dim", lines=True
            )
        )
        self._plot(result)
        self._sparks(result)
        self.add_class("-has-result")
        self.set_hint(
            self.hint(
                ("triage-confirm", "confirm the anomaly"),
                ("triage-false-alarm", "close as a false alarm"),
                ("run", "re-run the checks"),
            )
        )

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_detail()  # enter on a check: its evidence in full, among the others

    def detail(self) -> Detail | None:
        result = self.result
        if result is None:
            return None
        detail = Detail(f"Triage of {result.metric}")
        detail.heading("Verdict")
        detail.field(
            "metric",
            f"{result.metric}: baseline {fmt_num(result.baseline_value)} -> incident "
            f"{fmt_num(result.incident_value)} ({fmt_pct(result.relative_change)})",
        )
        detail.field("class", (result.classification or "unclassified").replace("_", " "))
        detail.field("tier", result.tier)
        detail.field("engine says", result.verdict.replace("_", " "), "bold")
        detail.heading("Engine reasons")
        detail.lines(result.reasons)
        detail.heading("Checks")
        row = self.query_one("#triage-checks", DataTable).cursor_row or 0
        for index, check in enumerate(result.checks):
            if index == row:
                detail.mark_anchor()  # the view opens on the check asked about
            mark = Text("▶ " if index == row else "  ")
            if check.passed:
                mark.append("✓ ", style="green")
            else:
                mark.append("✗ ", style="bold red")
            mark.append_text(plain(check.name, "bold"))
            detail.add(mark)
            detail.lines([check.detail], bullet="    ")
            for key, value in check.evidence.items():
                detail.field(f"    {one_line(key)}", value)
        detail.sql(result.sql)
        return detail

    def _detail(self) -> None:
        """The highlighted check's evidence in full (the table cell is cut at the width)."""
        table = self.query_one("#triage-checks", DataTable)
        checks = getattr(self, "checks", [])
        if not checks:
            return
        check = checks[min(table.cursor_row or 0, len(checks) - 1)]
        text = plain(f"{check.name}: ", "bold")
        text.append_text(plain(check.detail, lines=True))
        self.query_one("#triage-detail", Static).update(text)

    def _sparks(self, result: TriageResult) -> None:
        """One-line sparklines for narrow terminals, where the plot does not fit."""
        points = result.series[-PLOT_BUCKETS:]
        reported = [p.reported for p in points if p.reported is not None]
        recomputed = [p.recomputed for p in points if p.recomputed is not None]
        self.query_one("#triage-spark-reported", Sparkline).data = reported
        self.query_one("#triage-spark-recomputed", Sparkline).data = recomputed

    def _plot(self, result: TriageResult) -> None:
        from console.ui.widgets.metric_plot import MetricPlot

        plots = self.query("#triage-plot").results(MetricPlot)
        widget = next(plots, None)
        if widget is None:
            widget = MetricPlot(id="triage-plot")
            self.query_one("#triage-body", Horizontal).mount(widget)
        widget.draw = lambda: self._draw(widget, result)
        widget.draw()

    def _draw(self, widget: MetricPlot, result: TriageResult) -> None:
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        # The last PLOT_BUCKETS buckets: the incident against the days before it, where the
        # daily pattern shows; the baseline value is the horizontal line.
        points = result.series[-PLOT_BUCKETS:]
        incident = next((w for w in result.windows if w.name == "incident"), None)
        # x in hours relative to the alert (the incident window's end): plotext's own
        # numeric ticks, because its placement of text tick labels varies between runs.
        alert = incident.end if incident is not None else points[-1].ts if points else None
        xs = [(p.ts - alert).total_seconds() / 3600 for p in points] if alert else []
        reported = [
            (x, p.reported) for x, p in zip(xs, points, strict=True) if p.reported is not None
        ]
        recomputed = [
            (x, p.recomputed) for x, p in zip(xs, points, strict=True) if p.recomputed is not None
        ]
        if reported:
            plt.plot(
                [x for x, _ in reported],
                [y for _, y in reported],
                label="reported",
                marker="braille",
                color="cyan",
            )
        if recomputed:
            plt.plot(
                [x for x, _ in recomputed],
                [y for _, y in recomputed],
                label="recomputed",
                marker="dot",
                color="orange",
            )
        if result.baseline_value is not None:
            plt.hline(result.baseline_value, "green")
        if incident is not None and alert is not None:
            plt.vline((incident.start - alert).total_seconds() / 3600, "red")
        plt.xlabel("hours before the alert")
        plt.title("green: baseline value   red: incident start")
        widget.refresh()
