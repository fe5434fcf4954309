"""Counterfactual: the blast radius of the broken edge, and one decision explained."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, Static

from console.engine.results import BlastRadius, Explanation
from console.text import one_line
from console.ui.format import bar, fmt_num, plain, signed_bars
from console.ui.state import edge_text
from console.ui.steps.base import StepPane

DELTA_KEYS = ("mean", "p05", "p50", "p95", "max_abs")
MAX_ATTRIBUTIONS = 6


class CounterfactualPane(StepPane):
    STEP = "counterfactual"
    HINT = "Mark an edge broken in Intervene first; then r re-scores the incident window."

    def compose(self) -> ComposeResult:
        yield self.compose_hint()
        yield Static(id="cf-correction", classes="one-line")
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

    def show_explanation(self, result: Explanation) -> None:
        self._explanation(result)

    def show_blast_radius(self, result: BlastRadius) -> None:
        share = result.flipped / result.total if result.total else 0.0
        summary = Text()
        correction = Text(f"{one_line(edge_text(result.edge))} corrected: ", style="dim")
        correction.append_text(plain(result.correction))
        self.query_one("#cf-correction", Static).update(correction)
        summary.append("flipped ", style="dim")
        summary.append(f"{result.flipped:,} / {result.total:,} ({share:.1%})", style="bold")
        summary.append(" " + bar(share, 12), style="red")
        if result.errored:
            # Never scored by the live model: nothing to flip, said apart from the flips.
            summary.append(f"\n{result.errored:,} errored, never scored", style="yellow")
        deltas = "  ".join(
            f"{k} {fmt_num(result.score_delta[k], 3)}"
            for k in DELTA_KEYS
            if k in result.score_delta
        )
        summary.append(f"\nscore Δ  {deltas}", style="dim")
        self.query_one("#cf-summary", Static).update(summary)
        segments = self.query_one("#cf-segments", DataTable)
        segments.clear()
        for seg in result.segments:
            rate = seg.flipped / seg.total if seg.total else 0.0
            # A str cell is read as markup: a segment value is data.
            segments.add_row(
                plain(f"{seg.column}={seg.value}"),
                f"{seg.flipped:,}",
                f"{seg.total:,}",
                f"{rate:.1%}",
            )
        flipped = self.query_one("#cf-flipped", DataTable)
        flipped.clear()
        for prediction_id in result.flipped_ids:
            flipped.add_row(plain(prediction_id), key=prediction_id)
        self.query_one("#cf-explain", Static).update(
            Text("enter on a flipped decision (or i and an id) explains it", style="dim")
        )
        self.set_hint("enter explain the highlighted decision   i explain an id   r re-score")

    def on_resize(self) -> None:
        # Results shown while the pane was hidden were drawn for a zero size.
        explanation = getattr(self, "explanation", None)
        if explanation is not None:
            self.call_after_refresh(self._explanation, explanation)

    def _attribution_rows(self) -> int:
        """Six bars when there is room; fewer on a 24-line terminal, so the flip still shows."""
        return MAX_ATTRIBUTIONS if self.size.height >= 20 else 4

    def _explanation(self, result: Explanation) -> None:
        self.explanation = result
        text = plain(result.prediction_id, "bold")
        if result.score is None:
            text.append("  no served score", style="yellow")
        else:
            text.append(f"  score {result.score:.3f}")
        text.append(" → ")
        text.append_text(plain(result.decision))
        if result.corrected_score is not None:
            text.append(f"  corrected {result.corrected_score:.3f}", style="bold green")
        text.append(f"  ({result.method})\n", style="dim")
        for note in result.notes:
            text.append_text(plain(note, "yellow"))
            text.append("\n")
        items = [
            (f"{a.feature}={fmt_num(a.value, 3)}", a.contribution)
            for a in result.attributions[: self._attribution_rows() - len(result.notes)]
        ]
        width = max(40, self.query_one("#cf-explain", Static).content_size.width or 60)
        text.append_text(signed_bars(items, width))
        if result.flip is not None:
            f = result.flip
            text.append("\nflips with ", style="dim")
            text.append_text(
                plain(f"{f.feature}: {fmt_num(f.old_value, 3)} → {fmt_num(f.new_value, 3)}", "bold")
            )
            text.append(f" (score {f.new_score:.3f}, size {f.size:.2f})")
        else:
            text.append("\nno single change flips this decision", style="dim")
        self.query_one("#cf-explain", Static).update(text)
