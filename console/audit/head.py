"""head.json: the anchor of a trail (entry count, head hash, optional HMAC signature).

It is rewritten atomically after every append. Truncating the trail is only detectable
against a head kept elsewhere (RFC 6962): head.json catches a trail cut shorter than it says,
an exported or reported head catches a trail cut together with its head.json.

The signature is hex HMAC-SHA256(key, canonical({"count", "hash", "updated_at"})), with the
key from INCIDENT_CONSOLE_HMAC_KEY (the key's UTF-8 bytes) or the file named by
INCIDENT_CONSOLE_HMAC_KEY_FILE (its bytes, surrounding whitespace stripped).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path

from console.audit.entry import GENESIS, canonical
from console.errors import ConsoleError
from console.files import atomic_write

HEAD_FILE = "head.json"
KEY_ENV = "INCIDENT_CONSOLE_HMAC_KEY"
KEY_FILE_ENV = "INCIDENT_CONSOLE_HMAC_KEY_FILE"


@dataclass(frozen=True)
class Head:
    count: int
    hash: str
    signature: str | None = None
    updated_at: str = ""

    def to_dict(self) -> dict:
        return {
            "count": self.count,
            "hash": self.hash,
            "signature": self.signature,
            "updated_at": self.updated_at,
        }


EMPTY_HEAD = Head(0, GENESIS)


def load_key() -> bytes | None:
    """The HMAC key from the environment, or None when signing is not configured."""
    value = os.environ.get(KEY_ENV)
    if value:
        return value.encode("utf-8")
    path = os.environ.get(KEY_FILE_ENV)
    if path:
        try:
            key = Path(path).read_bytes().strip()
        except OSError as exc:
            raise ConsoleError(
                f"cannot read the HMAC key file {path} (from {KEY_FILE_ENV}): {exc.strerror}"
            ) from exc
        if not key:
            raise ConsoleError(f"the HMAC key file {path} (from {KEY_FILE_ENV}) is empty")
        return key
    return None


def sign(key: bytes, count: int, head_hash: str, updated_at: str) -> str:
    payload = canonical({"count": count, "hash": head_hash, "updated_at": updated_at})
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def signature_ok(head: Head, key: bytes) -> bool:
    if not head.signature:
        return False
    expected = sign(key, head.count, head.hash, head.updated_at)
    return hmac.compare_digest(expected, head.signature)


def make_head(count: int, head_hash: str, updated_at: str, key: bytes | None) -> Head:
    signature = sign(key, count, head_hash, updated_at) if key else None
    return Head(count, head_hash, signature, updated_at)


def write_head(incident_dir: Path, head: Head) -> None:
    # No folder fsync per append: head.json already exists after the first one, and a head one
    # entry behind after a crash is accepted by verify (it anchors a prefix).
    atomic_write(incident_dir / HEAD_FILE, canonical(head.to_dict()) + b"\n", sync_dir=False)


def read_head(incident_dir: Path) -> Head | None:
    """head.json of an incident folder, None when there is none."""
    path = incident_dir / HEAD_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConsoleError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        d = json.loads(raw)
        head = Head(int(d["count"]), str(d["hash"]), d.get("signature"), str(d["updated_at"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise ConsoleError(f"{path} is not a valid trail head: {exc}") from exc
    return head
