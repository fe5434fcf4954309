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
from console.audit.vocabulary import STEPS, Action, Edge, Facts, Step, View
from console.engine import results as r

# The result type each result entry (console.audit.vocabulary.RESULT_ACTIONS) holds.
RESULT_TYPES: dict[str, type] = {
    Step.TRIAGE: r.TriageResult,
    Step.LOCATE: r.LocateResult,
    Step.INTERVENE: r.InterventionResult,
    Step.COUNTERFACTUAL: r.BlastRadius,
    Action.EXPLAIN: r.Explanation,
    Step.VALIDATE: r.ValidationResult,
}
# The steps whose entries a resume reads (every other entry is skipped unparsed).
STATE_STEPS = STEPS


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
    if isinstance(cls, type) and dataclasses.is_dataclass(cls):
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


def revive_entry(cls: type, entry: View) -> Any:
    """The result an entry holds as `cls`, or None when it does not read back (an older
    engine's format): that step is simply run again."""
    try:
        return revive(cls, entry.result)
    except (TypeError, ValueError, KeyError):
        return None


def last_results(entries: Iterable[Entry]) -> dict[str, Any]:
    """The latest result of each step in the trail, revived; steps whose entry does not
    read back (an older engine's format) are left out, and are simply run again."""
    return _revived(Facts.read(entries).results)


def _revived(found: dict[str, View]) -> dict[str, Any]:
    revived = {key: revive_entry(RESULT_TYPES[key], e) for key, e in found.items()}
    return {key: result for key, result in revived.items() if result is not None}


@dataclasses.dataclass
class ResumeState:
    """The facts of an incident a reopened Investigation restores."""

    results: dict[str, Any]  # RESULT_TYPES key -> the latest result, revived
    interventions: dict[Edge, r.InterventionResult]  # edge -> its latest intervention
    triage_decision: str | None
    marks: dict[Edge, tuple[str, str]]  # edge -> (mark, note), the latest mark last
    failures: dict[str, str]  # step -> error of a "failed" entry later than its last result


def resume_state(latest: Iterable[tuple[Entry, int]]) -> ResumeState:
    """The facts of an incident from the latest entry of each kind (Trail.latest_entries:
    (entry, seq of the first entry of its kind), in trail order), read by the one reader
    (console.audit.vocabulary.Facts).

    Interventions keep the order in which their edges were first tested, as a live session
    has them. A step's failure stands when its ("<step>", "failed") entry is later than the
    step's latest result entry (an explain_failed never does: explain is a drill-in), as
    Investigation.failures has it live.
    """
    facts = Facts.read_latest(latest)
    interventions: dict[Edge, r.InterventionResult] = {}
    for entry in facts.interventions():
        result = revive_entry(r.InterventionResult, entry)
        if result is not None:
            interventions[tuple(result.edge)] = result
    return ResumeState(
        results=_revived(facts.results),
        interventions=interventions,
        triage_decision=facts.triage.verdict if facts.triage else None,
        marks={edge: (m.mark, m.note) for edge, m in facts.marks.items()},
        failures={step: f.error for step, f in facts.failures.items()},
    )
