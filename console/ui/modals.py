"""The console's modal screens: the one error modal, a one-line input (ids, times), the note
editor (several lines) and the question asked before a consequential call."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

from console.text import terminal
from console.ui.format import plain


class ErrorModal(ModalScreen[None]):
    """Shows an error in a read-only text area, so it can be selected or copied whole."""

    BINDINGS = [
        Binding("escape,enter", "dismiss_modal", "Close", id="error-close", tooltip="Close"),
        Binding("c", "copy", "Copy", id="error-copy", tooltip="Copy the message to the clipboard"),
    ]

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.title_text = title
        # A scorer's error body or a value quoted in the message may hold terminal escapes:
        # they are shown, and copied, as visible text.
        self.message = terminal(message)

    def compose(self) -> ComposeResult:
        with Vertical(id="error-box", classes="modal-box"):
            yield Label(plain(self.title_text), id="error-title")
            yield TextArea(self.message, read_only=True, id="error-text", soft_wrap=True)
            with Horizontal(classes="modal-buttons"):
                yield Button("Copy (c)", id="error-copy-button")
                yield Button("Close (esc)", variant="primary", id="error-close-button")

    def on_mount(self) -> None:
        self.query_one("#error-close-button", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "error-copy-button":
            self.action_copy()
        else:
            self.dismiss(None)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.message)
        self.notify("Error copied to the clipboard", timeout=3)

    def action_dismiss_modal(self) -> None:
        self.dismiss(None)


class PromptModal(ModalScreen[str | None]):
    """Asks for one line of text; returns it stripped on enter ("" when empty), None on escape."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt-cancel", tooltip="Cancel")]

    def __init__(self, title: str, hint: str = "", value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.hint = hint
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box", classes="modal-box"):
            yield Label(self.title_text, id="prompt-title")
            if self.hint:
                yield Static(self.hint, id="prompt-hint")
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")
            yield Static("enter: OK   esc: cancel", classes="modal-keys")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmModal(ModalScreen[bool]):
    """Asks before a call that is hard to take back; True only on the confirm button or key.

    The focus starts on cancel, so an enter pressed out of habit does not make the call."""

    BINDINGS = [
        Binding("escape,n", "answer(False)", "Cancel", id="confirm-cancel", tooltip="Cancel"),
        Binding("y", "answer(True)", "Confirm", id="confirm-yes", tooltip="Make the call"),
    ]

    def __init__(self, title: str, question: str, confirm: str, cancel: str = "Cancel") -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.confirm_label = confirm
        self.cancel_label = cancel

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box", classes="modal-box"):
            yield Label(plain(self.title_text), id="confirm-title")
            yield Static(plain(self.question, lines=True), id="confirm-question")
            with Horizontal(classes="modal-buttons"):
                yield Button(f"{self.cancel_label} (esc)", id="confirm-cancel-button")
                yield Button(f"{self.confirm_label} (y)", variant="warning", id="confirm-button")

    def on_mount(self) -> None:
        self.query_one("#confirm-cancel-button", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-button")

    def action_answer(self, confirmed: bool) -> None:
        self.dismiss(confirmed)


class NoteArea(TextArea):
    """The note's text: enter saves (most notes are one line, as a chat box sends on enter),
    ctrl+j starts a new line; a pasted text keeps its lines."""

    class Save(Message):
        """enter or ctrl+s: save the note."""

    async def _on_key(self, event: events.Key) -> None:
        if event.key in ("enter", "ctrl+s"):
            event.stop()
            event.prevent_default()
            self.post_message(self.Save())
        elif event.key == "ctrl+j":
            event.stop()
            event.prevent_default()
            self.insert("\n")
        else:
            await super()._on_key(event)


class NoteModal(ModalScreen[str | None]):
    """Writes a note of one or several lines; returns its text (stripped), None when dropped.

    A note is never lost to a stray esc: esc on a non-empty note asks whether to keep
    editing or discard it."""

    BINDINGS = [
        Binding("escape", "leave", "Cancel", id="note-cancel", tooltip="Cancel (asks first)"),
    ]

    def __init__(self, title: str, hint: str, text: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.hint = hint
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="note-box", classes="modal-box"):
            yield Label(self.title_text, id="note-title")
            yield Static(plain(self.hint), id="note-hint")
            yield NoteArea(self.text, id="note-text", soft_wrap=True)
            with Horizontal(classes="modal-buttons"):
                yield Button("Cancel (esc)", id="note-cancel-button")
                yield Button("Save (enter)", variant="primary", id="note-save-button")
            yield Static(
                "enter or ctrl+s: save   ctrl+j: new line   esc: cancel", classes="modal-keys"
            )

    def on_mount(self) -> None:
        self.query_one(NoteArea).focus()

    @property
    def draft(self) -> str:
        return self.query_one(NoteArea).text.strip()

    def on_note_area_save(self, event: NoteArea.Save) -> None:
        self._save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "note-save-button":
            self._save()
        else:
            self.action_leave()

    def _save(self) -> None:
        self.dismiss(self.draft or None)

    def action_leave(self) -> None:
        if not self.draft:
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)
            else:
                self.query_one(NoteArea).focus()

        self.app.push_screen(
            ConfirmModal(
                "Discard this note?",
                "The note is not in the trail yet.",
                confirm="Discard",
                cancel="Keep editing",
            ),
            answered,
        )
