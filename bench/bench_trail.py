"""Audit trail figures: durable appends per second, verifying a 1,000,000-entry trail, and
reopening a 1,000,000-entry incident (Trail.open, which verifies it, then the engine's resume).

python bench/run.py --only trail --compare

The large trail (--entries, 1M) is built in setup, once, and reused; the append figure opens
its trail in setup and times the appends alone. References (--compare), measured in the same
run: trail_append_fsync against a plain loop writing the same number of lines of the same
size with one fsync each (the I/O an append cannot do without); trail_verify_1m against
`sha256sum` of the same file; the reopen figures against one plain pass over the file's lines
(`for line in f`). Two trails: every entry a step entry (the resume's worst case: each one is
parsed) and a realistic one (one step entry in a hundred, the rest notes).

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
from dataclasses import dataclass
from pathlib import Path

from harness import Bench, Reference
from references import fsync_loop, read_lines, sha256sum

from console.audit import Trail, verify
from console.audit.entry import GENESIS, canonical
from console.audit.head import make_head, write_head
from console.engine.investigation import Investigation

# The evidence file the step entries rest on (verify checks it).
EVIDENCE = b"PAR1 a snapshot the bench entries point at PAR1"
EVIDENCE_SHA256 = hashlib.sha256(EVIDENCE).hexdigest()


PARAMS = {"edge": "raw_amount -> f_log_amount", "i": 0}
RESULT = {"mismatch_rate": 0.0123, "rows": 100_000}


@dataclass
class Appending:
    trail: Trail  # left open: the benchmark's process ends after the figure
    appends: int
    work: Path


def _setup_append(ctx) -> Appending:
    folder = ctx.work / "append-incident"
    shutil.rmtree(folder, ignore_errors=True)
    ctx.setup("open trail")
    trail = Trail.open(folder, actor="bench@host")
    return Appending(trail, ctx.appends, ctx.work)


def bench_append_fsync(state: Appending) -> int:
    """state.appends entries through Trail.append: each one durable before it returns."""
    trail = state.trail
    for i in range(state.appends):
        trail.append("intervene", "shadow_recompute", params={**PARAMS, "i": i}, result=RESULT)
    return state.appends


def _plain_fsync(state: Appending) -> None:
    """The same number of lines, of the appended lines' mean size, one fsync each."""
    trail = state.trail
    line_bytes = trail.path.stat().st_size // max(trail.count, 1)
    fsync_loop(state.work / "plain", state.appends, line_bytes)


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
    """A ctx.entries-entry trail under ctx.store_root, generated once and reused.

    kind "steps": every entry an intervention; "mixed": one in a hundred, the rest notes."""
    entries = ctx.entries
    ctx.setup(f"large trail {kind}")
    name = f"trail-{entries}" if kind == "steps" else f"trail-{kind}-{entries}"
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
        for seq in range(1, entries + 1):
            make = _step_entry if kind == "steps" or seq % 100 == 0 else _note_entry
            entry = {**make(seq), "prev": prev, "seq": seq}
            entry["hash"] = prev = hashlib.sha256(canonical(entry)).hexdigest()
            f.write(canonical(entry) + b"\n")
        f.flush()
        os.fsync(f.fileno())
    write_head(building, make_head(entries, prev, "2026-11-22T22:10:02.000000Z", None))
    os.replace(building, folder)
    seconds = time.perf_counter() - started
    figures = {
        "name": f"generate_trail_{kind}",
        "entries": entries,
        "seconds": round(seconds, 3),
    }
    print(json.dumps(figures), flush=True)
    return folder


@dataclass
class Large:
    folder: Path
    entries: int


def _setup_large(kind: str):
    def setup(ctx) -> Large:
        return Large(large_trail(ctx, kind), ctx.entries)

    return setup


def bench_reopen(state: Large) -> int:
    """Trail.open (which verifies) + Investigation._resume of the large trail."""
    with Trail.open(state.folder, actor="bench@host") as trail:
        inv = Investigation(None, trail, Path(state.folder))
        inv._resume()
    assert trail.count == state.entries
    return state.entries


def bench_verify(state: Large) -> int:
    """verify() of the large trail (chain, head.json, evidence)."""
    report = verify(state.folder)
    assert report.ok, report.describe()
    return report.count


READ_LINES = Reference("read_lines", lambda state: read_lines(state.folder / "trail.jsonl"))
SHA256SUM = Reference("sha256sum", lambda state: sha256sum(state.folder / "trail.jsonl"))

BENCHMARKS = [
    Bench(
        "trail_append_fsync",
        _setup_append,
        bench_append_fsync,
        Reference("plain_fsync_per_line", _plain_fsync),
    ),
    Bench("trail_verify_1m", _setup_large("steps"), bench_verify, SHA256SUM),
    Bench("trail_reopen_steps_1m", _setup_large("steps"), bench_reopen, READ_LINES),
    Bench("trail_reopen_mixed_1m", _setup_large("mixed"), bench_reopen, READ_LINES),
]
