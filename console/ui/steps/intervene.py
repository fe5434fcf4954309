"""Intervene: the edge's planned intervention, its statistics, live against baseline, verdict."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from console.engine.results import Histogram, InterventionResult
from console.text import one_line
from console.ui.detail import Detail
from console.ui.format import bar_chart, fit_bins, fmt_num, plain
from console.ui.state import edge_text
from console.ui.steps.base import StepPane

VERDICT_STYLES = {
    "broken": "bold white on red",
    "ok": "bold black on green",
    "inconclusive": "black on yellow",
}
# Statistics shown elsewhere (reasons) or only useful in the trail (thresholds, per-category
# tables already drawn as the histogram).
HIDDEN_STATS = frozenset({"reasons", "thresholds", "categories"})
MARK_STYLES = {"broken": "bold red", "external": "bold yellow", "cleared": "green"}


class IntervenePane(StepPane):
    STEP = "intervene"

    def first_hint(self) -> str:
        return (
            f"Pick an edge to test in Locate ({self.key_text('step-locate')}),"
            f" or by name from the palette ({self.key_text('palette')})."
        )

    def compose(self) -> ComposeResult:
        yield self.compose_hint()
        yield Static(id="iv-plan")
        with Horizontal(id="iv-body"):
            with VerticalScroll(id="iv-stats-scroll"):
                yield Static(id="iv-stats")
            yield Static(id="iv-hist")

    has_result = False
    edge: tuple[str, str] | None = None  # the edge whose plan is shown
    mark: str | None = None
    result: InterventionResult | None = None

    def focus_main(self) -> None:
        self.query_one("#iv-stats-scroll", VerticalScroll).focus()

    def show_plan(self, edge: tuple[str, str] | None, mark: str | None) -> None:
        """The plan of the chosen edge, before (and above) any result."""
        plan = Text()
        self.edge, self.mark = edge, mark
        if edge is None:
            self.query_one("#iv-plan", Static).update(plan)
            return
        spec = self.playbook.edge(*edge)
        plan.append(edge_text(edge), style="bold")
        plan.append(f"  {spec.status}", style="dim")
        if mark:
            plan.append(f"  marked {mark}", style=MARK_STYLES.get(mark, "bold"))
        if not spec.planned:
            plan.append("\nno planned intervention on this edge", style="yellow")
        for i, planned in enumerate(spec.planned):
            params = one_line(", ".join(f"{k}={v}" for k, v in planned.params.items()))
            plan.append("\nplan " if i == 0 else "\nthen ", style="dim")
            plan.append(planned.type, style="bold cyan")
            if params:
                plan.append(f" ({params})")
        plan.append("\nmechanism ", style="dim")
        plan.append(one_line(spec.mechanism))
        self.query_one("#iv-plan", Static).update(plan)
        if not self.has_result:
            self.set_hint(
                self.hint(
                    ("run", "run the intervention (read-only)"),
                    ("cancel", "cancel while it runs"),
                )
            )

    def clear_result(self) -> None:
        self.has_result = False
        self.result = None
        self.query_one("#iv-stats", Static).update("")
        self.query_one("#iv-hist", Static).update("")

    def show_intervention(self, result: InterventionResult) -> None:
        self.has_result = True
        head = Text()
        # A distribution that moved says the node shifted, not yet why: the engineer calls it
        # broken (the mechanism failed) or external (the world moved).
        label = result.verdict.upper()
        if result.verdict == "broken":
            # Imported here: the interventions registry is not needed for the first frame.
            from console.engine.interventions import kind_of

            label = kind_of(result.type).broken_label
        head.append(f" {label} ", style=VERDICT_STYLES.get(result.verdict, "bold"))
        head.append(f"  {result.type} on {result.node}", style="bold")
        rows = ", ".join(f"{w} {n:,}" for w, n in result.rows.items())
        head.append(f"\nrows read: {rows}", style="dim")
        stats = Table.grid(padding=(0, 1))
        stats.add_column(style="dim")
        stats.add_column()
        for key, value in result.statistics.items():
            if key in HIDDEN_STATS:
                continue
            # Rich reads a str cell as markup; a category name is data.
            stats.add_row(plain(key), plain(short_value(value)))
        reasons = plain("\n".join(f"• {one_line(reason)}" for reason in result.reasons), lines=True)
        self.query_one("#iv-stats", Static).update(Group(head, stats, reasons))
        self.result = result
        self.query_one("#iv-hist", Static).update(self._histogram(result.histogram))
        self.set_hint(
            self.hint(
                ("mark-broken", "broken (root cause)"),
                ("mark-external", "external"),
                ("mark-cleared", "cleared"),
                ("run", "re-run"),
                ("step-locate", "back to Locate"),
            )
        )

    def detail(self) -> Detail | None:
        edge = self.edge
        if edge is None:
            return None
        detail = Detail(f"Intervention on {edge_text(edge)}")
        detail.copy("edge", "the edge", edge_text(edge))
        spec = self.playbook.edge(*edge)
        detail.heading("Edge")
        detail.field("edge", edge_text(edge), "bold")
        detail.field("status", spec.status)
        if self.mark:
            detail.field("marked", self.mark, MARK_STYLES.get(self.mark, "bold"))
        detail.field("mechanism", spec.mechanism)
        for i, planned in enumerate(spec.planned):
            params = ", ".join(f"{k}={v}" for k, v in planned.params.items())
            detail.field("plan" if i == 0 else "then", f"{planned.type} ({params})")
        result = self.result if self.has_result else None
        if result is None:
            detail.heading("Result")
            detail.add(
                Text(f"not run yet: {self.key_text('run')} runs the intervention", style="dim")
            )
            return detail
        detail.heading(f"Result: {result.verdict} ({result.type} on {result.node})")
        detail.field("rows read", ", ".join(f"{w} {n:,}" for w, n in result.rows.items()))
        detail.heading("Reasons (for: / against: weigh a broken pipeline against the world)")
        detail.lines(result.reasons)
        detail.heading("Statistics")
        for key, value in result.statistics.items():
            if key != "reasons":  # listed above
                detail.field(key, value_text(value))
        if result.evidence:
            detail.heading("Evidence snapshots")
            detail.lines(
                f"{e.get('path', '?')}  sha256 {e.get('sha256', '?')}" for e in result.evidence
            )
        detail.sql(result.sql)
        return detail

    def on_resize(self) -> None:
        result = self.result
        if self.has_result and result is not None:
            self.call_after_refresh(
                lambda: self.query_one("#iv-hist", Static).update(self._histogram(result.histogram))
            )

    def _histogram(self, histogram: Histogram | None) -> Text:
        if histogram is None or not histogram.series:
            return Text("no distribution to draw for this intervention", style="dim")
        widget = self.query_one("#iv-hist", Static)
        rows = (widget.content_size.height or 12) - 1  # one line of legend
        labels, series = fit_bins(histogram.edges, histogram.series, rows)
        width = max(30, widget.content_size.width or 40)
        return bar_chart(labels, series, width, ["green", "red", "cyan"])


def short_value(value: object, width: int = 48) -> str:
    """A statistic for one cell: lists and dicts as their first items, cut at width."""
    text = value_text(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def value_text(value: object) -> str:
    """A statistic in full: lists and dicts as their items (per-category records by name)."""
    if isinstance(value, dict):
        text = ", ".join(f"{k}={fmt_num(v, 3)}" for k, v in value.items())
    elif isinstance(value, list | tuple):
        # Lists of per-category records name their categories.
        text = ", ".join(
            str(v.get("category", v)) if isinstance(v, dict) else fmt_num(v, 3) for v in value
        )
    else:
        text = fmt_num(value)
    return text
