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
    export.export(incident_dir, fmt, out, tz=None, sensitive=(), key=None) -> ExportResult
        # from console.audit.export: `console.audit.export` names that module, not the function
    default_actor() -> "user@host";  evidence_for(path, incident_dir) -> Evidence
    load_key() -> bytes | None      # HMAC key from INCIDENT_CONSOLE_HMAC_KEY(_FILE)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.audit.entry import GENESIS, Entry, Evidence, default_actor, evidence_for
    from console.audit.export import ExportResult
    from console.audit.head import Head, load_key
    from console.audit.trail import Tail, Trail, read_entries
    from console.audit.verification import VerifyReport, verify

# Each name from the module that defines it, loaded on first use: the console's first frame
# reads the vocabulary (console.audit.vocabulary, through this package) and entries, and
# should not wait for the export's, the verifier's and the trail's imports (csv,
# multiprocessing, ctypes: about 0.1 s).
_HOME = {
    "GENESIS": "entry",
    "Entry": "entry",
    "Evidence": "entry",
    "default_actor": "entry",
    "evidence_for": "entry",
    "ExportResult": "export",
    "Head": "head",
    "load_key": "head",
    "Tail": "trail",
    "Trail": "trail",
    "read_entries": "trail",
    "VerifyReport": "verification",
    "verify": "verification",
}

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
    "load_key",
    "read_entries",
    "verify",
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    globals()[name] = value  # found directly from now on
    return value
