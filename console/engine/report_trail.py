"""What the report reads from the trail besides the log: who took part, and what people did.

One pass over the trail's first `head_count` entries. The entries people make (opening the
incident, roles, calls on the anomaly and on edges, notes, proposals, validations) are parsed
and kept in order; of every other entry only the actor and the time are read, from the bytes
of its canonical line (a machine's step result can be large, and a long trail has many), so
the People section still counts every entry of every actor.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.audit.export import action_of, read_lines
from console.audit.vocabulary import Action, View, view

# The entries a person makes or that mark the incident's progress: parsed and kept.
HUMAN = frozenset(
    {Action.OPEN, Action.ALERT, Action.ROLE, Action.DECIDE, Action.MARK_EDGE, Action.NOTE,
     Action.CORRECT, Action.ACCEPT_PROPOSAL, Action.REJECT_PROPOSAL, Action.POSTFIX,
     Action.FAILED}
)  # fmt: skip
_ACTOR = re.compile(rb'^\{"action":"[^"\\]*","actor":')
_TS = re.compile(rb'"ts":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)"\}\n$')
_DECODER = json.JSONDecoder()


@dataclass
class Actor:
    """One person (or service) in the trail: how many entries, first and last."""

    name: str
    entries: int = 0
    first: str = ""  # trail timestamps (UTC, microseconds)
    last: str = ""


@dataclass
class TrailRead:
    actors: dict[str, Actor] = field(default_factory=dict)  # in order of first appearance
    events: list[View] = field(default_factory=list)  # the HUMAN entries, in trail order

    @classmethod
    def read(cls, folder: Path, head_count: int) -> TrailRead:
        out = cls()
        for number, line in enumerate(read_lines(folder), start=1):
            if number > head_count:
                break
            action = action_of(line)
            skim = _skim(line) if action is not None and action not in HUMAN else None
            if skim is None:
                record: dict[str, Any] = json.loads(line)
                e = view(record)
                if e.action in HUMAN:
                    out.events.append(e)
                out._count(e.actor, e.ts)
            else:
                out._count(*skim)
        return out

    def _count(self, name: str, ts: str) -> None:
        actor = self.actors.setdefault(name, Actor(name, first=ts))
        actor.entries += 1
        actor.last = ts


def _skim(line: bytes) -> tuple[str, str] | None:
    """(actor, ts) of a canonical line without parsing it all; None when it is not laid out so."""
    head, tail = _ACTOR.match(line), _TS.search(line)
    if head is None or tail is None:
        return None
    text = line.decode("utf-8", "surrogateescape")
    actor, _ = _DECODER.raw_decode(text, len(head.group(0).decode("utf-8", "surrogateescape")))
    return str(actor), tail.group(1).decode("ascii")
