"""Audit trail figures: durable appends per second, and verifying a 1,000,000-entry trail.

python bench/run.py --only trail
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time

from console.audit import Trail, verify
from console.audit.entry import GENESIS, canonical
from console.audit.head import make_head, write_head

APPENDS = 2_000
VERIFY_ENTRIES = 1_000_000


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


def large_trail(ctx):
    """A VERIFY_ENTRIES-entry trail under ctx.store_root, generated once and reused."""
    folder = ctx.store_root / f"trail-{VERIFY_ENTRIES}"
    if (folder / "head.json").exists():
        return folder
    started = time.perf_counter()
    building = ctx.store_root / f"trail-{VERIFY_ENTRIES}.building"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    prev = GENESIS
    evidence = [{"path": "evidence/snap.parquet", "sha256": "ab" * 32}]
    with open(building / "trail.jsonl", "wb", buffering=1 << 22) as f:
        for seq in range(1, VERIFY_ENTRIES + 1):
            entry = {
                "action": "shadow_recompute",
                "actor": "bench@host",
                "evidence": evidence,
                "params": {"edge": "raw_amount -> f_log_amount", "tolerance": 1e-06},
                "prev": prev,
                "result": {"mismatch_rate": 0.0123, "rows": seq},
                "seq": seq,
                "session": "0b8e3c5e-1d7a-4c1e-9a7e-3f0f2b7d9c11",
                "step": "intervene",
                "ts": "2026-11-22T22:10:01.123456Z",
            }
            entry["hash"] = prev = hashlib.sha256(canonical(entry)).hexdigest()
            f.write(canonical(entry) + b"\n")
        f.flush()
        os.fsync(f.fileno())
    write_head(building, make_head(VERIFY_ENTRIES, prev, "2026-11-22T22:10:02.000000Z", None))
    os.replace(building, folder)
    seconds = time.perf_counter() - started
    figures = {"name": "generate_trail", "entries": VERIFY_ENTRIES, "seconds": round(seconds, 3)}
    print(json.dumps(figures), flush=True)
    return folder


def bench_verify_1m(ctx) -> int:
    """verify() of the 1M-entry trail (the first run also generates it: run twice)."""
    report = verify(large_trail(ctx))
    assert report.ok, report.describe()
    return report.count


BENCHMARKS = [
    ("trail_append_fsync", bench_append_fsync),
    ("trail_verify_1m", bench_verify_1m),
]
