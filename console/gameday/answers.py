"""Answer keys of game-day scenarios: answer.toml, kept apart from scenario.toml.

Only grading and tests read answer keys; the engine and the UI work from the telemetry and the
playbook alone, as an on-call engineer would.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from console.errors import ConsoleError
from console.telemetry.windows import format_utc

ANSWER_FILE = "answer.toml"
KINDS = ("broken_edge", "external_shift", "false_alarm")


@dataclass(frozen=True)
class Decoy:
    node: str
    why: str  # why it looks guilty and why it is not


@dataclass(frozen=True)
class AnswerKey:
    scenario: str
    kind: str  # broken_edge | external_shift | false_alarm
    node: str  # the root-cause node
    edge: tuple[str, str]  # the root-cause edge (from, to)
    explanation: str
    detection: str  # which intervention shows it, and what it shows
    decoys: tuple[Decoy, ...] = ()
    # Other node ids graded as right (e.g. the observed source under an external node).
    also_accept: tuple[str, ...] = ()
    fixed_at: datetime | None = None  # the change event that fixed it (broken edges)

    def to_toml(self) -> dict:
        data: dict = {
            "scenario": self.scenario,
            "kind": self.kind,
            "explanation": self.explanation,
            "detection": self.detection,
        }
        if self.fixed_at is not None:
            data["fixed_at"] = format_utc(self.fixed_at)
        data["root_cause"] = {
            "node": self.node,
            "edge": list(self.edge),
            "also_accept": list(self.also_accept),
        }
        data["decoys"] = [{"node": d.node, "why": d.why} for d in self.decoys]
        return data


def load_answer(folder: Path) -> AnswerKey:
    """The answer key of the scenario in `folder` (its answer.toml)."""
    path = Path(folder) / ANSWER_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConsoleError(f"{path}: no answer key (is this a game-day scenario folder?)") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConsoleError(f"{path}: not valid TOML: {exc}") from None
    try:
        root = data["root_cause"]
        edge = root["edge"]
        kind = data["kind"]
        if kind not in KINDS:
            raise ConsoleError(f"{path}: kind = {kind!r}; expected one of {', '.join(KINDS)}")
        if not (isinstance(edge, list) and len(edge) == 2):
            raise ConsoleError(f"{path}: root_cause.edge must be [from, to]")
        fixed = data.get("fixed_at")
        return AnswerKey(
            scenario=str(data["scenario"]),
            kind=kind,
            node=str(root["node"]),
            edge=(str(edge[0]), str(edge[1])),
            explanation=str(data["explanation"]),
            detection=str(data["detection"]),
            decoys=tuple(Decoy(str(d["node"]), str(d["why"])) for d in data.get("decoys", [])),
            also_accept=tuple(str(n) for n in root.get("also_accept", [])),
            fixed_at=datetime.fromisoformat(fixed) if fixed else None,
        )
    except KeyError as exc:
        raise ConsoleError(f"{path}: missing key {exc.args[0]!r}") from None
