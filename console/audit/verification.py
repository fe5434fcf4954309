"""Verify a trail offline: the hash chain, the MACs, the head, the files the entries point at.

    report = verify(incident_dir, head_hash=None, key=None)

streams trail.jsonl (a trail of 64 MiB or more is split into byte ranges checked by one
process per CPU, bench/bench_trail.py) and names the first bad entry and what is wrong:

- modified entry: its hash does not match its content;
- inserted, deleted or reordered entries: seq is not the line number, or prev is not the
  previous entry's hash;
- with a key: an entry without a MAC, or whose MAC does not match (forged without the key);
- head.json: more entries recorded than present (truncated), another hash at its count
  (rewritten), more than one entry beyond it (rolled back, or entries appended around it),
  not a head at all; with a key, a signature that does not match;
- a head kept elsewhere (a hash, or the line `trail head` prints): its count and hash must be
  in the trail (catches truncation and rewrites together with head.json, and rollback);
- evidence: each file an entry rests on (the latest entry naming a path) has its sha256;
- torn last line (a writer crashed mid-append): reported; Trail.open moves it aside.

One entry beyond head.json is the crash window of an append (the line is fsynced before
head.json is overwritten): it is reported in the note and kept by the next Trail.open; count
and head then describe what head.json anchors. More than one fails verification (a rolled-back
head, or entries added around it); Trail.open keeps them when they verify (a power loss can
leave head.json that far behind) and records that it did.
"""

from __future__ import annotations

import ctypes
import hashlib
import hmac
import json
import multiprocessing
import os
import signal
import stat
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import msgspec

from console.audit.entry import (
    GENESIS,
    EntryShape,
    entry_hash,
    entry_mac,
    mac_of,
    shape_problem,
)
from console.audit.head import (
    HEAD_FILE,
    BadHead,
    GivenHead,
    Head,
    parse_head,
    read_head,
    signature_ok,
)
from console.errors import ConsoleError
from console.files import file_sha256

TRAIL_FILE = "trail.jsonl"
HASH_MEMBER = b'"hash":"'
MAC_MEMBER = b'"mac":"'
# Parsing is the cost of verifying. msgspec decodes a line straight into EntryShape, testing
# its fields and their types as it goes (a third of json.loads plus shape_ok). Whatever it
# refuses (a wrong shape, NaN, a lone surrogate, an integer it cannot hold) goes to
# _check_line, which parses with json: the verdicts are json's either way.
_decode_line = msgspec.json.Decoder(EntryShape).decode


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    count: int  # entries that verified (all of them when ok; see the module docstring)
    head: str  # hash of the last entry that verified (GENESIS for an empty trail)
    first_bad_seq: int | None  # the first entry that is wrong or missing; None when ok
    problem: str  # what is wrong, "" when ok
    note: str = ""  # something an auditor should know about an intact trail

    def describe(self) -> str:
        if self.ok:
            text = f"ok: {self.count} entries, head {self.head}"
            return f"{text}; {self.note}" if self.note else text
        if self.first_bad_seq is None:
            return self.problem
        return f"entry {self.first_bad_seq}: {self.problem}"


@dataclass(frozen=True)
class Want:
    """What a scan looks for besides the chain (picklable: it goes to the worker processes)."""

    look_for: str | None = None  # a head hash given from elsewhere
    at_counts: tuple[int, ...] = ()  # counts whose hash (and end offset) is wanted
    key: bytes | None = None  # check every entry's MAC with it
    files: bool = False  # collect the evidence the entries point at


@dataclass
class Scan:
    """What one pass over trail.jsonl found (used by verify and by Trail.open)."""

    count: int = 0
    last_hash: str = GENESIS
    good_bytes: int = 0  # file offset just after the last entry that verified
    first_bad_seq: int | None = None
    problem: str = ""
    torn: bytes = b""  # trailing bytes without a newline, when that is the only problem
    found_seq: int | None = None  # seq whose hash equals the looked-for hash
    at: dict[int, tuple[str, int]] = field(default_factory=dict)  # count -> (hash, end offset)
    evidence: dict[str, tuple[int, str]] = field(default_factory=dict)  # path -> (seq, sha256)

    def hash_at(self, count: int) -> str | None:
        return GENESIS if count == 0 else self.at.get(count, (None, 0))[0]

    def kept_hash_at(self, count: int) -> str:
        """The hash of entry `count`, which the scan was asked to keep (like bytes_at)."""
        if count == self.count:
            return self.last_hash
        return GENESIS if count == 0 else self.at[count][0]

    def bytes_at(self, count: int) -> int:
        """File offset just after entry `count` (the last good one, or one looked for)."""
        if count == self.count:
            return self.good_bytes
        return 0 if count == 0 else self.at[count][1]


