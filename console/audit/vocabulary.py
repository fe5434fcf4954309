"""The trail's vocabulary, in one place: step and action names, typed records, one reader, one
summariser.

Every trail entry is named (step, action). The names are written here once; the engine, the
game day, the exports and the UI read them from here, and tests/test_trail_vocabulary.py
proves that no other module spells a trail name as a string (and that docs/trail.md's action
table lists exactly ACTIONS).

    Step.TRIAGE, Action.MARK_EDGE, STEPS (the six steps in order), ACTIONS (step -> actions)
    EdgeMark.from_entry(entry)       # a typed record of one entry, None when it is not one
    facts = Facts.read(entries)      # what the entries say about the incident
    summary(entry)                   # what the entry did, in one line

Why here and not in console/engine: the trail layer (console/audit) writes entries too
(session/recovered, note, correct) and its exports summarise every entry, and the import
contracts keep console/audit below the engine. So the vocabulary lives at the bottom, where
every layer above (engine, game day, UI, commands) may read it, and the exports need no
summariser handed down to them.

The reader is incremental (Facts.add) and keeps only the latest entry of each kind it needs,
so a resume fed Trail.latest_entries() (one entry per kind) restores the same facts as a full
read, in bounded memory. Entries are console.audit.Entry objects or the stored dicts the
exports stream (`view` reads both).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple, Self

Edge = tuple[str, str]


class Step:
    """The step member of an entry: the six steps of an investigation, then the others."""

    TRIAGE: Final = "triage"
    LOCATE: Final = "locate"
    INTERVENE: Final = "intervene"
    COUNTERFACTUAL: Final = "counterfactual"
    VALIDATE: Final = "validate"
    REPORT: Final = "report"
    SESSION: Final = "session"  # the trail's own: an incident opened, a crash recovered
    NOTE: Final = "note"  # a note about no step in particular
    GAMEDAY: Final = "gameday"  # a game day's grade
    COMMS: Final = "comms"  # a note on what was told to whom (the report's Communications)


class Action:
    """The action member of an entry. An intervene entry holding a result is named after its
    intervention type instead (console.engine.interventions), so those are not listed."""

    OPEN: Final = "open"
    RECOVERED: Final = "recovered"
    ALERT: Final = "alert"  # the page the incident was opened from, kept as evidence
    ROLE: Final = "role"  # a person given an incident role (`incident-console role`)
    NOTE: Final = "note"
    CORRECT: Final = "correct"
    TRIAGE: Final = "triage"
    DECIDE: Final = "decide"
    RANK_CANDIDATES: Final = "rank_candidates"
    MARK_EDGE: Final = "mark_edge"
    CONCLUDE: Final = "conclude"  # the automatic run's conclusion, with its alternatives
    BLAST_RADIUS: Final = "blast_radius"
    EXPLAIN: Final = "explain"
    POSTFIX: Final = "postfix"
    ACCEPT_INTENT: Final = "accept_intent"
    ACCEPT_PROPOSAL: Final = "accept_proposal"
    ACCEPT_FAILED: Final = "accept_failed"
    ACCEPT_INTERRUPTED: Final = "accept_interrupted"
    REJECT_PROPOSAL: Final = "reject_proposal"
    WRITE: Final = "write"
    EXPORT: Final = "export"
    GRADE: Final = "grade"
    FAILED: Final = "failed"
    EXPLAIN_FAILED: Final = "explain_failed"


STEPS: Final = (
    Step.TRIAGE,
    Step.LOCATE,
    Step.INTERVENE,
    Step.COUNTERFACTUAL,
    Step.VALIDATE,
    Step.REPORT,
)
# Any step may hold these: a note (`trail note --step`), a correction of one of its entries.
ANY_STEP: Final = (Action.NOTE, Action.CORRECT)
# step -> the actions written under it (besides ANY_STEP; intervene also has one action per
# intervention type). docs/trail.md's action table lists exactly these.
ACTIONS: Final[Mapping[str, tuple[str, ...]]] = {
    Step.SESSION: (Action.OPEN, Action.RECOVERED, Action.ALERT, Action.ROLE),
    Step.TRIAGE: (Action.TRIAGE, Action.DECIDE, Action.FAILED),
    Step.LOCATE: (Action.RANK_CANDIDATES, Action.FAILED),
    Step.INTERVENE: (Action.MARK_EDGE, Action.CONCLUDE, Action.FAILED),
    Step.COUNTERFACTUAL: (
        Action.BLAST_RADIUS,
        Action.EXPLAIN,
        Action.FAILED,
        Action.EXPLAIN_FAILED,
    ),
    Step.VALIDATE: (
        Action.POSTFIX,
        Action.ACCEPT_INTENT,
        Action.ACCEPT_PROPOSAL,
        Action.ACCEPT_FAILED,
        Action.ACCEPT_INTERRUPTED,
        Action.REJECT_PROPOSAL,
        Action.FAILED,
    ),
    Step.REPORT: (Action.WRITE, Action.EXPORT, Action.FAILED),
    Step.GAMEDAY: (Action.GRADE,),
}
# The entry holding each step's result: result key -> (step, action); None matches any
# action of the step that is not in NOT_RESULTS (an intervention's type).
RESULT_ACTIONS: Final[Mapping[str, tuple[str, str | None]]] = {
    Step.TRIAGE: (Step.TRIAGE, Action.TRIAGE),
    Step.LOCATE: (Step.LOCATE, Action.RANK_CANDIDATES),
    Step.INTERVENE: (Step.INTERVENE, None),
    Step.COUNTERFACTUAL: (Step.COUNTERFACTUAL, Action.BLAST_RADIUS),
    Action.EXPLAIN: (Step.COUNTERFACTUAL, Action.EXPLAIN),
    Step.VALIDATE: (Step.VALIDATE, Action.POSTFIX),
}
NOT_RESULTS: Final = frozenset(
    {Action.MARK_EDGE, Action.NOTE, Action.CORRECT, Action.FAILED, Action.EXPLAIN_FAILED}
)
# Entries that say nothing about progress through the steps (a failed explain is a drill-in
# that did not work, not a failure of the counterfactual step).
NEUTRAL: Final = frozenset({Action.NOTE, Action.CORRECT, Action.EXPLAIN_FAILED})
# The incident roles a person may be given (the report's People section lists them).
ROLES: Final = ("incident_lead", "investigator", "communications", "scribe")
# The marks an engineer puts on an edge, and those that name it as the root cause.
EDGE_MARKS: Final = ("broken", "external", "cleared")
CAUSE_MARKS: Final = EDGE_MARKS[:2]


class View(NamedTuple):
    """The members of an entry the vocabulary reads, from an Entry or a stored dict."""

    seq: int
    ts: str
    actor: str
    step: str
    action: str
    params: dict[str, Any]
    result: dict[str, Any]


def view(entry: Any) -> View:
    if isinstance(entry, View):
        return entry
    if isinstance(entry, Mapping):
        return View(
            entry.get("seq", 0), entry.get("ts", ""), entry.get("actor", ""), entry["step"],
            entry["action"], entry.get("params") or {}, entry.get("result") or {},
        )  # fmt: skip
    return View(
        getattr(entry, "seq", 0), getattr(entry, "ts", ""), getattr(entry, "actor", ""),
        entry.step, entry.action, entry.params or {}, entry.result or {},
    )  # fmt: skip


def edge_of(value: Any) -> Edge | None:
    """An edge as entries store it: a list of two node names."""
    if isinstance(value, list | tuple) and len(value) == 2:
        return (str(value[0]), str(value[1]))
    return None


def result_key(entry: Any) -> str | None:
    """The RESULT_ACTIONS key of the result an entry holds, None when it holds none."""
    e = view(entry)
    if e.action in NOT_RESULTS:
        return None
    for key, (step, action) in RESULT_ACTIONS.items():
        if e.step == step and (action is None or e.action == action):
            return key
    return None


def succeeded(entry: Any) -> bool:
    """Whether the entry is its step's success: its result, or the report written."""
    e = view(entry)
    return result_key(e) == e.step or (e.step, e.action) == (Step.REPORT, Action.WRITE)


