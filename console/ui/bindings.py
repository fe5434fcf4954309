"""Every key of the console: one Binding each, with an id (for the keymap) and a tooltip.

Defaults are plain keys, because ctrl+s, ctrl+q, ctrl+b and ctrl+z are swallowed by terminals
(flow control, job control) or by tmux. A key may serve two bindings that never apply at the
same time (c confirms in Triage and clears an edge in Intervene): the app's check_action
enables each one only on its step.
"""

from __future__ import annotations

from collections.abc import Mapping

from textual.binding import Binding
from textual.containers import ScrollableContainer
from textual.dom import DOMNode
from textual.keys import _normalize_key_list
from textual.widget import Widget
from textual.widgets import DataTable, Tree

from console.ui.detail import DetailScreen
from console.ui.steps.table import STEP_ACTIONS, STEP_TABLE, TITLES

STEP_KEYS = [
    Binding(
        str(number),
        f"goto('{step.id}')",
        step.title,
        show=False,
        id=f"step-{step.id}",
        tooltip=f"Show the {step.title} step",
    )
    for number, step in enumerate(STEP_TABLE, start=1)
]

APP_BINDINGS: list[Binding] = [
    *STEP_KEYS,
    Binding("r", "run", "Run", id="run", tooltip="Run (or re-run) the current step's work"),
    Binding("x", "cancel", "Cancel", id="cancel", tooltip="Cancel the running query"),
    Binding(
        "c",
        "decide('confirmed')",
        "Confirm",
        id="triage-confirm",
        tooltip="Confirm the anomaly is real and go on to Locate",
    ),
    Binding(
        "f",
        "decide('false_alarm')",
        "False alarm",
        id="triage-false-alarm",
        tooltip="Close the incident as a false alarm and go to Report",
    ),
    Binding(
        "b",
        "mark('broken')",
        "Broken",
        id="mark-broken",
        tooltip="Mark the tested edge broken: the root cause",
    ),
    Binding(
        "e",
        "mark('external')",
        "External",
        id="mark-external",
        tooltip="Mark the tested edge broken by something outside our systems",
    ),
    Binding(
        "c",
        "mark('cleared')",
        "Cleared",
        id="mark-cleared",
        tooltip="Clear the tested edge and go back to the candidates",
    ),
    Binding(
        "i",
        "explain_id",
        "Explain id",
        id="explain-id",
        tooltip="Explain one decision by its prediction id",
    ),
    Binding(
        "s",
        "postfix_start",
        "Post-fix start",
        id="postfix-start",
        tooltip="Choose where the post-fix window starts",
    ),
    Binding(
        "a",
        "proposal(True)",
        "Accept",
        id="proposal-accept",
        tooltip="Accept the proposed playbook change",
    ),
    Binding(
        "d",
        "proposal(False)",
        "Reject",
        id="proposal-reject",
        tooltip="Reject the proposed playbook change",
    ),
    Binding(
        "e",
        "export",
        "Export",
        id="export",
        tooltip="Export the report and the trail (jsonl, parquet, csv, md) to the incident folder",
    ),
    Binding(
        "g",
        "end_gameday",
        "Grade",
        show=False,
        id="end-gameday",
        tooltip="Finish the game day and grade it",
    ),
    # Upper-case S (shift+s): lower-case s is Validate's post-fix start. Not in the footer,
    # which has no room at 80 columns; `?` lists it.
    Binding(
        "S",
        "story",
        "Story",
        show=False,
        id="story",
        tooltip="Game day: read the scenario's title and story again",
    ),
    Binding("n", "note", "Note", id="note", tooltip="Add a timestamped note to the trail"),
    # ctrl+p as well as `:`: Textual adds its own ctrl+p binding only when no binding of the
    # app opens the palette, so binding `:` alone would drop the key the README documents.
    Binding(
        "colon,ctrl+p",
        "command_palette",
        "Palette",
        id="palette",
        key_display=":",
        tooltip="Open the command palette",
    ),
    Binding(
        "question_mark",
        "toggle_keys",
        "Keys",
        id="keys",
        key_display="?",
        tooltip="Show every key, this step's first (? or esc closes the list)",
    ),
    Binding("q", "quit", "Quit", id="quit", tooltip="Quit (the trail is already on disk)"),
]


def action_name(binding: Binding) -> str:
    """The action a binding runs, without its arguments: `mark('broken')` -> `mark`."""
    return binding.action.split("(", 1)[0]


def binding_step(binding: Binding) -> str | None:
    """The step whose screen enables an app binding, None for a key that applies anywhere."""
    return STEP_ACTIONS.get(action_name(binding))


