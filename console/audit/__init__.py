"""The audit trail: one append-only, hash-chained JSON Lines file per incident folder.

Public API (docs/trail.md describes the format exactly):

    Trail.open(incident_dir, actor=None, session=None, key=None) -> Trail   # locks; context manager
    trail.append(step, action, params=None, result=None, evidence=None) -> Entry  # fsynced
    trail.note(text, step="note") -> Entry
    trail.correct(seq, text, **changes) -> Entry
    trail.entries(after=0, steps=None) -> Iterator[Entry]
    trail.latest_entries(steps) -> [(Entry, first seq of its kind)]  # what a resume needs
    trail.head() -> Head(count, hash, signature, updated_at);  head.line() -> "count=N hash=..."
    trail.close()
    read_entries(incident_dir, after=0, steps=None) -> Iterator[Entry]  # read-only, no lock
    Tail(incident_dir, after=0).poll() -> list[Entry]  # new entries head.json counts
    verify(incident_dir, head_hash=None, key=None) -> VerifyReport  # head_hash: hash or line
    export(incident_dir, fmt, out, tz=None, sensitive=(), key=None) -> ExportResult
    default_actor() -> "user@host";  evidence_for(path, incident_dir) -> Evidence
    load_key() -> bytes | None      # HMAC key from INCIDENT_CONSOLE_HMAC_KEY(_FILE)
"""

from console.audit.entry import GENESIS, Entry, Evidence, default_actor, evidence_for
from console.audit.export import ExportResult, export
from console.audit.head import Head, load_key
from console.audit.trail import Tail, Trail, read_entries
from console.audit.verification import VerifyReport, verify

__all__ = [
    "GENESIS",
    "Entry",
    "Evidence",
    "ExportResult",
    "Head",
    "Tail",
    "Trail",
    "VerifyReport",
    "default_actor",
    "evidence_for",
    "export",
    "load_key",
    "read_entries",
    "verify",
]
