"""One trail entry: its fields, its canonical encoding and its hash.

An entry is one JSON object per line of trail.jsonl. Its hash is
sha256(canonical(entry without "hash")), where canonical() is JSON with sorted keys, no
whitespace (separators "," and ":"), ensure_ascii=False, no NaN/Infinity, encoded as UTF-8.
Each line is itself the canonical encoding of the whole entry (hash included), which lets the
verifier check the hash on the raw bytes without re-encoding (see verification.py).

When the trail is written with an HMAC key, each entry also carries "mac":
hex HMAC-SHA256(key, canonical(entry without "hash" and "mac")). The hash covers the mac, so
the chain binds it; the mac binds the entry (its seq and prev included) to the key, so an
entry forged without the key is named exactly. docs/trail.md is the exact description.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from console.files import file_sha256

# The "prev" of entry 1: there is no previous entry, so a fixed value of the same shape.
GENESIS = "0" * 64

FIELDS = (
    "action",
    "actor",
    "evidence",
    "hash",
    "params",
    "prev",
    "result",
    "seq",
    "session",
    "step",
    "ts",
)

TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
# A canonical line begins with its "action" member (keys sort first): readers skim it.
ACTION_MEMBER = b'{"action":"'


def canonical(obj: Any) -> bytes:
    """The canonical encoding hashed by the trail (and written as each line)."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def entry_mac(key: bytes, fields: dict[str, Any]) -> str:
    """hex HMAC-SHA256 of the canonical encoding of an entry's fields other than hash and mac."""
    body = {k: v for k, v in fields.items() if k not in ("hash", "mac")}
    return mac_of(key, canonical(body))


def mac_of(key: bytes, payload: bytes) -> str:
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def entry_hash(fields: dict[str, Any]) -> str:
    """sha256 hex of the canonical encoding of an entry's fields other than "hash"."""
    body = {k: v for k, v in fields.items() if k != "hash"}
    return hashlib.sha256(canonical(body)).hexdigest()


def utc_now() -> str:
    """Now in UTC as ISO 8601 with microseconds and a Z, e.g. 2026-11-22T22:10:01.123456Z."""
    return datetime.now(UTC).strftime(TS_FORMAT)


def parse_ts(ts: str) -> datetime:
    return datetime.strptime(ts, TS_FORMAT).replace(tzinfo=UTC)


def default_actor() -> str:
    """user@host of this process, used when no --actor is given."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        # A container user without a passwd entry still has a uid.
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def _plain(value: Any) -> Any:
    """JSON fallback for values the engine naturally produces (numpy scalars, paths, times)."""
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def to_json_object(value: dict[str, Any] | None, what: str) -> dict[str, Any]:
    """A JSON round trip of params/result, so the entry holds exactly what is hashed."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"trail {what} must be a dict, got {type(value).__name__}")
    try:
        text = json.dumps(value, default=_plain, allow_nan=False, ensure_ascii=False)
    except ValueError as exc:
        raise ValueError(f"trail {what} holds NaN or Infinity, which JSON cannot carry") from exc
    plain: dict[str, Any] = json.loads(text)
    return plain


@dataclass(frozen=True)
class Evidence:
    """A file the entry rests on: its path (relative to the incident folder when inside it)."""

    path: str
    sha256: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "sha256": self.sha256}


def evidence_for(
    path: str | os.PathLike[str], incident_dir: str | os.PathLike[str] | None = None
) -> Evidence:
    """Evidence for a file on disk: its sha256 now, its path relative to incident_dir if inside."""
    p = Path(path)
    shown = str(p)
    if incident_dir is not None:
        try:
            shown = str(p.resolve().relative_to(Path(incident_dir).resolve()))
        except ValueError:
            shown = str(p)
    return Evidence(shown, file_sha256(p))


def to_evidence(items: list[Evidence | dict[str, str]] | None) -> tuple[Evidence, ...]:
    out = []
    for item in items or ():
        ev = item if isinstance(item, Evidence) else Evidence(**item)
        if not isinstance(ev.path, str) or not ev.path:
            raise ValueError(f"evidence path must be a non-empty string, got {ev.path!r}")
        if len(ev.sha256) != 64 or any(c not in "0123456789abcdef" for c in ev.sha256):
            raise ValueError(f"evidence {ev.path}: sha256 must be 64 lowercase hex digits")
        out.append(ev)
    return tuple(out)


