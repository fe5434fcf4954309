"""Counterfactual: the blast radius of the broken edge, and one decision explained."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, Static

from console.engine.results import BlastRadius, Explanation
from console.ui.format import bar, fmt_num, signed_bars
from console.ui.state import edge_text
from console.ui.steps.base import StepPane


class CounterfactualPane(StepPane):
    STEP = "counterfactual"
    HINT = "Mark an edge broken in Intervene first; then r re-scores the incident window."

    def compose(self) -> ComposeResult:
        yield self.compose_hint()
        yield Static(id="cf-summary")
        with Horizontal(id="cf-body"):
            yield DataTable(id="cf-segments", cursor_type="row")
            yield DataTable(id="cf-flipped", cursor_type="row")
        yield Static(id="cf-explain")

    def on_mount(self) -> None:
        self.query_one("#cf-segments", DataTable).add_columns("segment", "flipped", "of", "share")
        self.query_one("#cf-flipped", DataTable).add_columns("flipped decision")

    def focus_main(self) -> None:
        self.query_one("#cf-flipped", DataTable).focus()

    def show(self, task: str, result: BlastRadius | Explanation) -> None:
        if isinstance(result, Explanation):
            self._explanation(result)
            return
        share = result.flipped / result.total if result.total else 0.0
        summary = Text()
        summary.append(f"{edge_text(result.edge)} corrected: ", style="dim")
        summary.append(result.correction)
        summary.append("\nflipped ", style="dim")
        summary.append(f"{result.flipped:,} / {result.total:,} ({share:.1%})", style="bold")
        summary.append(" " + bar(share, 12), style="red")
        deltas = "  ".join(f"{k} {fmt_num(v, 3)}" for k, v in result.score_delta.items())
        summary.append(f"\nscore Δ  {deltas}", style="dim")
        self.query_one("#cf-summary", Static).update(summary)
        segments = self.query_one("#cf-segments", DataTable)
        segments.clear()
        for seg in result.segments:
            rate = seg.flipped / seg.total if seg.total else 0.0
            segments.add_row(f"{seg.column}={seg.value}", f"{seg.flipped:,}", f"{seg.total:,}", f"{rate:.1%}")
        flipped = self.query_one("#cf-flipped", DataTable)
        flipped.clear()
        for prediction_id in result.flipped_ids:
            flipped.add_row(prediction_id, key=prediction_id)
        self.query_one("#cf-explain", Static).update(
            Text("enter on a flipped decision (or i and an id) explains it", style="dim")
        )
        self.set_hint("enter explain the highlighted decision   i explain an id   r re-score")

    def _explanation(self, result: Explanation) -> None:
        text = Text()
        text.append(f"{result.prediction_id}", style="bold")
        text.append(f"  score {result.score:.3f} → {result.decision}")
        if result.corrected_score is not None:
            text.append(f"  corrected {result.corrected_score:.3f}", style="bold green")
        text.append(f"  ({result.method})\n", style="dim")
        items = [(f"{a.feature}={fmt_num(a.value, 3)}", a.contribution) for a in result.attributions[:6]]
        width = max(40, self.query_one("#cf-explain", Static).content_size.width or 60)
        text.append_text(signed_bars(items, width))
        if result.flip is not None:
            f = result.flip
            text.append("\nflips with ", style="dim")
            text.append(
                f"{f.feature}: {fmt_num(f.old_value, 3)} → {fmt_num(f.new_value, 3)}", style="bold"
            )
            text.append(f" (score {f.new_score:.3f}, size {f.size:.2f})")
        else:
            text.append("\nno single change flips this decision", style="dim")
        self.query_one("#cf-explain", Static).update(text)