def trail_path(incident_dir: Path) -> Path:
    return incident_dir / TRAIL_FILE


def _line_hash(line: bytes, d: dict[str, Any]) -> str:
    """The entry's hash, recomputed; from the raw bytes when the line is canonical."""
    at = line.find(HASH_MEMBER)
    if at >= 0 and line[at + 72 : at + 74] == b'",':
        fast = hashlib.sha256(line[:at] + line[at + 74 : -1]).hexdigest()
        if fast == d["hash"]:
            return fast
    # Not written by this tool (or altered): re-encode canonically, the definition.
    return entry_hash(d)


def _mac_fast(body: bytes, at: int, mac: str | msgspec.UnsetType, key: bytes) -> bool:
    """The MAC of a canonical line, from its hashed bytes (the "mac" member follows "hash")."""
    if mac is msgspec.UNSET or body[at : at + 7] != MAC_MEMBER or body[at + 71 : at + 73] != b'",':
        return False
    return hmac.compare_digest(mac_of(key, body[:at] + body[at + 73 :]), mac)


# Trails at least this large are checked by several processes, one byte range each.
PARALLEL_BYTES = 64 << 20


def scan(path: Path, want: Want = Want()) -> Scan:
    """One pass over trail.jsonl; on a large, intact trail the pass is split over the CPUs.

    The split pass only answers "is it intact?"; when any range is not, the sequential pass
    runs to name the first bad entry exactly.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ConsoleError(f"no trail at {path}") from None
    except OSError as exc:
        raise ConsoleError(f"cannot read {path}: {exc.strerror}") from exc
    workers = min(os.cpu_count() or 1, 8)
    if size >= PARALLEL_BYTES and workers > 1:
        result = _scan_parallel(path, size, workers, want)
        if result is not None:
            return result
    result = Scan()
    try:
        with open(path, "rb", buffering=1 << 20) as f:
            _walk(f, size, 1, GENESIS, result, want)
    except OSError as exc:
        raise ConsoleError(f"cannot read {path}: {exc.strerror}") from exc
    return result


def _walk(f: BinaryIO, limit: int, expected: int, prev: str, result: Scan, want: Want) -> None:
    """Check lines from f's position until `limit` bytes are read or a line is bad.

    expected is the seq of the first line and prev the hash before it. Fills result: count
    (the last good seq), last_hash, good_bytes (read so far) and the first problem.
    """
    sha256 = hashlib.sha256
    decode = _decode_line
    key, look_for, at_counts = want.key, want.look_for, want.at_counts
    evidence = result.evidence if want.files else None
    count = expected - 1
    offset = 0
    for line in f:
        # The common case inlined (a 1M-entry trail is 1M passes): a canonical, well-formed
        # line in its place. Anything else goes to _check_line.
        expected = count + 1
        e = None
        if line.endswith(b"\n"):
            try:
                e = decode(line)
            except (msgspec.DecodeError, RecursionError):  # a wrong shape included
                e = None
        at = line.find(HASH_MEMBER)
        if (
            e is not None
            and e.seq == expected
            and e.prev == prev
            and sha256(body := line[:at] + line[at + 74 : -1]).hexdigest() == e.hash
            and (key is None or _mac_fast(body, at, e.mac, key))
        ):
            prev = e.hash
            if evidence is not None:
                for ev in e.evidence:
                    evidence[ev.path] = (expected, ev.sha256)
        else:
            if not line.endswith(b"\n"):
                result.torn = line
                result.first_bad_seq = expected
                result.problem = (
                    f"torn last line: {len(line)} bytes without a newline after entry "
                    f"{count} (a writer stopped mid-append; the entry was never "
                    "acknowledged). Opening the incident for writing moves it aside."
                )
                break
            d, problem = _check_line(line, expected, prev, key)
            if problem:
                result.first_bad_seq = expected
                result.problem = problem
                break
            prev = d["hash"]
            if evidence is not None:
                for ev in d["evidence"]:
                    evidence[ev["path"]] = (expected, ev["sha256"])
        count = expected
        offset += len(line)
        if prev == look_for:
            result.found_seq = expected
        if expected in at_counts:
            result.at[expected] = (prev, offset)
        if offset >= limit:
            break
    result.count = count
    result.last_hash = prev
    result.good_bytes = offset


def _scan_range(path: Path, start: int, end: int, want: Want) -> tuple[int, str, Scan] | None:
    """Check the lines starting in [start, end), chained from their first line's seq/prev.

    Returns (first seq, first prev, scan), or None when the first line is not an entry.
    """
    with open(path, "rb", buffering=1 << 20) as f:
        f.seek(start)
        first = f.readline()
        try:
            d = json.loads(first)
            seq, prev = d["seq"], d["prev"]
        except (ValueError, TypeError, KeyError, RecursionError):
            return None
        if type(seq) is not int or type(prev) is not str:
            return None
        f.seek(start)
        result = Scan()
        _walk(f, end - start, seq, prev, result, want)
        return seq, prev, result


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent(parent: int) -> None:
    """Worker initializer: a verify that is killed, even by SIGKILL, takes its workers along.

    On Linux the kernel sends SIGKILL when the parent dies; elsewhere (and for a parent that
    died before prctl took effect) a thread notices the worker was orphaned.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _scan_parallel(path: Path, size: int, workers: int, want: Want) -> Scan | None:
    """The scan of an intact trail, split over processes; None when anything is off."""
    bounds = [0]
    with open(path, "rb") as f:
        for i in range(1, workers):
            f.seek(size * i // workers)
            f.readline()  # ranges start at line starts
            bounds.append(max(f.tell(), bounds[-1]))
    bounds.append(size)
    ranges = [(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]
    # spawn, not fork: verify may run in a UI worker thread.
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(
            len(ranges),
            mp_context=context,
            initializer=_die_with_parent,
            initargs=(os.getpid(),),
        ) as pool:
            parts = list(
                pool.map(
                    _scan_range,
                    [path] * len(ranges),
                    [a for a, _ in ranges],
                    [b for _, b in ranges],
                    [want] * len(ranges),
                )
            )
    except (OSError, BrokenProcessPool):
        return None
    total = Scan()
    for (start, end), part in zip(ranges, parts, strict=True):
        if part is None:
            return None
        seq, prev, s = part
        if s.problem or seq != total.count + 1 or prev != total.last_hash:
            return None
        if s.good_bytes != end - start:
            return None
        total.count, total.last_hash = s.count, s.last_hash
        total.good_bytes += s.good_bytes
        total.found_seq = s.found_seq or total.found_seq
        total.at.update({n: (h, start + b) for n, (h, b) in s.at.items()})
        total.evidence.update(s.evidence)  # ranges in order: the latest entry wins
    return total


def _check_line(
    line: bytes, expected: int, prev: str, key: bytes | None
) -> tuple[dict[str, Any], str]:
    """(the entry, "") for a good line at position `expected`, else ({}, problem)."""
    try:
        d = json.loads(line)
    except ValueError:  # UnicodeDecodeError included
        return {}, "is not valid JSON"
    except RecursionError:
        return {}, "is not valid JSON for a trail: nested too deep to parse"
    problem = shape_problem(d)
    if problem is not None:
        return {}, problem
    if _line_hash(line, d) != d["hash"]:
        return (
            {},
            f"modified: the hash does not match the content (seq {d['seq']}, {d['step']}/{d['action']})",
        )
    seq = d["seq"]
    if seq != expected:
        if seq > expected:
            what = (
                f"entries {expected}..{seq - 1} were deleted"
                if seq > expected + 1
                else f"entry {expected} was deleted"
            )
            return (
                {},
                f"seq {seq} found where seq {expected} belongs: {what} or entries were reordered",
            )
        return (
            {},
            f"seq {seq} found where seq {expected} belongs: an entry was inserted or entries were reordered",
        )
    if d["prev"] != prev:
        return {}, (
            f"prev does not match the hash of entry {expected - 1}: an entry before it was "
            "inserted, deleted, reordered or rewritten"
        )
    if key is not None:
        if "mac" not in d:
            return {}, (
                f"has no MAC ({d['step']}/{d['action']}): it was not written with the HMAC key "
                "(forged, or written by a session without the key)"
            )
        if not hmac.compare_digest(entry_mac(key, d), d["mac"]):
            return {}, (
                f"its MAC does not match the key ({d['step']}/{d['action']}): the entry was "
                "forged or altered without the key, or the key is wrong"
            )
    return d, ""


def verify(
    incident_dir: str | Path, head_hash: str | GivenHead | None = None, key: bytes | None = None
) -> VerifyReport:
    """Verify the trail of an incident folder; see the module docstring for what is checked.

    head_hash: a head kept elsewhere: a bare hash (some entry must have it), a `trail head`
    line or a GivenHead (entry `count` must have `hash`).
    key: the HMAC key; every entry's MAC and head.json's signature are then checked.
    Raises ConsoleError only when the folder or its files cannot be read.
    """
    return check(Path(incident_dir), head_hash, key, files=True)[0]


def check(
    folder: Path,
    head_hash: str | GivenHead | None = None,
    key: bytes | None = None,
    files: bool = False,
    lagging_head: bool = False,
) -> tuple[VerifyReport, Scan]:
    """verify() and the scan behind it (Trail.open needs the torn bytes and offsets).

    files: also check the evidence files the entries point at (verify does; opening for
    writing and exporting check the trail alone).
    lagging_head: any number of verified entries past head.json is no problem (Trail.open
    keeps them, and records that it did); verify accepts one.
    """
    given = parse_head(head_hash) if isinstance(head_hash, str) else head_hash
    try:
        head, head_problem = read_head(folder), ""
    except BadHead as exc:
        head, head_problem = None, str(exc)
    path = trail_path(folder)
    if not path.exists() and (head is not None or head_problem):
        recorded = f"which records {head.count} entries" if head else "which is not valid"
        problem = f"{path} is missing beside {folder / HEAD_FILE} ({recorded}): the trail was deleted or moved"
        return VerifyReport(False, 0, GENESIS, 1, problem), Scan()
    counts = {c for c in (head and head.count, given and given.count) if c}
    s = scan(path, Want(given.hash if given else None, tuple(counts), key, files))

    def bad(seq: int | None, problem: str) -> tuple[VerifyReport, Scan]:
        return VerifyReport(False, s.count, s.last_hash, seq, problem), s

    if s.problem and not s.torn:
        return bad(s.first_bad_seq, s.problem)
    if head_problem:
        return bad(None, head_problem)
    count, last, note = s.count, s.last_hash, ""
    if head is not None:
        seq, problem = _head_json_problem(head, s, lagging_head)
        if problem:
            return bad(seq, problem)
        if s.count > head.count:
            beyond = (
                f"entry {s.count} is"
                if s.count == head.count + 1
                else (f"entries {head.count + 1}..{s.count} are")
            )
            note = (
                f"{beyond} not counted by head.json: the writer stopped between an entry and "
                "head.json (or a power loss kept head.json's last write from the disk); "
                "opening the incident for writing keeps what verifies and records it"
            )
            count, last = head.count, head.hash
    if key is not None:
        problem = _signature_problem(head, key)
        if problem:
            return bad(head.count if head else s.count, problem)
    if given is not None:
        seq, problem = _given_problem(given, s, key)
        if problem:
            return bad(seq, problem)
    if s.torn:
        return bad(s.first_bad_seq, s.problem)
    if files:
        seq, problem = _evidence_problem(folder, s.evidence)
        if problem:
            return bad(seq, problem)
    return VerifyReport(True, count, last, None, "", note), s


def _head_json_problem(head: Head, s: Scan, lagging_head: bool) -> tuple[int | None, str]:
    if head.count > s.count:
        missing = s.count + 1 if head.count == s.count + 1 else f"{s.count + 1}..{head.count}"
        return s.count + 1, (
            f"truncated: head.json records {head.count} entries (head {head.hash}) but the "
            f"trail holds {s.count}; entries {missing} are missing"
        )
    if s.hash_at(head.count) != head.hash:
        return head.count, (
            f"head.json records hash {head.hash} for entry {head.count} but the entry's "
            f"hash is {s.hash_at(head.count)}: the trail was rewritten"
        )
    if s.count > head.count + 1 and not lagging_head:
        return head.count + 1, (
            f"head.json records {head.count} entries but the trail holds {s.count}: entries "
            f"{head.count + 1}..{s.count} are beyond it (head.json was rolled back, entries "
            "were appended without the console, or a power loss kept head.json's last writes "
            "from the disk: opening the incident for writing keeps them, and records that)"
        )
    return None, ""


def _given_problem(given: GivenHead, s: Scan, key: bytes | None) -> tuple[int | None, str]:
    """What is wrong with the trail against a head kept elsewhere."""
    if given.count is None:
        if given.hash != GENESIS and s.found_seq is None:
            return s.count + 1, (
                f"truncated or rewritten: no entry has the head hash {given.hash} "
                f"(the trail holds {s.count} entries, last hash {s.last_hash})"
            )
        return None, ""
    if key is not None and given.signature is not None:
        as_head = Head(given.count, given.hash, given.signature, given.updated_at)
        if not signature_ok(as_head, key):
            return None, "the given head's signature does not match the key: it is not this trail's"
    if given.count > s.count:
        return s.count + 1, (
            f"truncated: the given head records {given.count} entries (hash {given.hash}) but "
            f"the trail holds {s.count}; entries {s.count + 1}..{given.count} are missing"
        )
    if s.hash_at(given.count) != given.hash:
        return given.count, (
            f"rewritten: the given head records hash {given.hash} for entry {given.count} but "
            f"the trail's entry {given.count} has hash {s.hash_at(given.count)}"
        )
    return None, ""


def _evidence_problem(folder: Path, evidence: dict[str, tuple[int, str]]) -> tuple[int | None, str]:
    """The first entry whose evidence file is missing or changed.

    A path named by several entries (report.md, rewritten by each report) is checked against
    the latest of them: the earlier ones recorded versions a later action replaced.
    """
    for path, (seq, recorded) in sorted(evidence.items(), key=lambda item: item[1][0]):
        target = Path(path) if Path(path).is_absolute() else folder / path
        try:
            # A path a tampered entry names could be a device or a pipe: never read those.
            if not stat.S_ISREG(os.stat(target).st_mode):
                return seq, f"evidence {path} is not a regular file"
            found = file_sha256(target)
        except FileNotFoundError:
            return seq, f"evidence {path} is missing (the entry records sha256 {recorded})"
        except OSError as exc:
            raise ConsoleError(f"cannot read evidence {target}: {exc.strerror}") from exc
        if found != recorded:
            return seq, (
                f"evidence {path} was changed: its sha256 is {found}, the entry records {recorded}"
            )
    return None, ""


def _signature_problem(head: Head | None, key: bytes) -> str:
    if head is None:
        return "bad signature: a key was given but there is no head.json to check"
    if not head.signature:
        return "bad signature: a key was given but head.json is not signed"
    if not signature_ok(head, key):
        return "bad signature: head.json's signature does not match the key (wrong key, or the head was altered)"
    return ""


def verified_head(
    incident_dir: str | Path, key: bytes | None = None
) -> tuple[Head | None, VerifyReport]:
    """The head of the verified trail (with head.json's time and signature when head.json
    anchors it), to keep outside the folder; None when the trail fails verification."""
    folder = Path(incident_dir)
    report, _ = check(folder, key=key)
    if not report.ok:
        return None, report
    stored = read_head(folder)
    if stored is not None and stored.count == report.count:
        return Head(report.count, report.head, stored.signature, stored.updated_at), report
    return Head(report.count, report.head), report
