"""head.json: the anchor of a trail (entry count, head hash, optional HMAC signature).

It is a record of HEAD_SIZE bytes (the canonical JSON padded with spaces), written atomically
when a trail is created or opened and overwritten in place after every append (HeadWriter: one
pwrite, no fsync; docs/trail.md says why that is safe). Truncating the trail is only detectable
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

# Every head record is this long: canonical JSON (at most about 235 bytes: a 19-digit count,
# two 64-hex values, a 27-character time) padded with spaces, then a newline. A fixed length
# lets each append overwrite it in place, within the file's first sector.
HEAD_SIZE = 256


def head_record(head: Head) -> bytes:
    """head.json's bytes: canonical(head) padded with spaces to HEAD_SIZE, newline last."""
    body = canonical(head.to_dict())
    return body + b" " * max(HEAD_SIZE - 1 - len(body), 0) + b"\n"


def write_head(incident_dir: Path, head: Head) -> None:
    """Replace head.json atomically: a temp file beside it, written and fsynced, then renamed
    over it (files.atomic_write's steps in plain system calls). Used when a trail is created
    or opened and when head.json is not a record HeadWriter can overwrite in place."""
    target = os.path.join(incident_dir, HEAD_FILE)
    # Unique within the process (pid + counter) and O_EXCL: Trail.open removes what a crash
    # left as .head.json.*.tmp.
    tmp = os.path.join(incident_dir, f".{HEAD_FILE}.{os.getpid()}-{next(_temp_names)}.tmp")
    payload = head_record(head)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SHARED_MODE)
        try:
            os.fchmod(fd, SHARED_MODE)  # whatever the umask, as atomic_write does
            _write_at(fd, payload)
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


def _write_at(fd: int, payload: bytes) -> None:
    """The whole payload at offset 0 (pwrite may write less than asked)."""
    done = 0
    while done < len(payload):
        done += os.pwrite(fd, payload[done:], done)


class HeadWriter:
    """Keeps one trail's head.json current after every append, at the cost of one pwrite.

    A temp file, an fsync and a rename per append cost more than the append itself (ext4
    flushes a renamed-over file's data with the next journal commit, which the trail's own
    fsync forces). The record is overwritten in place instead, without an fsync: a killed
    process leaves it current (the page cache outlives the process); only a power loss or a
    kernel crash can leave it behind the fsynced trail, and Trail.open keeps the entries past a
    lagging head when they verify (docs/trail.md). When head.json is missing, was replaced or
    is not a HEAD_SIZE record, it is written anew atomically.
    """

    def __init__(self, incident_dir: Path) -> None:
        self._dir = incident_dir
        self._path = os.path.join(incident_dir, HEAD_FILE)
        self._fd = -1
        self._ident: tuple[int, int] | None = None

    def write(self, head: Head) -> None:
        """Make head.json say `head`; raises ConsoleError (naming the file) when it cannot."""
        payload = head_record(head)
        try:
            st = os.stat(self._path)
            same = (st.st_dev, st.st_ino) == self._ident and st.st_size == HEAD_SIZE
            if same and len(payload) == HEAD_SIZE:
                _write_at(self._fd, payload)
                return
        except FileNotFoundError:  # removed under us: written anew below
            pass
        except OSError as exc:  # stat or pwrite: an I/O error
            raise ConsoleError(f"cannot write {self._path}: {exc.strerror or exc}") from exc
        write_head(self._dir, head)  # names the file in its ConsoleError
        self._reopen()

    def _reopen(self) -> None:
        self.close()
        try:
            fd = os.open(self._path, os.O_WRONLY)
        except OSError:
            return  # the next write replaces it atomically again
        st = os.fstat(fd)
        self._fd, self._ident = fd, (st.st_dev, st.st_ino)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        self._fd, self._ident = -1, None


def read_head(incident_dir: Path) -> Head | None:
    """head.json of an incident folder, None when there is none."""
    path = incident_dir / HEAD_FILE
    try:
        raw = _settled(path)
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


def _settled(path: Path) -> bytes:
    """head.json's bytes, read until two reads agree: a writer overwrites the record in place
    (HeadWriter), and a read racing that copy could see half of each version."""
    raw = path.read_bytes()
    for _ in range(5):
        again = path.read_bytes()
        if again == raw:
            break
        raw = again
    return raw


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
