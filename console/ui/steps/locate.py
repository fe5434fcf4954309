"""Locate: the anomalous metric's ancestors as a tree, and the ranked candidates to test."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, Static, Tree

from console.engine.results import Candidate, LocateResult
from console.playbook.graph import causal_graph
from console.playbook.model import Playbook
from console.ui.format import fmt_num, plain
from console.ui.state import edge_text
from console.ui.steps.base import StepPane

STATUS_STYLES = {"verified": "green", "unverified": "yellow", "tentative": "magenta"}
MAX_TREE_DEPTH = 8


class LocatePane(StepPane):
    STEP = "locate"
    HINT = "r ranks the metric's ancestors"

    def compose(self) -> ComposeResult:
        yield self.compose_hint()
        with Horizontal(id="locate-body"):
            yield DataTable(id="locate-candidates", cursor_type="row")
            yield Tree("graph", id="locate-tree")
        yield Static(id="locate-detail")

    def on_mount(self) -> None:
        table = self.query_one("#locate-candidates", DataTable)
        table.add_columns("#", "node", "test", "edge", "shift", "⚡")
        self.query_one("#locate-tree", Tree).show_root = True
        self.candidates: list[Candidate] = []

    def focus_main(self) -> None:
        self.query_one("#locate-candidates", DataTable).focus()

    @property
    def highlighted(self) -> Candidate | None:
        table = self.query_one("#locate-candidates", DataTable)
        if not self.candidates or table.cursor_row is None:
            return None
        return self.candidates[min(table.cursor_row, len(self.candidates) - 1)]

    def show_locate(self, result: LocateResult) -> None:
        self.candidates = list(result.candidates)
        table = self.query_one("#locate-candidates", DataTable)
        table.clear()
        for c in self.candidates:
            table.add_row(
                str(c.rank),
                plain(c.node),
                plain(c.intervention or "-"),
                Text(c.edge_status, style=STATUS_STYLES.get(c.edge_status, "")),
                fmt_num(c.shift, 3),
                str(len(c.changes)) if c.changes else "",
                key=str(c.rank),
            )
        self._tree(result)
        self._detail()
        self.set_hint("enter test the highlighted edge   ↑↓ choose   tab tree   r re-rank")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "locate-candidates":
            self._detail()

    def _detail(self) -> None:
        candidate = self.highlighted
        detail = Text()
        if candidate is not None:
            detail.append(f"{edge_text(candidate.edge)}", style="bold")
            detail.append(f" ({candidate.intervention or 'no intervention'}): ", style="dim")
            detail.append_text(plain("; ".join(candidate.reasons)))
            for change in candidate.changes[:2]:
                # Change events are telemetry: their summary may hold escapes or markup.
                line = f"{change.ts:%m-%d %H:%M} {change.kind} by {change.actor}: {change.summary}"
                detail.append("\n  ")
                detail.append_text(plain(line, "yellow"))
        self.query_one("#locate-detail", Static).update(detail)

    def _tree(self, result: LocateResult) -> None:
        playbook = self.playbook
        by_node = {c.node: c for c in result.candidates}
        causal = causal_graph(playbook)
        tree = self.query_one("#locate-tree", Tree)
        tree.clear()
        tree.root.set_label(self._label(playbook, result.metric, None, by_node, result))
        tree.root.data = result.metric

        shown: set[str] = set()

        def grow(node, node_id: str, depth: int) -> None:
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
        label = Text(node_id, style="bold" if node_id in by_node else "")
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
