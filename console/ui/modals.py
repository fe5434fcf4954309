"""The console's modal screens: the one error modal, and a one-line input (notes, ids, times)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
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
