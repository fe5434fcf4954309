"""The writer of an incident's trail, and readers for those who only look.

    with Trail.open(incident_dir, actor=None, session=None) as trail:   # takes the lock
        entry = trail.append("intervene", "shadow_recompute", params={...}, result={...},
                             evidence=[evidence_for(path, incident_dir)])
        trail.note("paged the feature-store owner")
        trail.correct(entry.seq, "tolerance was 1e-3, not 1e-6", tolerance=1e-3)
        trail.head()            # Head(count, hash, signature, updated_at) for exports/reports
        trail.entries(after=0)  # read back
    read_entries(incident_dir, after=0)     # read-only, no lock
    tail = Tail(incident_dir, after=seq)    # a UI polls tail.poll() for new entries

append() returns only after the line is written and fsynced (and, when the file was just
created, the folder too): show a result to the user only after it returns.

Opening an existing trail verifies it first. A torn last line (a crash mid-append) is copied
to trail.torn-<time>.jsonl, the file is cut back to the last good entry and a
("session", "recovered") entry records the bytes, side file and its sha256. Any other
verification failure raises ConsoleError naming the first bad entry: a tampered trail is
never resumed.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from console.audit.entry import (
    GENESIS,
    Entry,
    Evidence,
    canonical,
    default_actor,
    to_evidence,
    to_json_object,
    utc_now,
)
from console.audit.head import HEAD_FILE, Head, load_key, make_head, read_head, write_head
from console.audit.lock import TrailLock
from console.audit.verification import check, trail_path
from console.errors import ConsoleError
from console.files import atomic_write, fsync_dir


class Trail:
    """The open, locked trail of one incident folder; use Trail.open()."""

    def __init__(
        self,
        folder: Path,
        actor: str,
        session: str,
        key: bytes | None,
        lock: TrailLock,
        fd: int,
        count: int,
        last_hash: str,
        size: int,
    ) -> None:
        self.incident_dir = folder
        self.path = trail_path(folder)
        self.actor = actor
        self.session = session
        self._key = key
        self._lock = lock
        self._fd = fd
        self._count = count
        self._last_hash = last_hash
        self._size = size
        self._head = Head(count, last_hash)
        # The ("session", "recovered") entry when opening moved a torn last line aside.
        self.recovered: Entry | None = None
        self._mutex = threading.Lock()  # UI workers append from threads

    @classmethod
    def open(
        cls,
        incident_dir: str | os.PathLike,
        actor: str | None = None,
        session: str | None = None,
        key: bytes | None = None,
    ) -> Trail:
        """Open (creating if needed) and lock the trail of incident_dir for appending.

        actor defaults to default_actor() (user@host), session to a new uuid4, key to the
        HMAC key from the environment (INCIDENT_CONSOLE_HMAC_KEY / _KEY_FILE), if any.
        Raises ConsoleError when another process holds the lock or the trail fails
        verification (other than a torn last line, which is recovered).
        """
        folder = Path(incident_dir)
        _make_folder(folder)
        actor = actor or default_actor()
        session = session or str(uuid.uuid4())
        if key is None:
            key = load_key()
        try:
            lock = TrailLock.acquire(folder, actor, session)
        except OSError as exc:
            raise ConsoleError(f"cannot lock the trail in {folder}: {exc.strerror}") from exc
        try:
            return cls._open_locked(folder, actor, session, key, lock)
        except OSError as exc:
            lock.release()
            raise ConsoleError(f"cannot open the trail in {folder}: {exc.strerror}") from exc
        except BaseException:
            lock.release()
            raise

    @classmethod
    def _open_locked(
        cls, folder: Path, actor: str, session: str, key: bytes | None, lock: TrailLock
    ) -> Trail:
        path = trail_path(folder)
        torn = b""
        # Temp files of a head.json rewrite cut short by a crash; no other writer exists now.
        for stale in folder.glob(f".{HEAD_FILE}.*.tmp"):
            stale.unlink(missing_ok=True)
        if not path.exists():
            head = read_head(folder)
            if head is not None and head.count > 0:
                raise ConsoleError(
                    f"{path} is missing but {folder / HEAD_FILE} records {head.count} entries: "
                    "the trail was deleted or moved; it will not be started afresh"
                )
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
            os.fsync(fd)
            fsync_dir(folder)
            count, last_hash, size = 0, GENESIS, 0
        else:
            report, s = check(folder, key=key)
            if not report.ok and not (s.torn and report.problem == s.problem):
                raise ConsoleError(
                    f"the trail {path} fails verification and will not be resumed: "
                    f"{report.describe()}. Run `incident-console trail verify {folder}`."
                )
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            count, last_hash, size, torn = s.count, s.last_hash, s.good_bytes, s.torn
        trail = cls(folder, actor, session, key, lock, fd, count, last_hash, size)
        try:
            if torn:
                trail._recover(torn)
            else:
                trail._write_head()
        except BaseException:
            os.close(fd)
            raise
        return trail

    def _recover(self, torn: bytes) -> None:
        """Move a torn last line aside, cut the file back, record what happened."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        side = self.incident_dir / f"trail.torn-{stamp}.jsonl"
        # The side file is durable before the trail is cut, so the bytes are never lost.
        atomic_write(side, torn)
        os.ftruncate(self._fd, self._size)
        os.fsync(self._fd)
        digest = hashlib.sha256(torn).hexdigest()
        self.recovered = self.append(
            "session",
            "recovered",
            params={"reason": "torn last line after a crash"},
            result={
                "torn_bytes": len(torn),
                "side_file": side.name,
                "side_file_sha256": digest,
                "truncated_to_bytes": self._size,
                "last_good_seq": self._count,
            },
            evidence=[Evidence(side.name, digest)],
        )

    # -- writing -------------------------------------------------------------------------

    def append(
        self,
        step: str,
        action: str,
        params: dict[str, Any] | None = None,
        result: dict[str, Any] | None = None,
        evidence: list[Evidence | dict[str, str]] | None = None,
    ) -> Entry:
        """Append one entry; returns it once it is durably on disk (written and fsynced)."""
        if not step or not action:
            raise ValueError("trail entries need a step and an action")
        params_ = to_json_object(params, "params")
        result_ = to_json_object(result, "result")
        evidence_ = to_evidence(evidence)
        with self._mutex:
            if self._fd < 0:
                raise ConsoleError(f"the trail {self.path} is closed")
            fields = {
                "action": action,
                "actor": self.actor,
                "evidence": [ev.to_dict() for ev in evidence_],
                "params": params_,
                "prev": self._last_hash,
                "result": result_,
                "seq": self._count + 1,
                "session": self.session,
                "step": step,
                "ts": utc_now(),
            }
            fields["hash"] = hashlib.sha256(canonical(fields)).hexdigest()
            line = canonical(fields) + b"\n"
            self._write_line(line)
            self._count += 1
            self._last_hash = fields["hash"]
            self._size += len(line)
            self._write_head()
            return Entry.from_dict(fields)

    def _write_line(self, line: bytes) -> None:
        try:
            view = memoryview(line)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            os.fsync(self._fd)
        except OSError as exc:
            # Cut a partial line back so the file stays a valid trail; the entry is not
            # acknowledged (append raises) and the caller shows no result.
            try:
                os.ftruncate(self._fd, self._size)
                os.fsync(self._fd)
            except OSError:
                pass  # the next Trail.open recovers the torn line
            raise ConsoleError(f"cannot append to {self.path}: {exc.strerror}") from exc

    def _write_head(self) -> None:
        self._head = make_head(self._count, self._last_hash, utc_now(), self._key)
        write_head(self.incident_dir, self._head)

    def note(self, text: str, step: str = "note") -> Entry:
        """A free-text note (params {"text": text})."""
        if not text.strip():
            raise ConsoleError("a note needs some text")
        return self.append(step, "note", params={"text": text})

    def correct(self, seq: int, text: str, **changes: Any) -> Entry:
        """A correction of entry seq: a new entry (same step, action "correct") whose params
        are {"corrects": seq, "text": text, "changes": changes}; entry seq is left as it is."""
        if not 1 <= seq <= self._count:
            raise ConsoleError(
                f"cannot correct entry {seq}: the trail {self.path} holds entries 1..{self._count}"
            )
        original = next(self.entries(after=seq - 1))
        return self.append(
            original.step,
            "correct",
            params={"corrects": seq, "text": text, "changes": changes},
        )

    # -- reading -------------------------------------------------------------------------

    @property
    def count(self) -> int:
        return self._count

    def head(self) -> Head:
        """Count, hash and signature of the last entry: what exports and reports quote."""
        return self._head

    def entries(self, after: int = 0) -> Iterator[Entry]:
        """Entries with seq > after, read back from the file."""
        return read_entries(self.incident_dir, after=after, limit_bytes=self._size)

    def close(self) -> None:
        with self._mutex:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
                self._lock.release()

    def __enter__(self) -> Trail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _make_folder(folder: Path) -> None:
    if folder.is_dir():
        return
    if folder.exists():
        raise ConsoleError(f"incident folder {folder} is not a folder")
    try:
        folder.mkdir(parents=True)
    except FileExistsError:
        return
    except OSError as exc:
        raise ConsoleError(f"cannot create incident folder {folder}: {exc.strerror}") from exc
    fsync_dir(folder.parent)


