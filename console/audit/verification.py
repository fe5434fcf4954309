"""Verify a trail offline: the hash chain, the head, the signature.

    report = verify(incident_dir, head_hash=None, key=None)

streams trail.jsonl (a trail of 64 MiB or more is split into byte ranges checked by one
process per CPU; a 1M-entry trail verifies in about 4 s on 2 cores, bench/bench_trail.py) and
names the first bad entry and what is wrong with it:

- modified entry: its hash does not match its content;
- inserted, deleted or reordered entries: seq is not the line number, or prev is not the
  previous entry's hash;
- truncated: head.json records more entries than the file holds, or the head hash given
  (from an export or a report) is no entry's hash;
- torn last line (a writer crashed mid-append): reported; Trail.open moves it aside;
- bad signature: with a key, head.json must carry a valid HMAC of its count, hash, time.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from console.audit.entry import GENESIS, entry_hash, shape_ok, shape_problem
from console.audit.head import Head, read_head, signature_ok
from console.errors import ConsoleError

TRAIL_FILE = "trail.jsonl"
HASH_MEMBER = b'"hash":"'
# The C scanner behind json.loads, called directly: no per-line encoding detection.
_scan_once = json.JSONDecoder().scan_once


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    count: int  # entries that verified (all of them when ok)
    head: str  # hash of the last entry that verified (GENESIS for an empty trail)
    first_bad_seq: int | None  # the first entry that is wrong or missing; None when ok
    problem: str  # what is wrong, "" when ok

    def describe(self) -> str:
        if self.ok:
            return f"ok: {self.count} entries, head {self.head}"
        return f"entry {self.first_bad_seq}: {self.problem}"


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
    hash_at_count: str | None = None  # hash of entry number `at_count`


def trail_path(incident_dir: Path) -> Path:
    return incident_dir / TRAIL_FILE


def _line_hash(line: bytes, d: dict) -> str:
    """The entry's hash, recomputed; from the raw bytes when the line is canonical."""
    at = line.find(HASH_MEMBER)
    if at >= 0 and line[at + 72 : at + 74] == b'",':
        fast = hashlib.sha256(line[:at] + line[at + 74 : -1]).hexdigest()
        if fast == d["hash"]:
            return fast
    # Not written by this tool (or altered): re-encode canonically, the definition.
    return entry_hash(d)


# Trails at least this large are checked by several processes, one byte range each.
PARALLEL_BYTES = 64 << 20


def scan(path: Path, look_for: str | None = None, at_count: int | None = None) -> Scan:
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
        result = _scan_parallel(path, size, workers, look_for, at_count)
        if result is not None:
            return result
    result = Scan()
    try:
        with open(path, "rb", buffering=1 << 20) as f:
            _walk(f, size, 1, GENESIS, result, look_for, at_count)
    except OSError as exc:
        raise ConsoleError(f"cannot read {path}: {exc.strerror}") from exc
    if at_count == 0:
        result.hash_at_count = GENESIS
    return result


def _walk(
    f: BinaryIO,
    limit: int,
    expected: int,
    prev: str,
    result: Scan,
    look_for: str | None,
    at_count: int | None,
) -> None:
    """Check lines from f's position until `limit` bytes are read or a line is bad.

    expected is the seq of the first line and prev the hash before it. Fills result: count
    (the last good seq), last_hash, good_bytes (read so far) and the first problem.
    """
    sha256 = hashlib.sha256
    count = expected - 1
    offset = 0
    for line in f:
        # The common case inlined (a 1M-entry trail is 1M passes): a canonical, well-formed
        # line in its place. Anything else goes to _check_line.
        expected = count + 1
        d = None
        if line.endswith(b"\n"):
            try:
                text = line.decode("utf-8")
                d, end = _scan_once(text, 0)
            except (UnicodeDecodeError, ValueError, StopIteration):
                d = None
        at = line.find(HASH_MEMBER)
        if (
            d is not None
            and end == len(text) - 1
            and shape_ok(d)
            and d["seq"] == expected
            and d["prev"] == prev
            and sha256(line[:at] + line[at + 74 : -1]).hexdigest() == d["hash"]
        ):
            prev = d["hash"]
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
            entry_hash_, problem = _check_line(line, expected, prev)
            if problem:
                result.first_bad_seq = expected
                result.problem = problem
                break
            prev = entry_hash_
        count = expected
        offset += len(line)
        if prev == look_for:
            result.found_seq = expected
        if at_count == expected:
            result.hash_at_count = prev
        if offset >= limit:
            break
    result.count = count
    result.last_hash = prev
    result.good_bytes = offset


