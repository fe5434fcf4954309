"""Audit trail figures: durable appends per second, verifying a 1,000,000-entry trail, and
reopening a 1,000,000-entry incident (Trail.open, which verifies it, then the engine's resume).

python bench/run.py --only trail

The reopen benchmarks print a second line with their phases and, as the reference measured in
the same run, one plain pass over the file's lines (`for line in f`): `ratio` is the reopen
time over that pass. Two trails: every entry a step entry (the resume's worst case: each one
is parsed) and a realistic one (one step entry in a hundred, the rest notes).

Measured on 2 shared cores (load about 1), Trail.open + Investigation._resume, peak RSS of the
process (the verify workers stay under 115 MiB each):

    trail        before issue 12 (list(trail.entries()))   after (trail.latest_entries)
    all steps    open 4.0 s + resume 190 s, 2051 MiB        open 5.1 s + resume 3.0 s, 111 MiB
    mixed        open 5.4 s + resume 14.9 s, 1337 MiB       open 3.9 s + resume 1.1 s, 111 MiB
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from console.audit import Trail, verify
from console.audit.entry import GENESIS, canonical
from console.audit.head import make_head, write_head
from console.engine.investigation import Investigation

APPENDS = 2_000
VERIFY_ENTRIES = 1_000_000
# The evidence file the step entries rest on (verify checks it).
EVIDENCE = b"PAR1 a snapshot the bench entries point at PAR1"
EVIDENCE_SHA256 = hashlib.sha256(EVIDENCE).hexdigest()


def bench_append_fsync(ctx) -> int:
    """APPENDS entries through Trail.append: each one written, fsynced, head.json replaced."""
    folder = ctx.work / "append-incident"
    shutil.rmtree(folder, ignore_errors=True)
    with Trail.open(folder, actor="bench@host") as trail:
        for i in range(APPENDS):
            trail.append(
                "intervene",
                "shadow_recompute",
                params={"edge": "raw_amount -> f_log_amount", "i": i},
                result={"mismatch_rate": 0.0123, "rows": 100_000},
            )
    return APPENDS


def _step_entry(seq: int) -> dict:
    return {
        "action": "shadow_recompute",
        "actor": "bench@host",
        "evidence": [{"path": "evidence/snap.parquet", "sha256": EVIDENCE_SHA256}],
        "params": {"edge": "raw_amount -> f_log_amount", "tolerance": 1e-06},
        "result": {"mismatch_rate": 0.0123, "rows": seq},
        "session": "0b8e3c5e-1d7a-4c1e-9a7e-3f0f2b7d9c11",
        "step": "intervene",
        "ts": "2026-11-22T22:10:01.123456Z",
    }


def _note_entry(seq: int) -> dict:
    return {
        "action": "note",
        "actor": "bench@host",
        "evidence": [],
        "params": {"text": f"checked the dashboard again ({seq}); nothing new"},
        "result": {},
        "session": "0b8e3c5e-1d7a-4c1e-9a7e-3f0f2b7d9c11",
        "step": "note",
        "ts": "2026-11-22T22:10:01.123456Z",
    }


def large_trail(ctx, kind: str = "steps"):
    """A VERIFY_ENTRIES-entry trail under ctx.store_root, generated once and reused.

    kind "steps": every entry an intervention; "mixed": one in a hundred, the rest notes."""
    name = f"trail-{VERIFY_ENTRIES}" if kind == "steps" else f"trail-{kind}-{VERIFY_ENTRIES}"
    folder = ctx.store_root / name
    if (folder / "head.json").exists():
        return folder
    started = time.perf_counter()
    building = ctx.store_root / f"{name}.building"
    shutil.rmtree(building, ignore_errors=True)
    (building / "evidence").mkdir(parents=True)
    (building / "evidence" / "snap.parquet").write_bytes(EVIDENCE)
    prev = GENESIS
    with open(building / "trail.jsonl", "wb", buffering=1 << 22) as f:
        for seq in range(1, VERIFY_ENTRIES + 1):
            make = _step_entry if kind == "steps" or seq % 100 == 0 else _note_entry
            entry = {**make(seq), "prev": prev, "seq": seq}
            entry["hash"] = prev = hashlib.sha256(canonical(entry)).hexdigest()
            f.write(canonical(entry) + b"\n")
        f.flush()
        os.fsync(f.fileno())
    write_head(building, make_head(VERIFY_ENTRIES, prev, "2026-11-22T22:10:02.000000Z", None))
    os.replace(building, folder)
    seconds = time.perf_counter() - started
    figures = {
        "name": f"generate_trail_{kind}",
        "entries": VERIFY_ENTRIES,
        "seconds": round(seconds, 3),
    }
    print(json.dumps(figures), flush=True)
    return folder


def _reopen(ctx, kind: str) -> int:
    """Trail.open + Investigation._resume of a 1M-entry trail, against one pass over its lines."""
    folder = large_trail(ctx, kind)
    started = time.perf_counter()
    with open(folder / "trail.jsonl", "rb", buffering=1 << 20) as f:
        lines = sum(1 for _ in f)
    reference = time.perf_counter() - started
    started = time.perf_counter()
    with Trail.open(folder, actor="bench@host") as trail:
        opened = time.perf_counter()
        inv = Investigation(None, trail, Path(folder))
        inv._resume()
        resumed = time.perf_counter()
    assert lines == trail.count == VERIFY_ENTRIES
    total = resumed - started
    figures = {
        "name": f"trail_open_resume_1m_{kind}",
        "entries": VERIFY_ENTRIES,
        "open_seconds": round(opened - started, 3),
        "resume_seconds": round(resumed - opened, 3),
        "reference_read_lines_seconds": round(reference, 3),
        "ratio": round(total / reference, 1),
    }
    print(json.dumps(figures), flush=True)
    return VERIFY_ENTRIES


def bench_reopen_steps_1m(ctx) -> int:
    """Reopening an incident whose 1M entries are all step entries (each one parsed)."""
    return _reopen(ctx, "steps")


def bench_reopen_mixed_1m(ctx) -> int:
    """Reopening an incident of 1M entries, one step entry in a hundred."""
    return _reopen(ctx, "mixed")


def bench_verify_1m(ctx) -> int:
    """verify() of the 1M-entry trail (the first run also generates it: run twice)."""
    report = verify(large_trail(ctx))
    assert report.ok, report.describe()
    return report.count


BENCHMARKS = [
    ("trail_append_fsync", bench_append_fsync),
    ("trail_verify_1m", bench_verify_1m),
    ("trail_reopen_steps_1m", bench_reopen_steps_1m),
    ("trail_reopen_mixed_1m", bench_reopen_mixed_1m),
]