# -- typed records -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TriageDecision:
    """The engineer's call on the anomaly: ("triage", "decide"), params verdict and note."""

    seq: int
    ts: str
    verdict: str  # confirmed / false_alarm
    note: str

    @classmethod
    def from_entry(cls, entry: Any) -> Self | None:
        e = view(entry)
        if (e.step, e.action) != (Step.TRIAGE, Action.DECIDE):
            return None
        p = e.params
        return cls(e.seq, e.ts, str(p.get("verdict") or ""), str(p.get("note") or ""))


@dataclass(frozen=True)
class EdgeMark:
    """The engineer's root-cause call on an edge: ("intervene", "mark_edge")."""

    seq: int
    ts: str
    edge: Edge
    mark: str  # broken / external / cleared
    note: str
    intervention_verdict: str | None

    @classmethod
    def from_entry(cls, entry: Any) -> Self | None:
        e = view(entry)
        edge = edge_of(e.params.get("edge"))
        if e.action != Action.MARK_EDGE or edge is None:
            return None
        verdict = e.result.get("intervention_verdict")
        return cls(
            e.seq, e.ts, edge, str(e.params.get("mark") or ""), str(e.params.get("note") or ""),
            None if verdict is None else str(verdict),
        )  # fmt: skip


@dataclass(frozen=True)
class ProposalDecision:
    """The engineer's accept or reject of a proposed playbook update (validate step)."""

    seq: int
    actor: str
    accepted: bool
    proposed: str
    authored: str  # the playbook replaced, when accepted

    @classmethod
    def from_entry(cls, entry: Any) -> Self | None:
        e = view(entry)
        if e.step != Step.VALIDATE or e.action not in (
            Action.ACCEPT_PROPOSAL,
            Action.REJECT_PROPOSAL,
        ):
            return None
        return cls(
            e.seq, e.actor, e.action == Action.ACCEPT_PROPOSAL,
            str(e.params.get("proposed") or ""), str(e.result.get("authored") or ""),
        )  # fmt: skip


