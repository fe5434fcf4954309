"""Results read back from the trail, so a reopened incident resumes where it was left.

Every engine step stores its result's to_dict() in its trail entry; `revive` turns such a
dict back into the result dataclass (nested dataclasses, lists, tuples, datetimes) by the
field types, so no query runs again when an incident is reopened, and the report of a resumed
incident quotes what the trail holds.

`resume_state` is what a reopened incident needs from its trail: it reads only the latest
entry of each kind (Trail.latest_entries), so neither time spent parsing nor memory grows with
the entries it does not need.
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
# The steps whose entries a resume reads (every other entry is skipped unparsed).
STATE_STEPS = ("triage", "locate", "intervene", "counterfactual", "validate", "report")

Edge = tuple[str, ...]


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


def result_key(entry: Entry) -> str | None:
    """The RESULT_ENTRIES key of the result an entry holds, None when it holds none."""
    if entry.action in NOT_RESULTS:
        return None
    for key, (step, action, _cls) in RESULT_ENTRIES.items():
        if entry.step == step and (action is None or entry.action == action):
            return key
    return None


def last_results(entries: Iterable[Entry]) -> dict[str, Any]:
    """The latest result of each step in the trail, revived; steps whose entry does not
    read back (an older engine's format) are left out, and are simply run again."""
    found: dict[str, tuple[str, Entry]] = {}
    for entry in entries:
        key = result_key(entry)
        if key is not None:
            found[key] = (key, entry)
    return _revived(found)


def _revived(found: dict[Any, Entry]) -> dict[Any, Any]:
    revived = {key: revive_entry(RESULT_ENTRIES[k][2], e) for key, (k, e) in found.items()}
    return {key: result for key, result in revived.items() if result is not None}


@dataclasses.dataclass
class ResumeState:
    """The facts of an incident a reopened Investigation restores."""

    results: dict[str, Any]  # RESULT_ENTRIES key -> the latest result, revived
    interventions: dict[Edge, r.InterventionResult]  # edge -> its latest intervention
    triage_decision: str | None
    marks: dict[Edge, tuple[str, str]]  # edge -> (mark, note), the latest mark last
    failures: dict[str, str]  # step -> error of a "failed" entry later than its last result


def resume_state(latest: Iterable[tuple[Entry, int]]) -> ResumeState:
    """The facts of an incident from the latest entry of each kind (Trail.latest_entries:
    (entry, seq of the first entry of its kind), in trail order).

    Interventions keep the order in which their edges were first tested, as a live session
    has them. A step's failure stands when its ("<step>", "failed") entry is later than the
    step's latest result entry (an explain_failed never does: explain is a drill-in), as
    Investigation.failures has it live (/work/briefs/failures.md).
    """
    found: dict[str, tuple[str, Entry]] = {}
    tested: dict[Edge, tuple[int, Entry]] = {}
    decision: str | None = None
    marks: dict[Edge, tuple[str, str]] = {}
    succeeded: dict[str, int] = {}
    failed: dict[str, tuple[int, str]] = {}
    for entry, first_seq in latest:
        key = result_key(entry)
        if key is not None:
            found[key] = (key, entry)
        if key == "intervene" and isinstance(entry.result.get("edge"), list):
            edge = tuple(str(n) for n in entry.result["edge"])
            first_seq = min(first_seq, tested.get(edge, (first_seq, entry))[0])
            tested[edge] = (first_seq, entry)
        if key == entry.step or (entry.step, entry.action) == ("report", "write"):
            succeeded[entry.step] = entry.seq
        elif entry.action == "failed":
            failed[entry.step] = (entry.seq, str(entry.result.get("error") or ""))
        elif (entry.step, entry.action) == ("triage", "decide"):
            decision = str(entry.params.get("verdict"))
        elif entry.action == "mark_edge" and len(entry.params.get("edge") or ()) == 2:
            edge = tuple(str(n) for n in entry.params["edge"])
            marks.pop(edge, None)  # re-insert: the latest mark comes last
            marks[edge] = (str(entry.params.get("mark")), str(entry.params.get("note", "")))
    interventions = {}
    for _, entry in sorted(tested.values(), key=lambda pair: pair[0]):
        result = revive_entry(r.InterventionResult, entry)
        if result is not None:
            interventions[tuple(result.edge)] = result
    return ResumeState(
        results=_revived(found),
        interventions=interventions,
        triage_decision=decision,
        marks=marks,
        failures={
            step: error for step, (seq, error) in failed.items() if seq > succeeded.get(step, 0)
        },
    )
