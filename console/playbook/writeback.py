"""Write-back: propose the graph update an incident taught, as a new file, never in place.

propose() applies a GraphUpdate to the authored playbook's parsed TOML, validates the result
through the loader, and writes <incident>/playbook.proposed.toml (tomli-w) and
<incident>/playbook.proposed.diff (a unified diff against the authored file). tomli-w drops
the authored file's comments and formatting, which is why accept() - the only function that
touches the authored file - runs only when a person asks, keeps a timestamped backup beside
it, and refuses when the authored file changed after the proposal was made.

The update is applied to the authored TOML document, never rebuilt from the loaded Playbook:
the loader expands every {name} of [expressions] into node exprs, references and sql
parameters, and writing those back would replace the authored form with the expanded SQL.
Working from the document keeps [expressions], the {name} references, `interventions`
arrays and every key the update does not touch exactly as the author wrote them.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import tomli_w

from console.errors import ConsoleError
from console.files import atomic_write
from console.playbook.durations import format_duration
from console.playbook.loader import load_playbook, parse_toml, playbook_from_data
from console.playbook.model import INTERVENTION_PARAMS, Edge, Intervention, Node, Playbook

PROPOSED_NAME = "playbook.proposed.toml"
DIFF_NAME = "playbook.proposed.diff"


@dataclass(frozen=True)
class Proof:
    """The intervention that proved the edge source -> target, kept in its `proven_by`."""

    source: str
    target: str
    incident: str  # the incident folder's name
    intervention: str  # the intervention type that ran
    at: datetime  # when it ran, timezone-aware
    result: str  # one line: what it found
    evidence: tuple[str, ...] = ()  # evidence paths relative to the incident folder


@dataclass(frozen=True)
class GraphUpdate:
    """What an incident taught: nodes and edges to add, edges it proved (marked verified)."""

    add_nodes: tuple[Node, ...] = ()
    add_edges: tuple[Edge, ...] = ()
    verify: tuple[Proof, ...] = ()

    def describe(self) -> list[str]:
        """One line per change, for the diff header and the UI."""
        lines = [f"+ node {n.id} ({n.kind})" for n in self.add_nodes]
        lines += [f"+ edge {e.source} -> {e.target} ({e.status})" for e in self.add_edges]
        lines += [
            f"~ edge {p.source} -> {p.target}: verified by {p.intervention} in {p.incident}"
            for p in self.verify
        ]
        return lines


@dataclass(frozen=True)
class Proposal:
    authored: Path  # the authored playbook, untouched
    authored_sha256: str  # its content when the proposal was made
    proposed: Path  # <incident>/playbook.proposed.toml
    diff: Path  # <incident>/playbook.proposed.diff
    playbook: Playbook  # the proposal, loaded and validated
    changes: list[str]  # GraphUpdate.describe()


@dataclass(frozen=True)
class Accepted:
    authored: Path  # now holds the proposal
    backup: Path  # the previous authored file, byte for byte


def propose(authored: str | Path, update: GraphUpdate, incident_dir: str | Path) -> Proposal:
    """Write the updated playbook and its diff into incident_dir; the authored file is kept."""
    authored = Path(authored)
    incident_dir = Path(incident_dir)
    if not incident_dir.is_dir():
        raise ConsoleError(f"{incident_dir}: incident folder does not exist")
    if not update.describe():
        raise ConsoleError("the graph update is empty: nothing to propose")
    original = _read_bytes(authored)
    data = parse_toml(original, authored)
    # The authored file must itself be valid, or the diff would mix its problems with ours.
    playbook_from_data(data, authored)
    updated = apply_update(data, update)
    proposed_path = incident_dir / PROPOSED_NAME
    try:
        playbook_from_data(updated, proposed_path)
    except ConsoleError as exc:
        raise ConsoleError(
            f"the graph update would make {authored} invalid; nothing was written",
            problems=exc.problems,
        ) from None
    text = tomli_w.dumps(updated)
    atomic_write(proposed_path, text.encode("utf-8"))
    # Both sides go through tomli-w so the diff shows the update alone, not every comment and
    # layout choice the writer drops.
    diff = "".join(
        difflib.unified_diff(
            tomli_w.dumps(data).splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=str(authored),
            tofile=str(proposed_path),
        )
    )
    header = [
        f"# proposed update to {authored} (sha256 {_sha256(original)})",
        *(f"#   {line}" for line in update.describe()),
        "# the proposal is written with tomli-w: comments and formatting are not kept;",
        "# the diff compares both files as tomli-w writes them, so it shows the update alone",
    ]
    atomic_write(incident_dir / DIFF_NAME, ("\n".join(header) + "\n" + diff).encode("utf-8"))
    return Proposal(
        authored=authored,
        authored_sha256=_sha256(original),
        proposed=proposed_path,
        diff=incident_dir / DIFF_NAME,
        playbook=load_playbook(proposed_path),
        changes=update.describe(),
    )


def accept(
    proposed: str | Path,
    authored: str | Path,
    *,
    authored_sha256: str | None = None,
    proposed_sha256: str | None = None,
    now: datetime | None = None,
) -> Accepted:
    """Replace the authored playbook with the proposal, keeping the old file as a backup.

    With authored_sha256 (Proposal.authored_sha256) it refuses when the authored file changed
    since the proposal was made; with proposed_sha256, when the proposal is not the file the
    caller recorded. The backup is `<name>.<UTC time>.bak` beside it.
    """
    proposed, authored = Path(proposed), Path(authored)
    load_playbook(proposed)
    content = _read_bytes(proposed)
    if proposed_sha256 is not None and _sha256(content) != proposed_sha256:
        raise ConsoleError(f"{proposed}: changed since it was recorded; propose the update again")
    current = _read_bytes(authored)
    if authored_sha256 is not None and _sha256(current) != authored_sha256:
        raise ConsoleError(
            f"{authored}: changed since the proposal was made; propose the update again"
        )
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    backup = authored.with_name(f"{authored.name}.{stamp}.bak")
    serial = 1
    while backup.exists():
        backup = authored.with_name(f"{authored.name}.{stamp}-{serial}.bak")
        serial += 1
    atomic_write(backup, current)
    atomic_write(authored, content)
    return Accepted(authored=authored, backup=backup)


def apply_update(data: dict[str, Any], update: GraphUpdate) -> dict[str, Any]:
    """A copy of parsed playbook TOML with the update applied (not yet validated)."""
    data = copy.deepcopy(data)
    nodes = data.setdefault("nodes", [])
    edges = data.setdefault("edges", [])
    if not isinstance(nodes, list) or not isinstance(edges, list):
        raise ConsoleError("the playbook's nodes and edges must be arrays of tables")
    ids = {n.get("id") for n in nodes if isinstance(n, dict)}
    for node in update.add_nodes:
        if node.id in ids:
            raise ConsoleError(f"cannot add node {node.id}: the playbook already has it")
        ids.add(node.id)
        nodes.append(_node_table(node))
    for edge in update.add_edges:
        if _find_edge(edges, edge.source, edge.target) is not None:
            raise ConsoleError(
                f"cannot add edge {edge.source} -> {edge.target}: the playbook already has it"
            )
        edges.append(_edge_table(edge))
    for proof in update.verify:
        table = _find_edge(edges, proof.source, proof.target)
        if table is None:
            raise ConsoleError(f"cannot verify edge {proof.source} -> {proof.target}: no such edge")
        if proof.at.tzinfo is None:
            raise ConsoleError(f"proof of {proof.source} -> {proof.target}: `at` has no timezone")
        table["status"] = "verified"
        table.setdefault("proven_by", []).append(
            {
                "incident": proof.incident,
                "intervention": proof.intervention,
                "at": proof.at.astimezone(UTC).replace(microsecond=0),
                "result": proof.result,
                "evidence": list(proof.evidence),
            }
        )
    return data


def _find_edge(edges: list[Any], source: str, target: str) -> dict[str, Any] | None:
    for table in edges:
        if isinstance(table, dict) and table.get("from") == source and table.get("to") == target:
            return table
    return None


def _node_table(node: Node) -> dict[str, Any]:
    table: dict[str, Any] = {
        "id": node.id,
        "kind": node.kind,
        "type": node.type,
        "owner": node.owner,
        "description": node.description,
    }
    for key in ("expr", "reference", "series", "units"):
        if getattr(node, key):
            table[key] = getattr(node, key)
    for key in ("valid_min", "valid_max"):
        if getattr(node, key) is not None:
            table[key] = getattr(node, key)
    if node.sentinels:
        table["sentinels"] = list(node.sentinels)
    return table


def _edge_table(edge: Edge) -> dict[str, Any]:
    table: dict[str, Any] = {
        "from": edge.source,
        "to": edge.target,
        "mechanism": edge.mechanism,
        "status": edge.status,
    }
    planned = [_intervention_table(intervention) for intervention in edge.planned]
    if len(planned) == 1:
        table["intervention"] = planned[0]
    elif planned:
        table["interventions"] = planned
    if edge.feedback:
        table["feedback"] = True
        if edge.delay is not None:
            table["delay"] = format_duration(edge.delay)
    return table


def _intervention_table(intervention: Intervention) -> dict[str, Any]:
    known = INTERVENTION_PARAMS.get(intervention.type, ((), {}))
    params = {
        key: format_duration(value) if isinstance(value, timedelta) else value
        for key, value in intervention.params.items()
        if key in known[0] or key in known[1]
    }
    return {"type": intervention.type, **params}


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConsoleError(f"{path}: no such playbook file") from None
    except OSError as exc:
        raise ConsoleError(f"{path}: cannot read playbook: {exc.strerror or exc}") from None


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
