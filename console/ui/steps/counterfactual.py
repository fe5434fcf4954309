"""Counterfactual: the blast radius of the broken edge, and one decision explained."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, Static

from console.engine.results import BlastRadius, Explanation
from console.text import one_line
from console.ui.detail import Detail
from console.ui.format import bar, fmt_num, plain, signed_bars
from console.ui.state import edge_text
from console.ui.steps.base import StepPane

DELTA_KEYS = ("mean", "p05", "p50", "p95", "max_abs")
MAX_ATTRIBUTIONS = 6


class CounterfactualPane(StepPane):
    STEP = "counterfactual"

    def first_hint(self) -> str:
        return (
            f"Mark an edge broken in Intervene first; then {self.key_text('run')}"
            " re-scores the incident window."
        )

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

    blast: BlastRadius | None = None
    explanation: Explanation | None = None

    def show_blast_radius(self, result: BlastRadius) -> None:
        self.blast = result
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
            Text(
                f"enter on a flipped decision (or {self.key_text('explain-id')} and an id)"
                " explains it",
                style="dim",
            )
        )
        self.set_hint(
            self.hint(
                "enter explain the highlighted decision",
                ("explain-id", "explain an id"),
                ("run", "re-score"),
            )
        )

    @property
    def highlighted_id(self) -> str | None:
        """The prediction id under the cursor of the flipped decisions."""
        table = self.query_one("#cf-flipped", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return str(key) if key is not None else None

    def detail(self) -> Detail | None:
        result, explanation = self.blast, self.explanation
        if result is None and explanation is None:
            return None
        detail = Detail("Counterfactual")
        if result is not None:
            self._blast_detail(detail, result)
        chosen = self.highlighted_id or (explanation.prediction_id if explanation else None)
        if chosen is not None:
            detail.copy("id", "the prediction id", chosen)
        if explanation is not None:
            self._explanation_detail(detail, explanation)
        return detail

    @staticmethod
    def _blast_detail(detail: Detail, result: BlastRadius) -> None:
        edge = edge_text(result.edge)
        detail.title = f"Blast radius of {edge}"
        detail.copy("edge", "the edge", edge)
        detail.heading("Blast radius")
        detail.field("edge", edge, "bold")
        detail.field("corrected with", result.correction)
        detail.field("flipped", f"{result.flipped:,} of {result.total:,} scored decisions")
        if result.errored:
            detail.field("errored", f"{result.errored:,} never scored (not counted as flips)")
        if result.explained is not None:
            detail.field(
                "explains", f"{result.explained:.1%} of the move (by {result.explained_by})"
            )
        for key, delta in result.score_delta.items():
            detail.field(f"score Δ {key}", fmt_num(delta))
        for key, output in result.outputs.items():
            detail.field(key, fmt_num(output))
        detail.heading(f"Segments ({len(result.segments)})")
        detail.lines(
            f"{seg.column}={seg.value}: {seg.flipped:,} of {seg.total:,} flipped"
            for seg in result.segments
        )
        detail.heading(f"Flipped decisions (a sample of {len(result.flipped_ids)})")
        detail.lines(result.flipped_ids)

    @staticmethod
    def _explanation_detail(detail: Detail, result: Explanation) -> None:
        detail.heading(f"Decision {one_line(result.prediction_id)} explained ({result.method})")
        detail.field("prediction id", result.prediction_id, "bold")
        detail.field("score", "no served score" if result.score is None else f"{result.score:.4f}")
        detail.field("decision", result.decision)
        if result.corrected_score is not None:
            detail.field("corrected score", f"{result.corrected_score:.4f}")
        detail.lines(result.notes, style="yellow")
        detail.lines(
            f"{a.feature}={fmt_num(a.value)}: {a.contribution:+.4f}" for a in result.attributions
        )
        if result.flip is not None:
            f = result.flip
            detail.field(
                "flips with",
                f"{f.feature}: {fmt_num(f.old_value)} -> {fmt_num(f.new_value)} "
                f"(score {f.new_score:.4f}, size {f.size:.2f})",
            )
        else:
            detail.field("flips with", "no single change flips this decision")

    def on_resize(self) -> None:
        # Results shown while the pane was hidden were drawn for a zero size.
        explanation = self.explanation
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