@dataclass(frozen=True)
class Entry:
    seq: int
    ts: str
    actor: str
    session: str
    step: str
    action: str
    params: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    evidence: tuple[Evidence, ...] = ()
    prev: str = GENESIS
    hash: str = ""
    mac: str | None = None  # present when the trail is written with an HMAC key

    @property
    def time(self) -> datetime:
        """ts as an aware UTC datetime."""
        return parse_ts(self.ts)

    def to_dict(self) -> dict[str, Any]:
        """The entry as stored (keys in canonical order; "mac" only when it has one)."""
        d: dict[str, Any] = {
            "action": self.action,
            "actor": self.actor,
            "evidence": [ev.to_dict() for ev in self.evidence],
            "hash": self.hash,
        }
        if self.mac is not None:
            d["mac"] = self.mac
        d.update(
            params=self.params,
            prev=self.prev,
            result=self.result,
            seq=self.seq,
            session=self.session,
            step=self.step,
            ts=self.ts,
        )
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Entry:
        return cls(
            seq=d["seq"],
            ts=d["ts"],
            actor=d["actor"],
            session=d["session"],
            step=d["step"],
            action=d["action"],
            params=d["params"],
            result=d["result"],
            evidence=tuple(Evidence(e["path"], e["sha256"]) for e in d["evidence"]),
            prev=d["prev"],
            hash=d["hash"],
            mac=d.get("mac"),
        )


FIELD_SET = frozenset(FIELDS)
MAC_FIELD_SET = FIELD_SET | {"mac"}


def shape_ok(d: Any) -> bool:
    """The cheap test run on every line when verifying; shape_problem() says what is wrong."""
    return (
        type(d) is dict
        and (d.keys() == FIELD_SET or (d.keys() == MAC_FIELD_SET and type(d["mac"]) is str))
        and type(d["seq"]) is int
        and type(d["prev"]) is str
        and type(d["hash"]) is str
        and type(d["ts"]) is str
        and type(d["actor"]) is str
        and type(d["session"]) is str
        and type(d["step"]) is str
        and type(d["action"]) is str
        and type(d["params"]) is dict
        and type(d["result"]) is dict
        and type(d["evidence"]) is list
        and (
            not d["evidence"]
            or all(
                type(e) is dict
                and e.keys() == EVIDENCE_KEYS
                and type(e["path"]) is str
                and type(e["sha256"]) is str
                for e in d["evidence"]
            )
        )
    )


EVIDENCE_KEYS = frozenset(("path", "sha256"))


def shape_problem(d: Any) -> str | None:
    """Why a parsed line is not an entry, or None when its shape is right."""
    if shape_ok(d):
        return None
    if not isinstance(d, dict):
        return "is not a JSON object"
    keys = set(d)
    if keys not in (FIELD_SET, MAC_FIELD_SET):
        missing = sorted(FIELD_SET - keys)
        extra = sorted(keys - MAC_FIELD_SET)
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing))
        if extra:
            parts.append("unexpected " + ", ".join(extra))
        return "has the wrong fields (" + "; ".join(parts) + ")"
    if type(d["seq"]) is not int:
        return "has a seq that is not an integer"
    for key in ("ts", "actor", "session", "step", "action", "prev", "hash", "mac"):
        if key in d and not isinstance(d[key], str):
            return f"has a {key} that is not a string"
    if not isinstance(d["params"], dict) or not isinstance(d["result"], dict):
        return "has params or result that is not an object"
    return 'has evidence that is not a list of {"path": string, "sha256": string}'


class EntryEvidence(msgspec.Struct, forbid_unknown_fields=True):
    path: str
    sha256: str


class EntryShape(msgspec.Struct, forbid_unknown_fields=True):
    """shape_ok's test made while parsing: a line msgspec decodes to this has the fields of an
    entry (mac optional) with their types (tests/test_trail_shape.py holds the two to the same
    verdicts). Decoding a line straight to it costs a third of parsing it to a dict and then
    testing the dict, and parsing is most of what verifying costs."""

    action: str
    actor: str
    evidence: list[EntryEvidence]
    hash: str
    params: dict[str, Any]
    prev: str
    result: dict[str, Any]
    seq: int
    session: str
    step: str
    ts: str
    mac: str | msgspec.UnsetType = msgspec.UNSET