def read_entries(
    incident_dir: str | os.PathLike, after: int = 0, limit_bytes: int | None = None
) -> Iterator[Entry]:
    """Entries with seq > after, in order, without verifying (use verify() for that).

    Stops before a torn last line. limit_bytes reads only that much of the file.
    """
    path = trail_path(Path(incident_dir))
    if not path.exists():
        raise ConsoleError(f"no trail at {path}")
    with open(path, "rb", buffering=1 << 20) as f:
        read = 0
        for number, line in enumerate(f, start=1):
            read += len(line)
            if not line.endswith(b"\n") or (limit_bytes is not None and read > limit_bytes):
                return
            if number > after:
                yield Entry.from_dict(json.loads(line))


class Tail:
    """Follow a trail from another reader (a UI): each poll() returns only the new entries.

    Keeps the byte offset of what it has read, so a poll reads only what was appended since.
    """

    def __init__(self, incident_dir: str | os.PathLike, after: int = 0) -> None:
        self.path = trail_path(Path(incident_dir))
        self._offset = 0
        self._skip = after

    def poll(self) -> list[Entry]:
        if not self.path.exists():
            return []
        new: list[Entry] = []
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            for line in f:
                if not line.endswith(b"\n"):
                    break  # an append in progress (or torn): read it next time
                self._offset += len(line)
                if self._skip:
                    self._skip -= 1
                    continue
                new.append(Entry.from_dict(json.loads(line)))
        return new
