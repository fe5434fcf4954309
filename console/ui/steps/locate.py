"""Locate: the anomalous metric's ancestors as a tree, and the ranked candidates to test.

Each candidate row says where the investigation stands on its edge (untested, tested with the
intervention's verdict, or the engineer's mark), from the trail's facts the app passes in
(show_progress); `]` and `[` jump between untested candidates, `/` filters the rows by node
name and esc clears the filter.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Static, Tree
from textual.widgets.tree import TreeNode

from console.audit.vocabulary import Facts
from console.engine.results import Candidate, LocateResult
from console.playbook.model import Playbook
from console.ui.detail import Detail
from console.ui.format import display_time, fmt_num, plain
from console.ui.state import edge_text
from console.ui.steps.base import StepPane

Edge = tuple[str, str]

STATUS_STYLES = {"verified": "green", "unverified": "yellow", "tentative": "magenta"}
MAX_TREE_DEPTH = 8
UNTESTED = "untested"
# A mark is the engineer's call and wins over the intervention's verdict; a verdict alone says
# the edge was tested and not yet called ("tested ✗": its intervention found it broken).
VERDICT_STATES = {"ok": "tested ok", "broken": "tested ✗", "inconclusive": "tested ?"}
STATE_STYLES = {
    UNTESTED: "dim",
    "tested ok": "green",
    "tested ✗": "bold red",
    "tested ?": "yellow",
    "cleared": "green",
    "broken": "bold white on red",
    "external": "bold black on yellow",
}

LOCATE_BINDINGS: list[Binding] = [
    Binding(
        "right_square_bracket",
        "next_candidate(1)",
        "Next untested",
        key_display="]",
        id="locate-next",
        tooltip="Move to the next untested candidate",
    ),
    Binding(
        "left_square_bracket",
        "next_candidate(-1)",
        "Previous untested",
        key_display="[",
        show=False,
        id="locate-previous",
        tooltip="Move to the previous untested candidate",
    ),
    Binding(
        "slash",
        "filter",
        "Filter",
        key_display="/",
        id="locate-filter",
        tooltip="Filter the candidates by node name",
    ),
    Binding(
        "escape",
        "clear_filter",
        "Clear filter",
        id="locate-filter-clear",
        tooltip="Clear the candidates' filter",
    ),
]


# From this terminal width the graph tree stands beside the candidates.
BESIDE_FROM_COLUMNS = 150


class LocatePane(StepPane):
    STEP = "locate"
    BINDINGS: ClassVar[list[BindingType]] = [*LOCATE_BINDINGS]

    DEFAULT_CSS = """
    #locate-filter-input {
        height: 1;
        border: none;
        padding: 0 1;
        display: none;
    }
    """

    result: LocateResult | None = None
    filter_text = ""

    def __init__(self, playbook: Playbook, **kwargs: Any) -> None:
        super().__init__(playbook, **kwargs)
        # The rows the table shows, in its order (every candidate unless filtered).
        self.candidates: list[Candidate] = []
        self.marks: dict[Edge, str] = {}
        self.verdicts: dict[Edge, str] = {}

    def compose(self) -> ComposeResult:
        yield self.compose_hint()
        clear = self.key_text("locate-filter-clear")
        yield Input(placeholder=f"node name ({clear} clears)", id="locate-filter-input")
        with Horizontal(id="locate-body"):
            yield DataTable(id="locate-candidates", cursor_type="row")
            yield Tree("graph", id="locate-tree")
        yield Static(id="locate-detail")

    def first_hint(self) -> str:
        return self.hint(("run", "ranks the metric's ancestors"))

    def on_mount(self) -> None:
        table = self.query_one("#locate-candidates", DataTable)
        table.add_column("#")
        table.add_column("state", key="state")
        table.add_columns("node", "test", "edge", "shift", "⚡")
        self.query_one("#locate-tree", Tree).show_root = True

    def focus_main(self) -> None:
        self.query_one("#locate-candidates", DataTable).focus()

    def on_resize(self) -> None:
        # The candidates need about 90 columns; the tree is only worth a column beside them
        # when it gets 40 more, else it goes below.
        beside = self.app.size.width >= BESIDE_FROM_COLUMNS
        self.query_one("#locate-body").set_class(beside, "-beside")

    @property
    def highlighted(self) -> Candidate | None:
        table = self.query_one("#locate-candidates", DataTable)
        if not self.candidates or table.cursor_row is None:
            return None
        return self.candidates[min(table.cursor_row, len(self.candidates) - 1)]

    def show_locate(self, result: LocateResult) -> None:
        self.result = result
        self._rows(None)
        self._tree(result)
        self._detail()
        self.set_hint(
            self.hint(
                "enter test",
                ("pane-detail", "detail"),
                ("locate-next", "next untested"),
                ("locate-filter", "filter"),
                "tab tree",
                ("run", "re-rank"),
            )
        )

    def show_progress(self, facts: Facts) -> None:
        """Where the investigation stands on each edge: its latest mark, else the verdict of
        its latest intervention (the trail's facts, as the app keeps them)."""
        self.marks = {edge: mark.mark for edge, mark in facts.marks.items()}
        self.verdicts = {
            edge: str(entry.result.get("verdict", "")) for edge, (_, entry) in facts.tested.items()
        }
        table = self.query_one("#locate-candidates", DataTable)
        for candidate in self.candidates:
            table.update_cell(str(candidate.rank), "state", self._state_cell(candidate))
        self._detail()

    def state(self, candidate: Candidate) -> str:
        mark = self.marks.get(candidate.edge)
        if mark:
            return mark
        verdict = self.verdicts.get(candidate.edge)
        if verdict is None:
            return UNTESTED
        return VERDICT_STATES.get(verdict, f"tested {verdict}")

    def _state_cell(self, candidate: Candidate) -> Text:
        state = self.state(candidate)
        return Text(state, style=STATE_STYLES.get(state, ""))

    def highlight_next_untested(self) -> None:
        """After a decision: the best-ranked candidate still untested, in view and focused
        (the pane may have been hidden until now, so it is scrolled to once laid out)."""
        rows = [i for i, c in enumerate(self.candidates) if self.state(c) == UNTESTED]
        if rows:
            self._move_to(rows[0])
        self.focus_main()

    def _move_to(self, row: int) -> None:
        table = self.query_one("#locate-candidates", DataTable)
        table.move_cursor(row=row)
        # A table that was hidden when the cursor moved scrolled with no size: again once laid
        # out, so the row is on screen.
        self.call_after_refresh(table.move_cursor, row=row)

    def action_next_candidate(self, step: int) -> None:
        table = self.query_one("#locate-candidates", DataTable)
        count = len(self.candidates)
        if not count:
            return
        here = table.cursor_row or 0
        for offset in range(1, count + 1):
            row = (here + step * offset) % count
            if self.state(self.candidates[row]) == UNTESTED:
                self._move_to(row)
                return
        self.app.notify("Every candidate shown is tested or marked", timeout=3)

    # -- the filter -------------------------------------------------------------------------

    def action_filter(self) -> None:
        field = self.query_one("#locate-filter-input", Input)
        field.display = True
        field.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_filter":
            # Otherwise esc is left to whatever else uses it (restoring a maximised pane).
            return self.query_one("#locate-filter-input", Input).display
        return True

    def action_clear_filter(self) -> None:
        field = self.query_one("#locate-filter-input", Input)
        field.value = ""
        field.display = False
        self._set_filter("")
        self.focus_main()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "locate-filter-input":
            event.stop()
            self._set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "locate-filter-input":
            event.stop()
            if not event.value.strip():
                self.action_clear_filter()
            else:
                self.focus_main()  # the filter stays, shown above the rows

    def _set_filter(self, text: str) -> None:
        text = text.strip().lower()
        if text != self.filter_text:
            self.filter_text = text
            self._rows(self.highlighted)

    def _rows(self, keep: Candidate | None) -> None:
        """The candidates that pass the filter, best first; the cursor stays on `keep`."""
        result = self.result
        everything = list(result.candidates) if result is not None else []
        self.candidates = [c for c in everything if self.filter_text in c.node.lower()]
        table = self.query_one("#locate-candidates", DataTable)
        table.clear()
        for c in self.candidates:
            table.add_row(
                str(c.rank),
                self._state_cell(c),
                plain(c.node),
                plain(c.intervention or "-"),
                Text(c.edge_status, style=STATUS_STYLES.get(c.edge_status, "")),
                fmt_num(c.shift, 3),
                str(len(c.changes)) if c.changes else "",
                key=str(c.rank),
            )
        if keep is not None and keep in self.candidates:
            table.move_cursor(row=self.candidates.index(keep))
        self._detail()

    # -- what the highlighted candidate says --------------------------------------------------

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "locate-candidates":
            self._detail()

    def _detail(self) -> None:
        candidate = self.highlighted
        detail = Text()
        if candidate is not None:
            detail.append_text(plain(edge_text(candidate.edge), "bold"))
            detail.append_text(plain(f" ({candidate.intervention or 'no intervention'}): ", "dim"))
            detail.append_text(plain("; ".join(candidate.reasons)))
            for change in candidate.changes[:2]:
                # Change events are telemetry: their summary may hold escapes or markup.
                when = display_time(change.ts, self.zone)
                line = f"{when:%m-%d %H:%M} {change.kind} by {change.actor}: {change.summary}"
                detail.append("\n  ")
                detail.append_text(plain(line, "yellow"))
        elif self.filter_text and self.result is not None:
            detail.append_text(plain(f"no candidate's node contains {self.filter_text!r}", "dim"))
        self.query_one("#locate-detail", Static).update(detail)

    def detail(self) -> Detail | None:
        candidate = self.highlighted
        if candidate is None or self.result is None:
            return None
        edge = candidate.edge
        detail = Detail(f"Candidate #{candidate.rank}: {candidate.node}")
        detail.copy("edge", "the edge", edge_text(edge))
        detail.heading("Candidate")
        detail.field("edge", edge_text(edge), "bold")
        detail.field("state", self.state(candidate), STATE_STYLES.get(self.state(candidate), ""))
        detail.field("test", candidate.intervention or "no planned intervention")
        detail.field("edge status", candidate.edge_status)
        detail.field("shift", fmt_num(candidate.shift))
        detail.field("score", fmt_num(candidate.score))
        # An edge the playbook no longer has (a result read back from the trail) has none.
        with suppress(KeyError):
            detail.field("mechanism", self.playbook.edge(*edge).mechanism)
        detail.heading("Why it ranks here")
        detail.lines(candidate.reasons)
        detail.heading(f"Change events ({len(candidate.changes)})")
        if not candidate.changes:
            detail.add(Text("none on it in or just before the incident", style="dim"))
        for change in candidate.changes:
            detail.lines(
                [f"{change.ts:%Y-%m-%d %H:%M}Z {change.kind} on {change.node} by {change.actor}"],
                style="yellow",
            )
            detail.lines([change.summary], bullet="    ")
        detail.sql(self.result.sql)
        return detail

    # -- the tree -------------------------------------------------------------------------------

    def _tree(self, result: LocateResult) -> None:
        # Imported with the first result, not with the pane: networkx is not needed before.
        from console.playbook.graph import causal_graph

        playbook = self.playbook
        by_node = {c.node: c for c in result.candidates}
        causal = causal_graph(playbook)
        tree = self.query_one("#locate-tree", Tree)
        tree.clear()
        tree.root.set_label(self._label(playbook, result.metric, None, by_node, result))
        tree.root.data = result.metric

        shown: set[str] = set()

        def grow(node: TreeNode[str], node_id: str, depth: int) -> None:
            # Each ancestor is expanded once; where a path meets it again it is a leaf
            # marked "↑", so the tree stays as long as the graph, not its number of paths.
            for parent in causal.predecessors(node_id):
                if depth > MAX_TREE_DEPTH:
                    continue
                status = playbook.edge(parent, node_id).status
                label = self._label(playbook, parent, status, by_node, result)
                if parent in shown:
                    label.append(" ↑", style="dim")
                    node.add_leaf(label, data=parent)
                    continue
                shown.add(parent)
                child = node.add(label, data=parent, expand=True)
                grow(child, parent, depth + 1)
                if not child.children:
                    child.allow_expand = False

        shown.add(result.metric)
        grow(tree.root, result.metric, 1)
        tree.root.expand_all()

    @staticmethod
    def _label(
        playbook: Playbook,
        node_id: str,
        status: str | None,
        by_node: dict[str, Candidate],
        result: LocateResult,
    ) -> Text:
        node = playbook.nodes.get(node_id)
        label = plain(node_id, "bold" if node_id in by_node else "")
        label.append(f" {node.kind if node else '?'}", style="dim")
        if status:
            label.append(f" {status}", style=STATUS_STYLES.get(status, ""))
        candidate = by_node.get(node_id)
        shift = candidate.shift if candidate else result.screening.get(node_id, {}).get("shift")
        if isinstance(shift, int | float):
            label.append(f" Δ{shift:.2f}", style="cyan")
        if candidate and candidate.changes:
            label.append(f" ⚡{len(candidate.changes)}", style="yellow")
        if candidate:
            label.append(f" #{candidate.rank}", style="bold magenta")
        return label