@dataclass(frozen=True)
class StepFailure:
    """A step that failed: ("<step>", "failed"), or a drill-in ("explain_failed")."""

    seq: int
    step: str
    error: str  # "" when the entry recorded none
    drill_in: bool

    @classmethod
    def from_entry(cls, entry: Any) -> Self | None:
        e = view(entry)
        if e.action not in (Action.FAILED, Action.EXPLAIN_FAILED):
            return None
        error = str(e.result.get("error") or "")
        return cls(e.seq, e.step, error, e.action == Action.EXPLAIN_FAILED)


@dataclass(frozen=True)
class Note:
    """A free-text note, about a step or none (step "note")."""

    seq: int
    step: str
    text: str

    @classmethod
    def from_entry(cls, entry: Any) -> Self | None:
        e = view(entry)
        if e.action != Action.NOTE:
            return None
        return cls(e.seq, e.step, str(e.params.get("text") or ""))


@dataclass(frozen=True)
class RoleGiven:
    """A person given an incident role: ("session", "role"), params actor and role; the
    entry's own actor is who gave it."""

    seq: int
    ts: str
    by: str
    person: str
    role: str

    @classmethod
    def from_entry(cls, entry: Any) -> Self | None:
        e = view(entry)
        if (e.step, e.action) != (Step.SESSION, Action.ROLE):
            return None
        p = e.params
        return cls(e.seq, e.ts, e.actor, str(p.get("actor") or ""), str(p.get("role") or ""))


# -- the reader --------------------------------------------------------------------------------


