"""The report's Communications section: what was told to whom, from the notes tagged `comms`
(`incident-console trail note INCIDENT_DIR --step comms "told #fraud-ops: ..."`), in order,
with who wrote each and when. The console records what people said they told; the author adds
what went out through other channels.
"""

from __future__ import annotations

from collections.abc import Callable

from console.audit.vocabulary import Note, Step
from console.engine.report_clock import Clock
from console.engine.report_trail import TrailRead
from console.text import md_text


def comms_section(read: TrailRead, clock: Clock, plain: Callable[[str], str]) -> list[str]:
    """plain: a note's text with sensitive values hashed (the report's redaction)."""
    lines = []
    for e in read.events:
        note = Note.from_entry(e)
        if note is not None and note.step == Step.COMMS:
            lines.append(f"- {clock.entry(e.ts)}, {md_text(e.actor)}: {md_text(plain(note.text))}")
    return lines or [
        "Nothing recorded: notes with step `comms` (`incident-console trail note "
        'INCIDENT_DIR --step comms "told #channel: ..."`) are listed here.'
    ]