def _scan_range(
    path: Path, start: int, end: int, look_for: str | None, at_count: int | None
) -> tuple[int, str, Scan] | None:
    """Check the lines starting in [start, end), chained from their first line's seq/prev.

    Returns (first seq, first prev, scan), or None when the first line is not an entry.
    """
    with open(path, "rb", buffering=1 << 20) as f:
        f.seek(start)
        first = f.readline()
        try:
            d = json.loads(first)
            seq, prev = d["seq"], d["prev"]
        except (ValueError, TypeError, KeyError):
            return None
        if type(seq) is not int or type(prev) is not str:
            return None
        f.seek(start)
        result = Scan()
        _walk(f, end - start, seq, prev, result, look_for, at_count)
        return seq, prev, result


def _scan_parallel(
    path: Path, size: int, workers: int, look_for: str | None, at_count: int | None
) -> Scan | None:
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
        with ProcessPoolExecutor(len(ranges), mp_context=context) as pool:
            parts = list(
                pool.map(
                    _scan_range,
                    [path] * len(ranges),
                    [a for a, _ in ranges],
                    [b for _, b in ranges],
                    [look_for] * len(ranges),
                    [at_count] * len(ranges),
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
        total.hash_at_count = s.hash_at_count or total.hash_at_count
    if at_count == 0:
        total.hash_at_count = GENESIS
    return total


def _check_line(line: bytes, expected: int, prev: str) -> tuple[str, str]:
    """(the entry's hash, "") for a good line at position `expected`, else ("", problem)."""
    try:
        d = json.loads(line)
    except ValueError:  # UnicodeDecodeError included
        return "", "is not valid JSON"
    if not shape_ok(d):
        return "", shape_problem(d)
    if _line_hash(line, d) != d["hash"]:
        return (
            "",
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
                "",
                f"seq {seq} found where seq {expected} belongs: {what} or entries were reordered",
            )
        return (
            "",
            f"seq {seq} found where seq {expected} belongs: an entry was inserted or entries were reordered",
        )
    if d["prev"] != prev:
        return "", (
            f"prev does not match the hash of entry {expected - 1}: an entry before it was "
            "inserted, deleted, reordered or rewritten"
        )
    return d["hash"], ""


def verify(
    incident_dir: str | Path, head_hash: str | None = None, key: bytes | None = None
) -> VerifyReport:
    """Verify the trail of an incident folder; see the module docstring for what is checked.

    head_hash: a head saved elsewhere (an export, a report); the trail must contain it.
    key: the HMAC key; head.json must then be signed with it.
    Raises ConsoleError only when the folder or its files cannot be read.
    """
    return check(Path(incident_dir), head_hash, key)[0]


def check(
    folder: Path, head_hash: str | None = None, key: bytes | None = None
) -> tuple[VerifyReport, Scan]:
    """verify() and the scan behind it (Trail.open needs the torn bytes and offsets)."""
    head = read_head(folder)
    s = scan(trail_path(folder), look_for=head_hash, at_count=head.count if head else None)

    def bad(seq: int, problem: str) -> tuple[VerifyReport, Scan]:
        return VerifyReport(False, s.count, s.last_hash, seq, problem), s

    if s.problem and not s.torn:
        return bad(s.first_bad_seq, s.problem)
    if head is not None:
        if head.count > s.count:
            missing = s.count + 1 if head.count == s.count + 1 else f"{s.count + 1}..{head.count}"
            return bad(
                s.count + 1,
                f"truncated: head.json records {head.count} entries (head {head.hash}) but the "
                f"trail holds {s.count}; entries {missing} are missing",
            )
        if s.hash_at_count != head.hash:
            return bad(
                head.count,
                f"head.json records hash {head.hash} for entry {head.count} but the entry's "
                f"hash is {s.hash_at_count}: the trail was rewritten",
            )
    if key is not None:
        problem = _signature_problem(head, key)
        if problem:
            return bad(head.count if head else s.count, problem)
    if head_hash is not None and s.found_seq is None and head_hash != GENESIS:
        return bad(
            s.count + 1,
            f"truncated or rewritten: no entry has the head hash {head_hash} "
            f"(the trail holds {s.count} entries, last hash {s.last_hash})",
        )
    if s.torn:
        return bad(s.first_bad_seq, s.problem)
    return VerifyReport(True, s.count, s.last_hash, None, ""), s


def _signature_problem(head: Head | None, key: bytes) -> str:
    if head is None:
        return "bad signature: a key was given but there is no head.json to check"
    if not head.signature:
        return "bad signature: a key was given but head.json is not signed"
    if not signature_ok(head, key):
        return "bad signature: head.json's signature does not match the key (wrong key, or the head was altered)"
    return ""
