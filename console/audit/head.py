"""head.json: the anchor of a trail (entry count, head hash, optional HMAC signature).

It is rewritten atomically after every append. Truncating the trail is only detectable
against a head kept elsewhere (RFC 6962): head.json catches a trail cut shorter than it says,
an exported or reported head catches a trail cut together with its head.json.

The signature is hex HMAC-SHA256(key, canonical({"count", "hash", "updated_at"})), with the
key from INCIDENT_CONSOLE_HMAC_KEY (the key's UTF-8 bytes) or the file named by
INCIDENT_CONSOLE_HMAC_KEY_FILE (its bytes, surrounding whitespace stripped).

A head kept outside the folder is one line a person can paste (Head.line(), parse_head):
"count=6 hash=<64 hex> updated_at=<UTC time> signature=<64 hex or none>".
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.audit.entry import GENESIS, canonical
from console.errors import ConsoleError
from console.files import SHARED_MODE

HEAD_FILE = "head.json"
KEY_ENV = "INCIDENT_CONSOLE_HMAC_KEY"
KEY_FILE_ENV = "INCIDENT_CONSOLE_HMAC_KEY_FILE"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_LINE = re.compile(
    r"count=(?P<count>\d+) hash=(?P<hash>[0-9a-fA-F]{64})"
    r"(?: updated_at=(?P<updated_at>\S+))?(?: signature=(?P<signature>[0-9a-fA-F]{64}|none))?"
)


class BadHead(ConsoleError):
    """head.json exists but is not a trail head: a verification failure, not an I/O error."""


@dataclass(frozen=True)
class Head:
    count: int
    hash: str
    signature: str | None = None
    updated_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "hash": self.hash,
            "signature": self.signature,
            "updated_at": self.updated_at,
        }

    def line(self) -> str:
        """The head as one line to keep outside the folder; parse_head() reads it back."""
        return (
            f"count={self.count} hash={self.hash} updated_at={self.updated_at or 'none'} "
            f"signature={self.signature or 'none'}"
        )


@dataclass(frozen=True)
class GivenHead:
    """A head kept outside the folder: a bare hash (count None) or a Head.line()."""

    hash: str
    count: int | None = None
    updated_at: str = ""
    signature: str | None = None


def parse_head(text: str) -> GivenHead:
    """A bare head hash or a `trail head` line; ConsoleError naming the text otherwise."""
    text = text.strip()
    if _HEX64.fullmatch(text.lower()):
        return GivenHead(text.lower())
    m = _LINE.fullmatch(" ".join(text.split()))
    if not m:
        raise ConsoleError(
            f"--head {text!r} is neither a sha256 hash (64 hex digits) nor a head line "
            "(count=N hash=<64 hex> updated_at=... signature=...) as `trail head` prints it"
        )
    signature = m["signature"]
    updated_at = m["updated_at"]
    return GivenHead(
        m["hash"].lower(),
        int(m["count"]),
        "" if updated_at in (None, "none") else updated_at,
        None if signature in (None, "none") else signature.lower(),
    )


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


_temp_names = itertools.count()


def write_head(incident_dir: Path, head: Head) -> None:
    """Replace head.json atomically: a temp file beside it, written and fsynced, then renamed
    over it (files.atomic_write's steps in plain system calls: this runs on every append,
    where mkstemp's random names and a buffered file object cost as much as the write).

    No folder fsync per append: head.json already exists after the first one, and a head one
    entry behind after a crash is accepted by verify (it anchors a prefix)."""
    target = os.path.join(incident_dir, HEAD_FILE)
    # Unique within the process (pid + counter) and O_EXCL: Trail.open removes what a crash
    # left as .head.json.*.tmp.
    tmp = os.path.join(incident_dir, f".{HEAD_FILE}.{os.getpid()}-{next(_temp_names)}.tmp")
    payload = canonical(head.to_dict()) + b"\n"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SHARED_MODE)
        try:
            os.fchmod(fd, SHARED_MODE)  # whatever the umask, as atomic_write does
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise ConsoleError(f"cannot write {target}: {exc.strerror or exc}") from exc
        raise


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
    except ValueError as exc:  # UnicodeDecodeError included
        raise BadHead(f"{path} is not a valid trail head: not JSON ({exc})") from None
    problem = _head_problem(d)
    if problem:
        raise BadHead(f"{path} is not a valid trail head: {problem}")
    return Head(d["count"], d["hash"], d["signature"], d["updated_at"])


def _head_problem(d: object) -> str:
    if not isinstance(d, dict) or set(d) != {"count", "hash", "signature", "updated_at"}:
        return 'expected an object with exactly "count", "hash", "signature", "updated_at"'
    if type(d["count"]) is not int or d["count"] < 0:
        return f"count {d['count']!r} is not a whole number"
    if not isinstance(d["hash"], str) or not _HEX64.fullmatch(d["hash"]):
        return f"hash {d['hash']!r} is not 64 lowercase hex digits"
    if d["signature"] is not None and not isinstance(d["signature"], str):
        return "signature is neither a string nor null"
    if not isinstance(d["updated_at"], str):
        return "updated_at is not a string"
    return ""
