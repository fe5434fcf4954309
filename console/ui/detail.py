"""The detail view: everything a pane has to cut to fit, in full, scrollable, with keys that
copy what an engineer pastes elsewhere (the SQL, the edge, a prediction id, the trail's head,
the report's path).

A pane builds a Detail from the results it was shown (StepPane.detail) and `v` (or enter,
where the pane's own widget does not take it) opens it on a DetailScreen; esc closes it. The
parts are Rich renderables built from data only through console.ui.format.plain (Text, never
markup) and Syntax (which reads no markup), so hostile data shows as typed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from rich.console import RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from console.text import terminal
from console.ui.clipboard import copy
from console.ui.format import plain

CopyKind = Literal["sql", "edge", "id", "head", "path"]


@dataclass(frozen=True)
class Copyable:
    what: str  # how the notification names it: "the SQL", "the edge"
    text: str


@dataclass
class Detail:
    """What a detail view shows: a title, its parts in order, and what its keys copy."""

    title: str
    parts: list[RenderableType] = field(default_factory=list)
    copies: dict[CopyKind, Copyable] = field(default_factory=dict)
    anchor: int | None = None  # the part the view opens scrolled to (the one asked about)

    def mark_anchor(self) -> None:
        """The next part added is where the view opens."""
        self.anchor = len(self.parts)

    def heading(self, text: str) -> None:
        # A blank line before every heading but the first: sections read apart when scrolled.
        if self.parts:
            self.parts.append(Text(""))
        self.parts.append(plain(text, "bold underline"))

    def field(self, name: str, value: Any, style: str = "") -> None:
        """A `name  value` line; the value is data, shown in full over as many lines as it
        takes (its newlines kept, its controls made visible)."""
        line = Text(f"{name}  ", style="dim")
        line.append_text(plain(value, style, lines=True))
        self.parts.append(line)

    def lines(self, items: Iterable[Any], bullet: str = "• ", style: str = "") -> None:
        """One entry per item, never cut: wrapped by the view, not truncated."""
        for item in items:
            line = Text(bullet, style="dim")
            line.append_text(plain(item, style, lines=True))
            self.parts.append(line)

    def add(self, part: RenderableType) -> None:
        self.parts.append(part)

    def sql(self, queries: Sequence[str]) -> None:
        """The queries behind a verdict, highlighted; `c` copies them all."""
        self.heading(f"SQL ({len(queries)} quer{'y' if len(queries) == 1 else 'ies'})")
        if not queries:
            self.parts.append(Text("no query recorded for this result", style="dim"))
            return
        for index, query in enumerate(queries, start=1):
            if len(queries) > 1:
                self.parts.append(Text(f"-- query {index} of {len(queries)}", style="dim"))
            # Playbook expressions are part of the SQL text: made terminal-safe like any data.
            self.parts.append(
                Syntax(terminal(query.strip()), "sql", theme="ansi_dark", word_wrap=True)
            )
        joined = ";\n\n".join(query.strip() for query in queries) + ";"
        self.copy("sql", "the SQL", joined)

    def copy(self, kind: CopyKind, what: str, text: str) -> None:
        self.copies[kind] = Copyable(what, text)


# The detail view's keys. Each has an id, so a keymap rebinds it like the console's own keys.
DETAIL_BINDINGS: list[Binding] = [
    Binding("escape,v", "close", "Close", id="detail-close", tooltip="Close the detail view"),
    Binding("c", "copy('sql')", "Copy SQL", id="detail-copy-sql", tooltip="Copy the SQL"),
    Binding("y", "copy('edge')", "Copy edge", id="detail-copy-edge", tooltip="Copy the edge"),
    Binding("i", "copy('id')", "Copy id", id="detail-copy-id", tooltip="Copy the prediction id"),
    Binding(
        "h", "copy('head')", "Copy head", id="detail-copy-head", tooltip="Copy the trail's head"
    ),
    Binding(
        "p", "copy('path')", "Copy path", id="detail-copy-path", tooltip="Copy the report's path"
    ),
]


class DetailScreen(ModalScreen[None]):
    """A Detail over the whole terminal. Modal: the console's own keys wait until esc."""

    BINDINGS: ClassVar[list[BindingType]] = [*DETAIL_BINDINGS]
    DEFAULT_CSS = """
    DetailScreen {
        layout: vertical;
        background: $surface;
    }
    #detail-title {
        height: auto;
        background: $panel;
        padding: 0 1;
        text-style: bold;
    }
    #detail-scroll {
        height: 1fr;
        padding: 0 1;
    }
    .detail-part {
        height: auto;
    }
    """

    def __init__(self, detail: Detail) -> None:
        super().__init__()
        self.detail = detail

    def compose(self) -> ComposeResult:
        yield Static(plain(self.detail.title), id="detail-title")
        with VerticalScroll(id="detail-scroll"):
            for part in self.detail.parts:
                yield Static(part, classes="detail-part")
        yield Footer()

    def on_mount(self) -> None:
        scroll = self.query_one("#detail-scroll", VerticalScroll)
        scroll.focus()
        anchor = self.detail.anchor
        if anchor is not None and anchor < len(self.detail.parts):
            part = scroll.query(".detail-part")[anchor]
            self.call_after_refresh(scroll.scroll_to_widget, part, top=True, animate=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "copy":
            return parameters[0] in self.detail.copies  # hidden when there is nothing to copy
        return True

    def action_copy(self, kind: CopyKind) -> None:
        found = self.detail.copies.get(kind)
        if found is not None:
            copy(self.app, found.what, found.text)

    def action_close(self) -> None:
        self.dismiss(None)
