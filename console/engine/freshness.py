"""Graph freshness: where the playbook's causal graph no longer describes the pipeline.

A graph goes stale without anyone noticing: a feature column ships that no node reads, an
edge is added with no planned test, an edge stays "tentative" for months, a feedback loop is
declared with no delay to test it over. The audit lists each finding; `audit --strict` fails
on any of them. A node whose column vanished never reaches this module: opening the
telemetry checks every playbook expression against the store (require_fit) and names the
expression and column that no longer bind, which fails the audit before any test runs.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from console.playbook.model import Playbook
from console.telemetry.binding import playbook_expressions

# Columns the telemetry contract (docs/telemetry.md) reserves for inputs and features: a
# column of these families that no playbook expression reads is a new input nobody modelled.
INPUT_PREFIXES = ("raw_", "feat_")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Finding:
    kind: str  # one of KINDS
    subject: str  # the column, node or edge ("a -> b") it is about
    detail: str  # in words

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


KINDS = (
    "unread_column",  # a raw_/feat_ telemetry column no node reads
    "untested_edge",  # an edge without a planned intervention
    "unverified_edge",  # an edge whose status is still unverified
    "tentative_edge",  # an edge whose status is tentative
    "untested_feedback",  # a feedback edge without a delay or a planned test over it
)


def freshness(playbook: Playbook, columns: list[str]) -> list[Finding]:
    """Every finding on the playbook against the decisions columns, in KINDS order."""
    findings = [
        Finding("unread_column", c, f"telemetry column {c!r} is read by no node: a new input?")
        for c in unread_columns(playbook, columns)
    ]
    for edge in playbook.edges:
        name = f"{edge.source} -> {edge.target}"
        if edge.feedback and (edge.delay is None or not edge.planned):
            missing = "a delay" if edge.delay is None else "a planned intervention"
            findings.append(Finding("untested_feedback", name, f"feedback edge without {missing}"))
        elif not edge.planned and playbook.nodes[edge.source].kind != "external":
            # An external node is unobserved: its edge is tested through its child's shift.
            findings.append(Finding("untested_edge", name, "no planned intervention"))
        if edge.status in ("unverified", "tentative"):
            findings.append(Finding(f"{edge.status}_edge", name, f"status {edge.status}"))
    return sorted(findings, key=lambda f: KINDS.index(f.kind))


def unread_columns(playbook: Playbook, columns: list[str]) -> list[str]:
    """The input and feature columns that appear in no playbook expression."""
    # Columns named outright (privacy, model version, producers) are modelled too.
    named = (*playbook.sensitive, playbook.model.version_column, *playbook.producers)
    read: set[str] = {c.lower() for c in named if c}
    for item in playbook_expressions(playbook):
        read.update(name.lower() for name in _NAME.findall(item.expr))
    return [c for c in columns if c.lower().startswith(INPUT_PREFIXES) and c.lower() not in read]