@dataclass
class Facts:
    """What the entries read so far say about the incident.

    Failures stand while no later success of their step follows, so reading the entries in
    trail order gives each step's standing failure, whether every entry or only the latest of
    each kind is read (Trail.latest_entries)."""

    results: dict[str, View] = field(default_factory=dict)  # result key -> its latest entry
    tested: dict[Edge, tuple[int, View]] = field(default_factory=dict)  # edge -> (first seq,
    # its latest intervention entry)
    triage: TriageDecision | None = None
    marks: dict[Edge, EdgeMark] = field(default_factory=dict)  # latest per edge, latest last
    calls: list[TriageDecision | EdgeMark] = field(default_factory=list)  # every call, in order
    failures: dict[str, StepFailure] = field(default_factory=dict)  # step -> standing failure
    proposal: ProposalDecision | None = None  # on the latest proposal (a postfix proposes anew)
    proposal_decided: bool = False  # any proposal ever accepted or rejected
    notes: list[Note] = field(default_factory=list)
    grade: View | None = None  # the latest ("gameday", "grade")
    report: View | None = None  # the latest ("report", "write")
    worked: set[str] = field(default_factory=set)  # of STEPS, those with work recorded
    touched: set[str] = field(default_factory=set)  # steps with any entry but a note/correct

    @classmethod
    def read(cls, entries: Iterable[Any]) -> Facts:
        facts = cls()
        for entry in entries:
            facts.add(entry)
        return facts

    @classmethod
    def read_latest(cls, latest: Iterable[tuple[Any, int]]) -> Facts:
        """From Trail.latest_entries(): (entry, seq of the first entry of its kind)."""
        facts = cls()
        for entry, first_seq in latest:
            facts.add(entry, first_seq)
        return facts

    def add(self, entry: Any, first_seq: int | None = None) -> None:
        e = view(entry)
        if e.action not in ANY_STEP:
            self.touched.add(e.step)
        key = result_key(e)
        if key is not None:
            self.results[key] = e
        if key == Step.INTERVENE:
            self._tested(e, e.seq if first_seq is None else first_seq)
        if e.step in STEPS and e.action not in NEUTRAL:
            self._progress(e)
        if e.action == Action.NOTE:
            self.notes.append(Note(e.seq, e.step, str(e.params.get("text") or "")))
        elif (e.step, e.action) == (Step.GAMEDAY, Action.GRADE):
            self.grade = e
        if (e.step, e.action) == (Step.REPORT, Action.WRITE):
            self.report = e

    def _tested(self, e: View, first_seq: int) -> None:
        edge = edge_of(e.result.get("edge"))
        if edge is not None:
            self.tested[edge] = (min(first_seq, self.tested.get(edge, (first_seq, e))[0]), e)

    def _progress(self, e: View) -> None:
        failure = StepFailure.from_entry(e)
        if failure is not None:
            self.failures[e.step] = failure
            return
        self.worked.add(e.step)
        if succeeded(e):
            self.failures.pop(e.step, None)
        if (decision := TriageDecision.from_entry(e)) is not None:
            self.triage = decision
            self.calls.append(decision)
        elif (mark := EdgeMark.from_entry(e)) is not None:
            self.marks.pop(mark.edge, None)  # re-insert: the latest mark comes last
            self.marks[mark.edge] = mark
            self.calls.append(mark)
        elif (decided := ProposalDecision.from_entry(e)) is not None:
            self.proposal, self.proposal_decided = decided, True
        elif (e.step, e.action) == (Step.VALIDATE, Action.POSTFIX):
            self.proposal = None

    def root_edge(self) -> Edge | None:
        """The edge most recently marked broken or external."""
        found = [edge for edge, m in self.marks.items() if m.mark in CAUSE_MARKS]
        return found[-1] if found else None

    def interventions(self) -> list[View]:
        """The latest intervention entry of each edge, in the order edges were first tested."""
        return [e for _, e in sorted(self.tested.values(), key=lambda pair: pair[0])]


# -- the summariser ----------------------------------------------------------------------------


def summary(entry: Any, short: bool = False) -> str:
    """One line saying what the entry did (an Entry or a stored entry dict): the decision and
    what it was about, numbers to 4 significant digits, never cut. The exports and the
    report's investigation log use it as is; the UI's trail tail asks for `short`, which
    spells the engineer's own calls compactly (a narrow pane) and is otherwise the same."""
    e = view(entry)
    if short:
        brief = _short(e)
        if brief is not None:
            return brief
    return describe(e.step, e.action, e.params, e.result)


