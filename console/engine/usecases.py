"""Use cases the command line and the console both offer: each is one function here, so the
UI only runs it in a worker and the CLI only parses arguments and prints its outcome.

(Grading a game day is the third; it lives in console/gameday/grading.py, since the engine
never imports game days.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from console.audit import Trail, verify
from console.audit.export import FORMATS, export
from console.audit.vocabulary import Action, Facts, Step, View
from console.engine.context import Context
from console.engine.validate import fix_time

EXPORTS_DIR = "exports"  # inside the incident folder


@dataclass(frozen=True)
class ExportAll:
    """What export-all wrote (paths relative to the incident folder, the report first when
    there is one) and whether the trail verified at its head."""

    files: list[str]
    head: str
    verified: bool

    def to_dict(self) -> dict[str, Any]:
        return {"files": list(self.files), "head": self.head, "verified": self.verified}


def export_all(
    trail: Trail, sensitive: Iterable[str], report: str | None, key: bytes | None
) -> ExportAll:
    """Every trail format into <incident>/exports/trail.<fmt>, the trail verified (with the
    key, the head's signature too), and the export recorded as a ("report", "export") entry.

    report: the post-mortem's path in the incident folder, listed first when written."""
    incident_dir = Path(trail.incident_dir)
    folder = incident_dir / EXPORTS_DIR
    folder.mkdir(exist_ok=True)
    columns = list(sensitive)
    files = []
    for fmt in FORMATS:
        done = export(incident_dir, fmt, folder / f"trail.{fmt}", sensitive=columns, key=key)
        files.append(str(done.path.relative_to(incident_dir)))
    if report is not None:
        files.insert(0, report)
    check = verify(incident_dir, key=key)
    outcome = ExportAll(files, check.head, check.ok)
    trail.append(
        Step.REPORT, Action.EXPORT, params={"formats": list(FORMATS)}, result=outcome.to_dict()
    )
    return outcome


def report_path(entry: View) -> str:
    """The post-mortem's path in the incident folder, as a ("report", "write") entry names it."""
    return str(entry.result.get("path") or entry.params.get("path") or "report.md")


def written_report(facts: Facts, incident_dir: Path) -> str | None:
    """The path of the last report the trail says was written, when its file is still there."""
    if facts.report is None:
        return None
    path = report_path(facts.report)
    return path if (incident_dir / path).is_file() else None


def postfix_default(ctx: Context, edge: tuple[str, str]) -> datetime | None:
    """The post-fix start validation picks when given none, if a fix shows: the first change
    after the alert on either end of the edge (validate.postfix_check falls back to the
    newest data only when this is None)."""
    return fix_time(ctx, ctx.edge(*edge))
