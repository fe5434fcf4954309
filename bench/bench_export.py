"""Export figures on the 1,000,000-entry trail of bench_trail (generated once, reused):
export to Parquet and to Markdown, and the report's investigation log of that trail.

python bench/run.py --only export

Setup builds the trail (once) and verifies it; only the export is timed. The reference
(--compare) is verify() of the same trail (the export verifies first, then streams the trail
once more). The report line gives the log section's size:
past LOG_LIMIT entries it summarises (before issue 12 it listed every entry: 119 MB).

Before issue 12, on 2 cores, the Parquet export of this trail took 51 s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from bench_trail import large_trail
from harness import Bench, Reference

from console.audit import verify
from console.audit.export import export
from console.engine import report
from console.engine.report_clock import Clock


@dataclass
class Exporting:
    folder: Path
    count: int  # entries verify counted
    out: Path


def _setup(fmt: str):
    def setup(ctx) -> Exporting:
        folder = large_trail(ctx)
        ctx.setup("verify trail")
        checked = verify(folder)
        assert checked.ok
        return Exporting(folder, checked.count, ctx.work / f"trail.{fmt}")

    return setup


def _export(fmt: str):
    def timed(state: Exporting) -> int:
        done = export(state.folder, fmt, state.out)
        assert done.count == state.count
        return done.count

    return timed


def bench_report_log(state: Exporting) -> int:
    """The report's log of the 1M-entry trail: what Investigation.report() adds for the log."""
    inv = SimpleNamespace(
        incident_dir=state.folder, ctx=SimpleNamespace(playbook=SimpleNamespace(sensitive=()))
    )
    draft = report.Draft(inv, state.count, Clock())
    text = "\n".join(report._log(inv, draft, state.count))
    figures = {
        "name": "report_log_1m_size",
        "log_bytes": len(text.encode("utf-8")),
        "listed": len(draft.log),
    }
    print(json.dumps(figures), flush=True)
    return state.count


VERIFY = Reference("verify", lambda state: verify(state.folder))

BENCHMARKS = [
    Bench("trail_export_parquet_1m", _setup("parquet"), _export("parquet"), VERIFY),
    Bench("trail_export_md_1m", _setup("md"), _export("md"), VERIFY),
    Bench("report_log_1m", _setup("md"), bench_report_log, VERIFY),
]
