"""Copying to the clipboard of the terminal the console runs in, also over SSH: OSC 52.

Textual's App.copy_to_clipboard writes the sequence (ESC ] 52 ; c ; <base64> BEL) to the
terminal, which sets its own clipboard, so the copy lands on the engineer's machine whatever
host the console runs on. Base64 also means no copied text can end the sequence early or
send escapes of its own. Under tmux the sequence reaches the outer terminal only with
`set -g set-clipboard on` (docs/console.md).

The protocol has no answer: the console cannot know whether the terminal took the copy.
Terminals cap the sequence's length differently (Tabby takes about 3 kB of base64, Termux and
older kitty about 6 kB, xterm and tmux much more), so a copy above the smallest of these says
in its notification that some terminals drop it rather than claim it worked.
"""

from __future__ import annotations

import base64
from typing import Any

from textual.app import App

from console.text import terminal

# The smallest OSC 52 payload (base64 bytes) that a terminal in common use is known to drop.
SMALL_TERMINAL_LIMIT = 3000


def encoded_size(text: str) -> int:
    """Bytes of base64 the OSC 52 sequence carries for text."""
    return len(base64.b64encode(text.encode("utf-8")))


def copy(app: App[Any], what: str, text: str) -> str:
    """Copy text to the terminal's clipboard and say so: "copied <what> (<n> chars)".

    Data is hostile: control characters (but newline and tab) are copied as their visible
    escapes (console/text.py terminal), so pasting into a shell cannot end a bracketed paste
    or move the cursor. Returns what was copied."""
    safe = terminal(text)
    app.copy_to_clipboard(safe)
    message = f"copied {what} ({len(safe):,} chars)"
    size = encoded_size(safe)
    if size > SMALL_TERMINAL_LIMIT:
        message += f"; {size:,} bytes of OSC 52: some terminals drop a copy this long"
        app.notify(message, severity="warning", timeout=6)
    else:
        app.notify(message, timeout=3)
    return safe