def _short(e: View) -> str | None:
    p = e.params
    if e.action == Action.MARK_EDGE and isinstance(p.get("edge"), list):
        return f"{' -> '.join(map(str, p['edge']))} marked {p.get('mark', '?')}"
    if (e.step, e.action) == (Step.TRIAGE, Action.DECIDE):
        return f"anomaly {str(p.get('verdict', '?')).replace('_', ' ')}"
    if e.action == Action.GRADE:
        r = e.result
        found = "root cause found" if r.get("found") else "root cause not found"
        return f"{found}, false leads {len(r.get('false_leads') or [])}"
    return None


def describe(step: str, action: str, p: dict[str, Any], r: dict[str, Any]) -> str:
    edge = _edge(p.get("edge") or r.get("edge"))
    if action == Action.NOTE:
        text = str(p.get("text", ""))
    elif action == Action.CORRECT:
        changes = _pairs(p.get("changes") or {})
        text = f"corrects #{p.get('corrects')}: {p.get('text', '')}"
        text += f" ({changes})" if changes else ""
    elif (step, action) == (Step.SESSION, Action.RECOVERED):
        text = f"recovered after a crash: {p.get('reason', '')}"
    elif (step, action) == (Step.SESSION, Action.ROLE):
        text = f"{p.get('actor')} is {str(p.get('role')).replace('_', ' ')}"
    elif (step, action) == (Step.SESSION, Action.OPEN):
        text = "opened: " + _pairs(p)
    elif action == Action.MARK_EDGE:
        text = f"marked {edge} {p.get('mark')}" + _note(p)
        if r.get("intervention_verdict") is not None:
            text += f" (intervention verdict: {r['intervention_verdict']})"
    elif action == Action.CONCLUDE:
        text = f"concluded {r.get('kind')} {_edge(r.get('edge')) or ''}".rstrip()
        if r.get("explained") is not None:
            text += f", explains {float(r['explained']):.0%} of the anomaly"
        text += (
            f", confidence {r.get('confidence')}, {len(r.get('alternatives') or [])} alternatives"
        )
    elif action == Action.DECIDE:
        text = f"decided {p.get('verdict')}" + _note(p)
    elif action in (Action.ACCEPT_PROPOSAL, Action.REJECT_PROPOSAL):
        verb = "accepted" if action == Action.ACCEPT_PROPOSAL else "rejected"
        text = f"{verb} the playbook update {p.get('proposed')}"
        text += f" (now {r['authored']}, backup {r['backup']})" if r.get("authored") else ""
    elif action in (Action.FAILED, Action.EXPLAIN_FAILED):
        what = edge or p.get("prediction_id") or p.get("node") or step
        text = f"{step} failed on {what}: {r.get('error')}"
    elif action == Action.EXPLAIN:
        text = f"explained {p.get('prediction_id')}: " + _pairs(r)
    elif "verdict" in r and "type" in r and edge:
        found = r.get("reasons")
        reasons = found if isinstance(found, list) else []
        text = f"{r['type']} on {edge}: {r['verdict']}" + "".join(f"; {x}" for x in reasons)
    else:
        text = _pairs(r) or _pairs(p)
    return " ".join(text.split())


def _edge(value: Any) -> str:
    if isinstance(value, list) and len(value) == 2:
        return f"{value[0]} -> {value[1]}"
    return "" if value is None else str(value)


def _note(p: dict[str, Any]) -> str:
    return f": {p['note']}" if p.get("note") else ""


def _pairs(d: dict[str, Any]) -> str:
    return ", ".join(
        f"{key}={number(value)}" for key, value in d.items() if not isinstance(value, (dict, list))
    )


def number(value: Any) -> Any:
    """A float to 4 significant digits (what a reader needs; the data keeps full precision)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return value
