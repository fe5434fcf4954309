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
created, the folder too) and head.json is overwritten to count it (in place, not fsynced:
head.HeadWriter): show a result to the user only after it returns.

append() is all-or-nothing for its caller. When the line or head.json cannot be written the
line is cut back off and append raises; if even that fails, the session stops writing, leaves
trail.uncut naming the entry, and the next open moves that entry aside.

Opening an existing trail verifies it first. A torn last line (a writer died mid-append) is
copied to trail.torn-<time>.jsonl before the file is cut back. Whole entries past head.json
that verify (chain, and MAC with a key) are kept: each is fsynced, so it is durable, and
head.json lags only when the writer died between the two writes or a power loss kept
head.json's last writes from the disk. Either way a ("session", "recovered") entry records what
was moved and kept. Any other verification failure raises ConsoleError naming the first bad
entry: a tampered trail is never resumed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from console.audit.entry import (
    ACTION_MEMBER,
    GENESIS,
    Entry,
    Evidence,
    canonical,
    default_actor,
    entry_mac,
    to_evidence,
    to_json_object,
    utc_now,
)
from console.audit.head import HEAD_FILE, Head, HeadWriter, load_key, make_head, read_head
from console.audit.lock import TrailLock
from console.audit.verification import Scan, check, trail_path
from console.audit.vocabulary import Action, Step
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
        self._path_text = os.fspath(self.path)  # stat()ed on every append: parsed once
        self.actor = actor
        self.session = session
        self._key = key
        self._lock = lock
        self._fd = fd
        self._count = count
        self._last_hash = last_hash
        self._size = size
        self._head = Head(count, last_hash)
        self._heads = HeadWriter(folder)
        self._broken = ""  # why this session stopped writing, when it did
        # The ("session", "recovered") entry when opening moved a torn last line aside.
        self.recovered: Entry | None = None
        self._mutex = threading.Lock()  # UI workers append from threads

    @classmethod
    def open(
        cls,
        incident_dir: str | os.PathLike[str],
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
            trail = cls(folder, actor, session, key, lock, fd, 0, GENESIS, 0)
            unfinished = None
        else:
            report, s = check(folder, key=key, lagging_head=True)
            if not report.ok and not (s.torn and report.problem == s.problem):
                raise ConsoleError(
                    f"the trail {path} fails verification and will not be resumed: "
                    f"{report.describe()}. Run `incident-console trail verify {folder}`."
                )
            unfinished = _unfinished(folder, s)
            count = unfinished.last_good_seq if unfinished else s.count
            last_hash = s.kept_hash_at(count) if unfinished else s.last_hash
            size = unfinished.keep_bytes if unfinished else s.good_bytes
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            trail = cls(folder, actor, session, key, lock, fd, count, last_hash, size)
        try:
            if unfinished:
                trail._recover(unfinished)
            else:
                trail._write_head()
            uncut_path(folder).unlink(missing_ok=True)  # its entry, if any, was moved aside
        except BaseException:
            trail._heads.close()
            os.close(fd)
            raise
        return trail

    def _recover(self, unfinished: Unfinished) -> None:
        """Move a torn line (and an entry reported failed) aside, cut the file back, keep the
        verified entries past a lagging head.json, record what happened."""
        side_name: str | None = None
        digest: str | None = None
        evidence: list[Evidence | dict[str, str]] = []
        if unfinished.moved:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            side = self.incident_dir / f"trail.torn-{stamp}.jsonl"
            # The side file is durable before the trail is cut, so the bytes are never lost.
            atomic_write(side, unfinished.moved)
            _truncate(self._fd, self._size)
            os.fsync(self._fd)
            side_name, digest = side.name, hashlib.sha256(unfinished.moved).hexdigest()
            evidence = [Evidence(side.name, digest)]
        self.recovered = self.append(
            Step.SESSION,
            Action.RECOVERED,
            params={"reason": unfinished.reason()},
            result={
                "moved_bytes": len(unfinished.moved),
                "torn_bytes": unfinished.torn_bytes,
                "unacknowledged_seq": unfinished.unacknowledged_seq,
                "kept_beyond_head": unfinished.kept,
                "side_file": side_name,
                "side_file_sha256": digest,
                "truncated_to_bytes": self._size,
                "last_good_seq": self._count,
            },
            evidence=evidence,
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
        """Append one entry; returns it once it is durably on disk (written and fsynced) and
        counted by head.json. When it raises, the entry is not in the trail."""
        if not step or not action:
            raise ValueError("trail entries need a step and an action")
        params_ = to_json_object(params, "params")
        result_ = to_json_object(result, "result")
        evidence_ = to_evidence(evidence)
        with self._mutex:
            self._check_writable()
            now = utc_now()
            fields: dict[str, Any] = {
                "action": action,
                "actor": self.actor,
                "evidence": [ev.to_dict() for ev in evidence_],
                "params": params_,
                "prev": self._last_hash,
                "result": result_,
                "seq": self._count + 1,
                "session": self.session,
                "step": step,
                "ts": now,
            }
            if self._key:
                fields["mac"] = entry_mac(self._key, fields)
            body = canonical(fields)
            digest = hashlib.sha256(body).hexdigest()
            fields["hash"] = digest
            line = _with_hash(body, digest, bool(self._key))
            self._write_line(line)
            # head.json's time is the entry's: one clock read per append.
            head = make_head(self._count + 1, digest, now, self._key)
            try:
                self._heads.write(head)
            except ConsoleError as exc:  # names the file
                self._take_back(exc)
            self._count += 1
            self._last_hash = digest
            self._size += len(line)
            self._head = head
            return Entry.from_dict(fields)

    def _check_writable(self) -> None:
        if self._fd < 0:
            raise ConsoleError(f"the trail {self.path} is closed")
        if self._broken:
            raise ConsoleError(self._broken)
        try:
            same_file = _ident(os.stat(self._path_text)) == _ident(os.fstat(self._fd))
        except FileNotFoundError:
            same_file = False
        if not (self._lock.still_here() and same_file):
            self._broken = (
                f"the incident folder {self.incident_dir} (or its trail.jsonl) was moved or "
                "replaced while this session had it open for writing: this session stops "
                "writing, nothing more was appended; open the incident again"
            )
            raise ConsoleError(self._broken)

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
                _truncate(self._fd, self._size)
                os.fsync(self._fd)
            except OSError:
                self._broken = (
                    f"an append to {self.path} failed and could not be cut back: this session "
                    "stops writing; the next open moves the partial line aside"
                )
                self._leave_uncut()
            raise ConsoleError(f"cannot append to {self.path}: {exc.strerror}") from exc

    def _take_back(self, exc: ConsoleError) -> None:
        """head.json could not be written: cut the line back off, so the failed append left
        nothing; raises ConsoleError either way."""
        try:
            _truncate(self._fd, self._size)
            os.fsync(self._fd)
        except OSError as again:
            self._broken = (
                f"cannot append to {self.path}: head.json could not be written ({exc}) and "
                f"the entry could not be taken back ({again.strerror}); it is not part of the "
                "trail: the next open moves it aside. This session stops writing."
            )
            self._leave_uncut()
            raise ConsoleError(self._broken) from exc
        raise ConsoleError(
            f"cannot append to {self.path}: head.json could not be written ({exc}); "
            "the entry was taken back, nothing was recorded"
        ) from exc

    def _leave_uncut(self) -> None:
        """Name the entry that failed but stayed in the file, so the next open moves it aside
        instead of keeping it as an entry past a lagging head (best effort: the disk is
        failing)."""
        with contextlib.suppress(OSError, ConsoleError):
            atomic_write(uncut_path(self.incident_dir), f"{self._count + 1}\n")

    def _write_head(self) -> None:
        self._head = make_head(self._count, self._last_hash, utc_now(), self._key)
        self._heads.write(self._head)

    def note(self, text: str, step: str = Step.NOTE) -> Entry:
        """A free-text note (params {"text": text})."""
        if not text.strip():
            raise ConsoleError("a note needs some text")
        return self.append(step, Action.NOTE, params={"text": text})

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
            Action.CORRECT,
            params={"corrects": seq, "text": text, "changes": changes},
        )

    # -- reading -------------------------------------------------------------------------

    @property
    def count(self) -> int:
        return self._count

    def head(self) -> Head:
        """Count, hash and signature of the last entry: what exports and reports quote."""
        return self._head

    def latest_entries(self, steps: Collection[str]) -> list[tuple[Entry, int]]:
        """read_latest() of this trail: the latest entry of each kind, with its kind's first seq."""
        return read_latest(self.incident_dir, steps, limit_bytes=self._size)

    def entries(self, after: int = 0, steps: Collection[str] | None = None) -> Iterator[Entry]:
        """Entries with seq > after (of those steps only, when given), read back from the file."""
        return read_entries(self.incident_dir, after=after, limit_bytes=self._size, steps=steps)

    def close(self) -> None:
        with self._mutex:
            if self._fd >= 0:
                self._heads.close()
                os.close(self._fd)
                self._fd = -1
                self._lock.release()

    def __enter__(self) -> Trail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def uncut_path(folder: Path) -> Path:
    """trail.uncut: the seq of an append that failed and could not be cut back."""
    return folder / "trail.uncut"


@dataclass(frozen=True)
class Unfinished:
    """What Trail.open finds after the entries head.json anchors."""

    last_good_seq: int  # the last entry kept
    keep_bytes: int  # the file is cut back to this size
    moved: bytes  # the bytes moved aside
    torn_bytes: int  # of which a last line without a newline
    unacknowledged_seq: int | None  # a whole entry moved aside: its append reported failure
    kept: list[int] | None  # [first, last] seq of the verified entries past head.json, kept

    def reason(self) -> str:
        parts = []
        if self.torn_bytes:
            parts.append("a torn last line after a crash was moved aside")
        if self.unacknowledged_seq is not None:
            parts.append(
                f"entry {self.unacknowledged_seq} was moved aside: its append was reported "
                "failed and could not be cut back"
            )
        if self.kept:
            first, last = self.kept
            which = f"entry {first} was" if first == last else f"entries {first}..{last} were"
            parts.append(
                f"{which} past head.json, verified and kept (head.json lagged: the "
                "writer stopped between an entry and head.json, or a power loss kept "
                "head.json's last writes from the disk)"
            )
        return "; ".join(parts)


def _unfinished(folder: Path, s: Scan) -> Unfinished | None:
    """The torn bytes, the entry trail.uncut names, the entries past head.json, if any."""
    head = read_head(folder)
    anchored = head.count if head is not None else s.count
    try:
        uncut = int(uncut_path(folder).read_text(encoding="ascii"))
    except (OSError, ValueError):
        uncut = None
    # The failed append is the one right after the last entry head.json anchors.
    failed = uncut if uncut == anchored + 1 and uncut <= s.count else None
    keep = failed - 1 if failed is not None else s.count
    if not s.torn and keep == s.count and anchored == s.count:
        return None
    keep_bytes = s.bytes_at(keep)
    with open(trail_path(folder), "rb") as f:
        f.seek(keep_bytes)
        moved = f.read(s.good_bytes - keep_bytes) + s.torn
    kept = [anchored + 1, keep] if keep > anchored else None
    return Unfinished(keep, keep_bytes, moved, len(s.torn), failed, kept)


def _with_hash(body: bytes, digest: str, keyed: bool) -> bytes:
    """The line of an entry: its canonical bytes without "hash" (`body`, what was hashed) with
    the "hash" member put in its sorted place, so the entry is encoded once.

    "hash" sorts right after "evidence", before "mac" (keyed) or "params"; no earlier member
    can hold `,"mac":"` or `,"params":{` (a quote inside a string is escaped), so the first
    one found is the member itself (docs/trail.md, canonical encoding).
    """
    at = body.find(b',"mac":"' if keyed else b',"params":{') + 1
    return body[:at] + b'"hash":"' + digest.encode("ascii") + b'",' + body[at:] + b"\n"


def _truncate(fd: int, size: int) -> None:
    # One place to cut the trail back (tests make it fail, as a dying disk would).
    os.ftruncate(fd, size)


def _ident(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


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
    incident_dir: str | os.PathLike[str],
    after: int = 0,
    limit_bytes: int | None = None,
    steps: Collection[str] | None = None,
) -> Iterator[Entry]:
    """Entries with seq > after, in order, without verifying (use verify() for that).

    Stops before a torn last line. limit_bytes reads only that much of the file. steps: only
    entries of these steps; a canonical line names its step at a fixed place, so the other
    lines are skipped unparsed (a resume reads a 1M-entry trail without building 1M entries).
    """
    path = trail_path(Path(incident_dir))
    if not path.exists():
        raise ConsoleError(f"no trail at {path}")
    wanted = None if steps is None else frozenset(s.encode("utf-8") for s in steps)
    with open(path, "rb", buffering=1 << 20) as f:
        read = 0
        for number, line in enumerate(f, start=1):
            read += len(line)
            if not line.endswith(b"\n") or (limit_bytes is not None and read > limit_bytes):
                return
            if number <= after:
                continue
            if wanted is not None and _step_of(line) not in (None, *wanted):
                continue
            entry = Entry.from_dict(json.loads(line))
            if steps is None or entry.step in steps:
                yield entry


def read_latest(
    incident_dir: str | os.PathLike[str],
    steps: Collection[str],
    limit_bytes: int | None = None,
) -> list[tuple[Entry, int]]:
    """The latest entry of each kind among the entries of `steps`, in trail order, each with
    the seq of the first entry of its kind.

    An entry's kind is its step, its action and, when its params begin with an "edge", that
    edge: each step's latest result, failure and decision and each edge's latest intervention
    and mark are latest entries of their kind. The kind of a canonical line is read from its
    bytes, so only one line per kind is parsed and kept: a 1M-entry trail is read in memory
    that does not grow with it. A line laid out otherwise is parsed to find its kind.
    """
    path = trail_path(Path(incident_dir))
    if not path.exists():
        raise ConsoleError(f"no trail at {path}")
    wanted = frozenset(s.encode("utf-8") for s in steps)
    latest: dict[tuple[bytes, bytes, bytes], tuple[int, bytes | Entry]] = {}
    first: dict[tuple[bytes, bytes, bytes], int] = {}
    with open(path, "rb", buffering=1 << 20) as f:
        read = 0
        for seq, line in enumerate(f, start=1):
            read += len(line)
            if not line.endswith(b"\n") or (limit_bytes is not None and read > limit_bytes):
                break
            step = _step_of(line)
            if step is not None and step not in wanted:
                continue  # the common case, decided without looking further
            kind = _kind_of(line, step)
            found: bytes | Entry = line
            if kind is None:
                found = Entry.from_dict(json.loads(line))
                kind = _entry_kind(found)
            if kind[0] not in wanted:
                continue
            latest[kind] = (seq, found)
            first.setdefault(kind, seq)
    out = []
    for kind, (_, found) in sorted(latest.items(), key=lambda item: item[1][0]):
        entry = found if isinstance(found, Entry) else Entry.from_dict(json.loads(found))
        out.append((entry, first[kind]))
    return out


EDGE_PARAMS = b'"params":{"edge":'


def _kind_of(line: bytes, step: bytes | None) -> tuple[bytes, bytes, bytes] | None:
    """(step, action, edge) of a canonical line (step: _step_of(line)) from its bytes; None
    when it is not laid out so, or a name holds an escape (then the line is parsed)."""
    if step is None or not line.startswith(ACTION_MEMBER):
        return None
    action = line[len(ACTION_MEMBER) : line.find(b'"', len(ACTION_MEMBER))]
    edge = b""
    at = line.find(EDGE_PARAMS)
    if at >= 0:
        start = at + len(EDGE_PARAMS)
        # A list of node names up to its "]", or one string up to its closing quote.
        close = {b"[": b"]", b'"': b'"'}.get(line[start : start + 1])
        end = line.find(close, start + 1) + 1 if close else 0
        edge = line[start:end]
        # Cut inside a name (a "]" in it) leaves an odd number of quotes: parse such a line.
        if not end or edge.count(b'"') % 2:
            return None
    if b"\\" in step or b"\\" in action or b"\\" in edge:
        return None
    return step, action, edge


def _entry_kind(entry: Entry) -> tuple[bytes, bytes, bytes]:
    params = entry.params
    edge = canonical(params["edge"]) if params and min(params) == "edge" else b""
    return entry.step.encode("utf-8"), entry.action.encode("utf-8"), edge


STEP_MEMBER = b'"step":"'
TS_TAIL = len(b'","ts":"2026-11-22T22:10:01.123456Z"}\n')


def _step_of(line: bytes) -> bytes | None:
    """The step of a canonical line (its last members are "step" then "ts"), read from the
    bytes; None when the line is not laid out so (it is then parsed)."""
    i = line.rfind(STEP_MEMBER)
    j = line.find(b'","ts":"', i + len(STEP_MEMBER))
    if i < 0 or j < 0 or len(line) - j != TS_TAIL:
        return None
    return line[i + len(STEP_MEMBER) : j]


class Tail:
    """Follow a trail from another reader (a UI): each poll() returns only the new entries.

    Keeps the byte offset of what it has read, so a poll reads only what was appended since,
    and returns only entries head.json counts (an append is acknowledged once it does; a
    failed one may still be cut back off).
    """

    def __init__(self, incident_dir: str | os.PathLike[str], after: int = 0) -> None:
        self.incident_dir = Path(incident_dir)
        self.path = trail_path(self.incident_dir)
        self._offset = 0
        self._seen = 0  # lines read so far
        self._skip = after

    def poll(self) -> list[Entry]:
        if not self.path.exists():
            return []
        head = read_head(self.incident_dir)
        if head is None or head.count <= self._seen:
            return []
        new: list[Entry] = []
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            for line in f:
                if not line.endswith(b"\n"):
                    break  # an append in progress (or torn): read it next time
                self._offset += len(line)
                self._seen += 1
                if self._seen > self._skip:
                    new.append(Entry.from_dict(json.loads(line)))
                if self._seen >= head.count:
                    break
        return new
