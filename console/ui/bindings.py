"""Every key of the console: one Binding each, with an id (for the keymap) and a tooltip.

Defaults are plain keys, because ctrl+s, ctrl+q, ctrl+b and ctrl+z are swallowed by terminals
(flow control, job control) or by tmux. A key may serve two bindings that never apply at the
same time (c confirms in Triage and clears an edge in Intervene): the app's check_action
enables each one only on its step.
"""

from __future__ import annotations

from textual.binding import Binding

from console.ui.steps.table import STEP_TABLE

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
    Binding("n", "note", "Note", id="note", tooltip="Add a timestamped note to the trail"),
    Binding(
        "colon",
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
        tooltip="Show or hide every key",
    ),
    Binding("q", "quit", "Quit", id="quit", tooltip="Quit (the trail is already on disk)"),
]

BINDING_IDS: set[str] = {binding.id for binding in APP_BINDINGS if binding.id}
