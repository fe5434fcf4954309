"""Results read back from the trail, so a reopened incident resumes where it was left.

Every engine step stores its result's to_dict() in its trail entry; `revive` turns such a
dict back into the result dataclass (nested dataclasses, lists, tuples, datetimes) by the
field types, so no query runs again when an incident is reopened, and the report of a resumed
incident quotes what the trail holds.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from console.audit import Entry
from console.engine import results as r

# (step, action) of the entry holding each result, and the result's type. Intervention
# entries are named after the intervention type, so they match on the step alone.
RESULT_ENTRIES: dict[str, tuple[str, str | None, type]] = {
    "triage": ("triage", "triage", r.TriageResult),
    "locate": ("locate", "rank_candidates", r.LocateResult),
    "intervene": ("intervene", None, r.InterventionResult),
    "counterfactual": ("counterfactual", "blast_radius", r.BlastRadius),
    "explain": ("counterfactual", "explain", r.Explanation),
    "validate": ("validate", "postfix", r.ValidationResult),
}
NOT_RESULTS = frozenset({"mark_edge", "note", "correct", "failed", "explain_failed"})


def revive(cls: Any, data: Any) -> Any:
    """`data` (JSON-ready) as an instance of the type `cls`."""
    if data is None:
        return None
    origin = typing.get_origin(cls)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(cls) if a is not type(None)]
        for option in options:
            try:
                return revive(option, data)
            except (TypeError, ValueError, KeyError):
                continue
        return data
    if dataclasses.is_dataclass(cls):
        if not isinstance(data, dict):
            raise TypeError(f"{cls.__name__} from {type(data).__name__}")
        hints = typing.get_type_hints(cls)
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: revive(hints[k], v) for k, v in data.items() if k in fields})
    if cls is datetime:
        return datetime.fromisoformat(str(data).replace("Z", "+00:00"))
    if origin is tuple:
        args = typing.get_args(cls)
        return tuple(revive(args[0] if args else Any, v) for v in data)
    if origin is list:
        (arg,) = typing.get_args(cls) or (Any,)
        if not isinstance(data, list):
            raise TypeError(f"list from {type(data).__name__}")
        return [revive(arg, v) for v in data]
    if cls in (float, int, str, bool) and not isinstance(data, cls | int | float):
        raise TypeError(f"{cls.__name__} from {type(data).__name__}")
    return data


def revive_entry(cls: type, entry: Entry) -> Any:
    """The result an entry holds as `cls`, or None when it does not read back (an older
    engine's format): that step is simply run again."""
    try:
        return revive(cls, entry.result)
    except (TypeError, ValueError, KeyError):
        return None


def last_results(entries: Iterable[Entry]) -> dict[str, Any]:
    """The latest result of each step in the trail, revived; steps whose entry does not
    read back (an older engine's format) are left out, and are simply run again."""
    found: dict[str, Entry] = {}
    for entry in entries:
        if entry.action in NOT_RESULTS:
            continue
        for key, (step, action, _cls) in RESULT_ENTRIES.items():
            if entry.step == step and (action is None or entry.action == action):
                found[key] = entry
    revived = {key: revive_entry(RESULT_ENTRIES[key][2], e) for key, e in found.items()}
    return {key: result for key, result in revived.items() if result is not None}
