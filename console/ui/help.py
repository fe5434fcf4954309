"""`?`: every key of the console on one full screen, as lazygit and k9s list theirs.

The current step's keys come first (the console's, then the focused table's or tree's
navigation), then the keys that work anywhere, then the other steps'. Each row is the key(s)
under the active keymap, what the key does and the binding id a keymap file rebinds it by, so
a keymap author reads the ids here instead of in the source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

from console.ui.bindings import APP_BINDINGS, binding_step, bound_keys
from console.ui.format import plain
from console.ui.steps.table import STEP_TABLE, TITLES

# Global keys that act on the step shown: listed with that step's own keys.
STEP_WIDE_IDS = ("run", "cancel")
NO_ID = "-"  # Textual's own navigation keys have no binding id: a keymap cannot rebind them


@dataclass(frozen=True)
class KeyRow:
    keys: str  # as the footer shows them, several separated by spaces
    description: str
    binding_id: str


@dataclass(frozen=True)
class KeySection:
    title: str
    rows: tuple[KeyRow, ...]


KeyDisplay = Callable[[str], str]  # a Textual key name -> how it is shown (`question_mark` -> ?)


def console_row(binding: Binding, keymap: Mapping[str, str], display: KeyDisplay) -> KeyRow:
    keys = " ".join(display(key) for key in bound_keys(binding, keymap))
    return KeyRow(keys, binding.tooltip or binding.description, binding.id or NO_ID)


def navigation_rows(active: Mapping[str, ActiveBinding], display: KeyDisplay) -> list[KeyRow]:
    """The keys of the focused widget and its containers (not the app's: those are listed by
    id), one row per action with all its keys."""
    keys: dict[tuple[int, str], list[str]] = {}
    described: dict[tuple[int, str], ActiveBinding] = {}
    for key, bound in active.items():
        if bound.node is bound.node.app or bound.binding.system:
            continue
        group = (id(bound.node), bound.binding.action)
        keys.setdefault(group, []).append(display(key))
        described.setdefault(group, bound)
    rows = []
    for group, bound in described.items():
        binding = bound.binding
        description = binding.tooltip or binding.description or binding.action
        rows.append(KeyRow(" ".join(keys[group]), description, binding.id or NO_ID))
    return rows


def key_sections(
    step: str,
    keymap: Mapping[str, str],
    active: Mapping[str, ActiveBinding],
    display: KeyDisplay,
) -> list[KeySection]:
    """Every key, the current step's first. `active` is the main screen's active bindings
    (the focused widget's chain, with the keymap applied by Textual)."""

    def rows(bindings: Iterable[Binding]) -> tuple[KeyRow, ...]:
        return tuple(console_row(b, keymap, display) for b in bindings)

    title = TITLES[step]
    here = [b for b in APP_BINDINGS if binding_step(b) == step or b.id in STEP_WIDE_IDS]
    navigation = navigation_rows(active, display)
    # A pane's own keys with an id (a detail view, a filter) are console keys of this step.
    pane_keys = tuple(row for row in navigation if row.binding_id != NO_ID)
    sections = [
        KeySection(f"{title}: keys of this step", rows(here) + pane_keys),
        KeySection(
            f"{title}: moving in the focused table or list",
            tuple(row for row in navigation if row.binding_id == NO_ID),
        ),
        KeySection(
            "Anywhere",
            rows(b for b in APP_BINDINGS if binding_step(b) is None and b not in here),
        ),
    ]
    for number, spec in enumerate(STEP_TABLE, start=1):
        if spec.id != step:
            others = rows(b for b in APP_BINDINGS if binding_step(b) == spec.id)
            if others:
                sections.append(KeySection(f"Step {number} {spec.title}", others))
    return [section for section in sections if section.rows]


def section_table(section: KeySection) -> Table:
    table = Table(
        title=section.title,
        title_justify="left",
        title_style="bold",
        expand=True,
        show_edge=False,
        box=None,
        padding=(0, 1),
    )
    # Fixed widths for the key and the id, so the sections' columns line up.
    table.add_column("key", style="bold cyan", no_wrap=True, width=10)
    table.add_column("what it does", ratio=1)
    table.add_column("binding id", style="dim", no_wrap=True, width=19)
    for row in section.rows:
        # Keys come from the user's keymap file: shown as typed, never read as markup.
        table.add_row(plain(row.keys), Text(row.description), Text(row.binding_id))
    return table


class KeysScreen(Screen[None]):
    """The key list, full-screen and scrollable; esc (or the key that opened it) closes it."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="keys-close", tooltip="Close the keys"),
    ]

    def __init__(self, sections: list[KeySection], heading: str) -> None:
        super().__init__()
        self.sections = sections
        self.heading = heading

    def compose(self) -> ComposeResult:
        yield Label(plain(self.heading), id="keys-heading")
        with VerticalScroll(id="keys-scroll"):
            for section in self.sections:
                yield Static(section_table(section), classes="keys-section")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#keys-scroll").focus()

    def action_close(self) -> None:
        self.dismiss()
