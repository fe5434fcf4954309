"""Grading a game day: the participant's trail against the scenario's answer key.

What counts is what the participant *decided*, read from the trail by the one reader
(console.audit.vocabulary.Facts): the triage call
(triage `decide`, params `verdict`) and the edges they marked (`mark_edge`, params `edge` and
`mark`: broken / external / cleared). The grade records the root cause found or not (node,
edge and kind), the time from the first trail entry to the first right call, the steps skipped
and the false leads (edges marked broken or external that were not the cause). It is appended
to the post-mortem as a "Game day grade" section, then written into the trail as one
("gameday", "grade") entry whose evidence is the post-mortem's final sha256.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from console.audit import Entry, Evidence, Trail, read_entries
from console.audit.vocabulary import STEPS, Action, EdgeMark, Facts, Step, TriageDecision
from console.engine.usecases import written_report
from console.errors import ConsoleError
from console.files import atomic_write, file_sha256
from console.gameday.answers import AnswerKey, load_answer

GRADE_HEADING = "## Game day grade"
# The steps each kind of incident needs: a false alarm ends after triage, an external
# shift has no broken pipeline edge to re-score or validate a fix of.
EXPECTED_STEPS = {
    "broken_edge": STEPS,
    "external_shift": (Step.TRIAGE, Step.LOCATE, Step.INTERVENE, Step.REPORT),
    "false_alarm": (Step.TRIAGE, Step.REPORT),
}
KIND_OF_MARK = {"broken": "broken_edge", "external": "external_shift"}


@dataclass(frozen=True)
class Call:
    """One decision of the participant, from the trail."""

    seq: int
    ts: str
    kind: str  # broken_edge | external_shift | false_alarm | confirmed
    node: str = ""
    edge: tuple[str, str] | None = None


@dataclass(frozen=True)
class Grade:
    scenario: str
    answer_kind: str
    answer_node: str
    answer_edge: tuple[str, str]
    found: bool  # the right node (or edge) with the right kind
    node_right: bool
    edge_right: bool
    kind_right: bool
    seconds_to_root_cause: float | None
    steps_skipped: list[str]
    false_leads: list[str] = field(default_factory=list)  # "a -> b (broken)"
    calls: list[Call] = field(default_factory=list)

    def headline(self) -> str:
        minutes = (self.seconds_to_root_cause or 0) / 60
        if self.found and self.answer_kind == "false_alarm":
            head = f"False alarm called in {minutes:.1f} min"
        elif self.found:
            head = f"Root cause found in {minutes:.1f} min"
        elif self.node_right or self.edge_right:
            head = "Right place, wrong kind of cause"
        else:
            head = "Root cause not found"
        leads = len(self.false_leads)
        skipped = len(self.steps_skipped)
        return f"{head}; {leads} false lead{'s' * (leads != 1)}, {skipped} step{'s' * (skipped != 1)} skipped"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["answer_edge"] = list(self.answer_edge)
        data["calls"] = [
            {**asdict(c), "edge": list(c.edge) if c.edge else None} for c in self.calls
        ]
        return data

    def markdown(self) -> str:
        minutes = (
            "-"
            if self.seconds_to_root_cause is None
            else f"{self.seconds_to_root_cause / 60:.1f} min"
        )
        lines = [
            GRADE_HEADING,
            "",
            f"**{self.headline()}.**",
            "",
            "| measure | result |",
            "|---|---|",
            f"| scenario | {self.scenario} |",
            f"| answer | {self.answer_kind.replace('_', ' ')}: `{self.answer_node}` "
            f"(`{self.answer_edge[0]} -> {self.answer_edge[1]}`) |",
            f"| root cause found | {_yes(self.found)} (node {_yes(self.node_right)}, "
            f"edge {_yes(self.edge_right)}, kind {_yes(self.kind_right)}) |",
            f"| time to root cause | {minutes} |",
            f"| steps skipped | {', '.join(self.steps_skipped) or 'none'} |",
            f"| false leads | {', '.join(self.false_leads) or 'none'} |",
            "",
        ]
        return "\n".join(lines)


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def calls_from(facts: Facts) -> list[Call]:
    """The participant's calls, in trail order: every triage decision and root-cause mark."""
    calls = []
    for c in facts.calls:
        if isinstance(c, TriageDecision):
            calls.append(Call(c.seq, c.ts, c.verdict))
        elif isinstance(c, EdgeMark) and c.mark in KIND_OF_MARK:
            calls.append(Call(c.seq, c.ts, KIND_OF_MARK[c.mark], c.edge[0], c.edge))
    return calls