def _own_bindings(widget: type[DOMNode]) -> list[Binding]:
    """The bindings with an id a widget class declares, its base classes' included (Textual
    merges them the same way); Textual's own widgets declare none with an id."""
    found = [
        binding
        for cls in reversed(widget.__mro__)
        if "BINDINGS" in vars(cls)
        for binding in Binding.make_bindings(vars(cls)["BINDINGS"])
        if binding.id
    ]
    # make_bindings splits "v,enter" into one Binding a key, both with the binding's id.
    return list({(binding.id, binding.key): binding for binding in found}.values())


DETAIL_VIEW = "the detail view"
# Every binding with an id and where it applies: None for the app's keys that apply anywhere,
# a step id for a key of that step (the app's step-bound actions and the step pane's own
# keys), DETAIL_VIEW for the modal detail view (the app's keys wait while it is open).
SCOPED_BINDINGS: list[tuple[str | None, Binding]] = [
    *((binding_step(binding), binding) for binding in APP_BINDINGS),
    *((spec.id, binding) for spec in STEP_TABLE for binding in _own_bindings(spec.pane)),
    *((DETAIL_VIEW, binding) for binding in _own_bindings(DetailScreen)),
]

BINDING_IDS: set[str] = {binding.id for _, binding in SCOPED_BINDINGS if binding.id}


def bound_keys(binding: Binding, keymap: Mapping[str, str]) -> list[str]:
    """The binding's keys under the keymap, in Textual's long form (`?` -> `question_mark`),
    the form Textual binds them in, so `?` and `question_mark` are the same key here too."""
    keys = keymap.get(binding.id or "") or binding.key
    return [key for key in _normalize_key_list(keys).split(",") if key]


# The widgets the step panes focus answer keys of their own before the console's bindings
# do (a focused table takes enter and the arrows): a console key rebound to one of them would
# never fire where that widget has the focus.
NAVIGATION: tuple[tuple[str, type[Widget]], ...] = (
    ("table", DataTable),
    ("tree", Tree),
    ("scroll", ScrollableContainer),
)


def navigation_bindings() -> list[tuple[str, Binding]]:
    """(widget name, binding) for every navigation key of the panes' focusable widgets."""
    return [
        (name, binding)
        for name, widget in NAVIGATION
        for binding in Binding.make_bindings(widget.BINDINGS)
    ]


def _together(scope: str | None, other: str | None) -> bool:
    """Whether bindings of two scopes can apply at the same time: on one step or one view,
    or a key that applies anywhere and any step's key (not the modal detail view's)."""
    if scope == other:
        return True
    return DETAIL_VIEW not in (scope, other) and None in (scope, other)


def clashes(keymap: Mapping[str, str]) -> list[str]:
    """Every key the keymap gives two bindings that can apply at the same time, naming both
    binding ids and where they meet: two keys of one step, or one of a key that applies
    anywhere (the defaults share `c` and `e` between steps on purpose, so sharing across
    steps is fine), or a navigation key of a table, tree or scrolling pane."""
    meetings: dict[tuple[str, str, str], list[str]] = {}
    owners: dict[str, list[tuple[str | None, Binding]]] = {}
    for scope, binding in SCOPED_BINDINGS:
        for key in bound_keys(binding, keymap):
            for other_scope, other in owners.get(key, []):
                if other.id != binding.id and _together(scope, other_scope):
                    where = meetings.setdefault((str(other.id), str(binding.id), key), [])
                    place = _where(scope if scope is not None else other_scope)
                    if place not in where:
                        where.append(place)
            owners.setdefault(key, []).append((scope, binding))
    found = [
        f'"{first}" and "{second}" are both bound to {key} ({_places(where)})'
        for (first, second, key), where in meetings.items()
    ]
    navigation: dict[str, tuple[str, Binding]] = {}
    for name, taken in navigation_bindings():
        navigation.setdefault(taken.key, (name, taken))
    for scope, binding in SCOPED_BINDINGS:
        if binding.id not in keymap or scope == DETAIL_VIEW:
            continue  # the defaults avoid navigation keys; only a rebind can take one
        for key in bound_keys(binding, keymap):
            if key in navigation:
                widget, taken = navigation[key]
                found.append(
                    f'"{binding.id}" is bound to {key}, which the focused {widget} takes first'
                    f" ({widget} {action_name(taken)})"
                )
    return list(dict.fromkeys(found))


def _places(where: list[str]) -> str:
    if len(where) == len(STEP_TABLE) and "anywhere" not in where:
        return "on every step"
    return ", ".join(where)


def _where(scope: str | None) -> str:
    return TITLES.get(scope, scope) if scope else "anywhere"
