"""Evidence snapshots: the rows an investigation used, frozen next to the incident's trail.

Telemetry keeps changing after an incident (late labels, backfills, retention). A snapshot
copies the exact rows a query returned into <incident_dir>/evidence/<name>.parquet, with the
SQL and its parameters in the file's metadata, and the trail records the file's sha256, so
the finding can be re-checked later against what was actually seen.

Evidence is never overwritten: a second snapshot under the same name with other rows is kept
as <name>-<first 12 hex of its sha256>.parquet; the same rows again return the same file.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from console.errors import ConsoleError
from console.files import atomic_write, file_sha256
from console.telemetry.store import TelemetryStore

EVIDENCE_DIR = "evidence"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,119}$")


@dataclass(frozen=True)
class EvidenceRef:
    """Where a snapshot lives (relative to the incident folder, POSIX form) and its sha256."""

    path: str
    sha256: str
    # Not part of the trail's reference ({"path", "sha256"}), so not part of equality.
    rows: int | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvidenceRef:
        try:
            return cls(str(data["path"]), str(data["sha256"]), data.get("rows"))
        except KeyError as exc:
            raise ConsoleError(f"evidence reference {dict(data)!r} lacks {exc.args[0]!r}") from exc


def snapshot(
    store: TelemetryStore,
    sql: str,
    params: Sequence[Any] | Mapping[str, Any] | None,
    incident_dir: Path,
    name: str,
) -> EvidenceRef:
    """Run the query and keep its rows as evidence; returns the reference for the trail.

    The rows are put in a total order first: DuckDB's threads return them in any order, and
    the same investigation must give the same evidence file and sha256.
    """
    table = store.query(f"SELECT * FROM ({sql}) AS evidence ORDER BY ALL", params)
    return write_evidence(table, incident_dir, name, sql=sql, params=params)


def write_evidence(
    table: pa.Table,
    incident_dir: Path,
    name: str,
    *,
    sql: str = "",
    params: Sequence[Any] | Mapping[str, Any] | None = None,
) -> EvidenceRef:
    """Keep rows already in hand (e.g. re-scored decisions) as evidence."""
    if not _NAME.match(name):
        raise ConsoleError(
            f"evidence name {name!r} must be letters, digits, '_', '.' or '-' (at most 120)"
        )
    folder = Path(incident_dir) / EVIDENCE_DIR
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConsoleError(f"cannot write evidence into {folder}: {exc.strerror or exc}") from None
    metadata = dict(table.schema.metadata or {})
    metadata[b"incident_console.sql"] = sql.encode()
    metadata[b"incident_console.params"] = json.dumps(params, default=str).encode()
    table = table.replace_schema_metadata(metadata)

    # Serialised in memory (the rows are in memory already) so the digest picks the name
    # before anything is written.
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    data = sink.getvalue().to_pybytes()
    digest = hashlib.sha256(data).hexdigest()
    target = folder / f"{name}.parquet"
    if target.exists() and file_sha256(target) != digest:
        target = folder / f"{name}-{digest[:12]}.parquet"
    if not target.exists():  # else the same bytes are already kept under this name
        atomic_write(target, data)
    relative = PurePosixPath(EVIDENCE_DIR, target.name)
    return EvidenceRef(str(relative), digest, table.num_rows)


def verify_evidence(incident_dir: Path, ref: EvidenceRef) -> str | None:
    """A problem when the evidence file is missing or changed, else None."""
    relative = PurePosixPath(ref.path)
    if relative.is_absolute() or ".." in relative.parts:
        return f"evidence path {ref.path!r} is outside the incident folder"
    path = Path(incident_dir, *relative.parts)
    if not path.is_file():
        return f"evidence {ref.path} is missing from {incident_dir}"
    found = file_sha256(path)
    if found != ref.sha256:
        return f"evidence {ref.path} changed: sha256 {found}, the trail recorded {ref.sha256}"
    return None


def read_evidence(incident_dir: Path, ref: EvidenceRef) -> pa.Table:
    """The rows of a verified snapshot (raises ConsoleError when it does not verify)."""
    problem = verify_evidence(incident_dir, ref)
    if problem:
        raise ConsoleError(problem)
    return pq.read_table(Path(incident_dir, *PurePosixPath(ref.path).parts))