def grade(entries: list[Entry], answer: AnswerKey) -> Grade:
    """Grade the trail entries of one game day against its answer key."""
    facts = Facts.read(entries)
    calls = calls_from(facts)
    right_nodes = {answer.node, *answer.also_accept}
    node_right = edge_right = kind_right = found = False
    first_right: Call | None = None
    false_leads = []
    for call in calls:
        if call.kind == "confirmed":
            continue
        if answer.kind == "false_alarm" or call.kind == "false_alarm":
            right = call.kind == answer.kind
            kind_right = kind_right or right
            node_right = edge_right = node_right or right
        else:
            on_node = call.node in right_nodes
            on_edge = call.edge == answer.edge
            right = (on_node or on_edge) and call.kind == answer.kind
            node_right = node_right or on_node
            edge_right = edge_right or on_edge
            kind_right = kind_right or right
            if not (on_node or on_edge) and call.edge is not None:
                status = "broken" if call.kind == "broken_edge" else "external"
                false_leads.append(f"{call.edge[0]} -> {call.edge[1]} ({status})")
        if right and first_right is None:
            first_right = call
            found = True
    seconds = None
    if first_right is not None and entries:
        start = datetime.fromisoformat(entries[0].ts.replace("Z", "+00:00"))
        end = datetime.fromisoformat(first_right.ts.replace("Z", "+00:00"))
        seconds = (end - start).total_seconds()
    worked = facts.touched
    expected = EXPECTED_STEPS.get(answer.kind, STEPS)
    skipped = [step for step in expected if step not in worked]
    return Grade(
        scenario=answer.scenario,
        answer_kind=answer.kind,
        answer_node=answer.node,
        answer_edge=answer.edge,
        found=found,
        node_right=node_right,
        edge_right=edge_right,
        kind_right=kind_right,
        seconds_to_root_cause=seconds,
        steps_skipped=skipped,
        false_leads=false_leads,
        calls=calls,
    )


def grade_and_record(trail: Trail, scenario_folder: Path, report: Path | None = None) -> Grade:
    """Grade the open trail against the scenario's answer key, append the grade to the report
    when one has been written, and record the grade as a trail entry."""
    answer = load_answer(scenario_folder)
    result = grade(list(read_entries(trail.incident_dir)), answer)
    record_grade(trail, result, report)
    return result


def finish_game_day(
    trail: Trail, scenario_folder: Path, report: Path | None = None
) -> tuple[Grade, str | None]:
    """End a game day (the console's g, the CLI's `gameday grade`): grade and record it; with a
    written report, the grade is appended to it and the report's new text comes back too."""
    result = grade_and_record(trail, scenario_folder, report)
    markdown = report.read_text(encoding="utf-8") if report and report.exists() else None
    return result, markdown


def grade_written_report(
    trail: Trail, scenario_folder: Path, report: Path, graded: Grade | None
) -> Grade:
    """A report written on a game day: graded now when the game day is not graded yet; else
    the earlier grade goes back on the rewritten report, with a grade entry recording the
    report's final sha256 (the report entry hashed it before the section was added)."""
    if graded is None:
        return grade_and_record(trail, scenario_folder, report)
    record_grade(trail, graded, report)
    return graded


def grade_incident(
    incident_dir: Path, scenario_folder: Path | None = None, actor: str | None = None
) -> tuple[Grade, Path | None]:
    """`gameday grade`: finish the game day of an incident folder. The scenario folder (with
    answer.toml) defaults to the telemetry folder the incident was last opened on; the report
    graded is the last one the trail says was written, when its file is there."""
    entries = list(read_entries(incident_dir))
    facts = Facts.read(entries)
    folder = scenario_folder or _opened_on(entries, incident_dir)
    written = written_report(facts, incident_dir)
    report = incident_dir / written if written is not None else None
    with Trail.open(incident_dir, actor=actor) as trail:
        result, _ = finish_game_day(trail, folder, report)
    return result, report


def _opened_on(entries: list[Entry], incident_dir: Path) -> Path:
    for entry in reversed(entries):
        if (entry.step, entry.action) == (Step.SESSION, Action.OPEN):
            telemetry = entry.params.get("telemetry")
            if isinstance(telemetry, str) and telemetry:
                return Path(telemetry)
    raise ConsoleError(
        f"{incident_dir}: the trail records no telemetry folder the incident was opened on; "
        "name the scenario folder with --scenario"
    )


def record_grade(trail: Trail, result: Grade, report: Path | None = None) -> None:
    """Append the grade section to the report (when it exists), then record the grade entry.

    The report entry's sha256 was taken before the section was added, so the grade entry
    carries the final file's sha256 as evidence: the trail's last word on report.md matches
    the file on disk."""
    evidence: list[Evidence | dict[str, str]] = []
    if report is not None and report.exists():
        append_grade_section(report, result)
        evidence.append(
            {
                "path": _in_incident(report, Path(trail.incident_dir)),
                "sha256": file_sha256(report),
            }
        )
    trail.append(
        Step.GAMEDAY,
        Action.GRADE,
        params={"scenario": result.scenario},
        result=result.to_dict(),
        evidence=evidence,
    )


def append_grade_section(report: Path, result: Grade) -> None:
    """Add (or replace) the "Game day grade" section at the end of the report, atomically."""
    text = report.read_text(encoding="utf-8")
    if GRADE_HEADING in text:
        text = text[: text.index(GRADE_HEADING)]
    text = text.rstrip("\n") + "\n\n" + result.markdown()
    atomic_write(report, text.encode("utf-8"))


def _in_incident(path: Path, incident_dir: Path) -> str:
    """The path as the trail names files: relative to the incident folder when inside it."""
    try:
        return path.resolve().relative_to(incident_dir.resolve()).as_posix()
    except ValueError:
        return str(path)
