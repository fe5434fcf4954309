"""The audit measured: what the trails of many incident folders say about the audit itself.

Every figure is read from the trail, never from a report's prose: an incident folder is a
subfolder of INCIDENTS_DIR holding a trail.jsonl, and each trail is verified first (a figure
from a trail that does not verify is not counted; the folder is listed as unverified).

- time to root cause: from the incident's first entry (session open) to its first root-cause
  call: an edge marked broken or external (by a person, or by `investigate --auto`);
- false alarm: the triage decision is false_alarm;
- finished report: a ("report", "write") entry;
- graph updates accepted: ("validate", "accept_proposal") entries.

Grouped per model (the session open's result "model") and per month of the alert time.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from console.audit.trail import read_entries
from console.audit.verification import trail_path, verify
from console.audit.vocabulary import CAUSE_MARKS, Action, EdgeMark, Step, TriageDecision, view
from console.errors import ConsoleError


@dataclass(frozen=True)
class IncidentFacts:
    folder: str
    model: str
    month: str  # YYYY-MM of the alert time
    minutes_to_cause: float | None  # None: no root cause called
    false_alarm: bool
    report: bool
    accepted_updates: int


@dataclass
class Group:
    incidents: int = 0
    minutes: list[float] = field(default_factory=list)
    false_alarms: int = 0
    reports: int = 0
    accepted_updates: int = 0

    def add(self, f: IncidentFacts) -> None:
        self.incidents += 1
        if f.minutes_to_cause is not None:
            self.minutes.append(f.minutes_to_cause)
        self.false_alarms += f.false_alarm
        self.reports += f.report
        self.accepted_updates += f.accepted_updates

    def to_dict(self) -> dict[str, Any]:
        return {
            "incidents": self.incidents,
            "root_causes_found": len(self.minutes),
            "median_minutes_to_root_cause": statistics.median(self.minutes)
            if self.minutes
            else None,
            "false_alarm_share": self.false_alarms / self.incidents,
            "finished_report_share": self.reports / self.incidents,
            "graph_updates_accepted": self.accepted_updates,
        }


@dataclass(frozen=True)
class IncidentStats:
    incidents: list[IncidentFacts]
    unverified: list[str]  # folders whose trail did not verify (not counted)

    def groups(self) -> dict[str, dict[tuple[str, str], Group]]:
        """ "all" -> {("", ""): ...}, "model" -> {(model, ""): ...}, "month" -> {("", month)},
        "model_month" -> {(model, month): ...}."""
        out: dict[str, dict[tuple[str, str], Group]] = {
            "all": {},
            "model": {},
            "month": {},
            "model_month": {},
        }
        for f in self.incidents:
            for name, key in (
                ("all", ("", "")),
                ("model", (f.model, "")),
                ("month", ("", f.month)),
                ("model_month", (f.model, f.month)),
            ):
                out[name].setdefault(key, Group()).add(f)
        return out

    def to_dict(self) -> dict[str, Any]:
        groups = self.groups()
        return {
            "all": groups["all"][("", "")].to_dict() if self.incidents else None,
            "per_model": {m: g.to_dict() for (m, _), g in sorted(groups["model"].items())},
            "per_month": {mo: g.to_dict() for (_, mo), g in sorted(groups["month"].items())},
            "per_model_month": [
                {"model": m, "month": mo} | g.to_dict()
                for (m, mo), g in sorted(groups["model_month"].items())
            ],
            "unverified": self.unverified,
            "incidents": [vars(f) for f in self.incidents],
        }


def incident_stats(root: Path) -> IncidentStats:
    if not root.is_dir():
        raise ConsoleError(f"{root}: not a folder of incident folders")
    folders = sorted(p for p in root.iterdir() if trail_path(p).is_file())
    if not folders:
        raise ConsoleError(f"{root}: no incident folder (a subfolder with a trail.jsonl)")
    found, unverified = [], []
    for folder in folders:
        if not verify(folder).ok:
            unverified.append(folder.name)
            continue
        found.append(incident_facts(folder))
    return IncidentStats(found, unverified)


def incident_facts(folder: Path) -> IncidentFacts:
    """One incident's figures from its trail, in trail order."""
    start: datetime | None = None
    cause_at: datetime | None = None
    model, month = "", ""
    false_alarm = report = False
    accepted = 0
    for entry in read_entries(folder):
        e = view(entry)
        ts = datetime.fromisoformat(e.ts.replace("Z", "+00:00"))
        if start is None:
            start = ts
        if (e.step, e.action) == (Step.SESSION, Action.OPEN) and not model:
            model = str(e.result.get("model") or "")
            month = str(e.params.get("alert_at") or "")[:7]
        decision = TriageDecision.from_entry(e)
        if decision is not None:
            false_alarm = decision.verdict == "false_alarm"
        mark = EdgeMark.from_entry(e)
        if mark is not None and mark.mark in CAUSE_MARKS and cause_at is None:
            cause_at = ts
        report = report or (e.step, e.action) == (Step.REPORT, Action.WRITE)
        accepted += (e.step, e.action) == (Step.VALIDATE, Action.ACCEPT_PROPOSAL)
    minutes = (cause_at - start).total_seconds() / 60 if start and cause_at else None
    return IncidentFacts(
        folder.name, model or "unknown", month or "unknown", minutes, false_alarm, report, accepted
    )
