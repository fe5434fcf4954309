"""Export figures on the 1,000,000-entry trail of bench_trail (generated once, reused):
export to Parquet and to Markdown, and the report's investigation log of that trail.

python bench/run.py --only export

Each benchmark prints a second line with its own timing and, as the reference measured in the
same run, verify() of the same trail (the export verifies first, then streams the trail once
more): `ratio` is the export time over verify's. The report line gives the log section's size:
past LOG_LIMIT entries it summarises (before issue 12 it listed every entry: 119 MB).

Before issue 12, on 2 cores, the Parquet export of this trail took 51 s.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from types import SimpleNamespace

from console.audit import export, verify
from console.engine import report

BENCH_DIR = Path(__file__).resolve().parent


def _trail(ctx) -> Path:
    spec = importlib.util.spec_from_file_location("bench_trail", BENCH_DIR / "bench_trail.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.large_trail(ctx)


def _export(ctx, fmt: str) -> int:
    folder = _trail(ctx)
    started = time.perf_counter()
    checked = verify(folder)
    reference = time.perf_counter() - started
    out = ctx.work / f"trail.{fmt}"
    started = time.perf_counter()
    done = export(folder, fmt, out)
    seconds = time.perf_counter() - started
    assert checked.ok and done.count == checked.count
    figures = {
        "name": f"trail_export_{fmt}_1m",
        "entries": done.count,
        "export_seconds": round(seconds, 3),
        "bytes": out.stat().st_size,
        "reference_verify_seconds": round(reference, 3),
        "ratio": round(seconds / reference, 2),
    }
    print(json.dumps(figures), flush=True)
    return done.count


def bench_export_parquet(ctx) -> int:
    return _export(ctx, "parquet")


def bench_export_md(ctx) -> int:
    return _export(ctx, "md")


def bench_report_log(ctx) -> int:
    """The report's log of the 1M-entry trail: what Investigation.report() adds for the log."""
    folder = _trail(ctx)
    inv = SimpleNamespace(
        incident_dir=folder, ctx=SimpleNamespace(playbook=SimpleNamespace(sensitive=()))
    )
    count = verify(folder).count
    started = time.perf_counter()
    draft = report.Draft(inv, count)
    text = "\n".join(report._log(inv, draft, count))
    seconds = time.perf_counter() - started
    figures = {
        "name": "report_log_1m",
        "entries": count,
        "seconds": round(seconds, 3),
        "log_bytes": len(text.encode("utf-8")),
        "listed": len(draft.log),
    }
    print(json.dumps(figures), flush=True)
    return count


BENCHMARKS = [
    ("trail_export_parquet_1m", bench_export_parquet),
    ("trail_export_md_1m", bench_export_md),
    ("report_log_1m", bench_report_log),
]
