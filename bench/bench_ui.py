"""What reopening a long incident costs the console before its first screen: reading the
step states and every step's last result back from the trail (console.ui.state and
console.engine.revive), and the trail tail's incremental polling while entries are appended.

Neither loads textual: the console's state is plain data read from the trail. ui_resume_state
builds its trail in setup (once, reused); ui_tail_poll times the polls alone (Measured), not
the fsynced appends between them. References (--compare): one pass over the trail's lines
for the resume; for the tail, the same file's lines parsed with json.loads.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from harness import Bench, Measured, Reference
from references import read_lines

from console.audit import Tail, Trail, read_entries
from console.engine.revive import last_results
from console.ui.state import Progress

EDGE = ["raw_item_genre", "f_item_genre"]


def _long_trail(folder, entries: int) -> None:
    """A trail of `entries` entries: mostly notes, with an intervention every hundred."""
    with Trail.open(folder, actor="bench") as trail:
        for i in range(entries):
            if i % 100 == 0:
                trail.append(
                    "intervene",
                    "distribution_shift",
                    params={"edge": EDGE},
                    result={
                        "edge": EDGE,
                        "node": EDGE[0],
                        "type": "distribution_shift",
                        "verdict": "broken",
                        "statistics": {"psi": 2.29, "js_distance": 0.47},
                        "reasons": ["shifted"],
                        "sql": ["SELECT 1"],
                        "rows": {"baseline": 17989, "incident": 587},
                        "windows": [],
                        "evidence": [],
                        "histogram": {"edges": ["a", "b"], "series": {"baseline": [0.5, 0.5]}},
                    },
                )
            else:
                trail.note(f"note {i}")


def _setup_resume(ctx) -> Path:
    # Built once (an fsync per entry makes building it the slow part) and reused; 20,000
    # entries for the default --entries of 1M.
    ctx.setup("long trail")
    entries = max(ctx.entries // 50, 100)
    folder = ctx.store_root / f"ui-trail-{entries}"
    if not (folder / "head.json").exists():
        _long_trail(folder, entries)
    return folder


def resume_state(folder: Path) -> int:
    progress = Progress.from_entries(read_entries(folder))
    results = last_results(read_entries(folder))
    assert progress.next_step() == "triage" and results["intervene"].verdict == "broken"
    return progress_entries(folder)


def progress_entries(folder: Path) -> int:
    return read_lines(folder / "trail.jsonl")


@dataclass
class Tailing:
    folder: Path
    appends: int


def _setup_tail(ctx) -> Tailing:
    ctx.setup("fresh tail folder")
    folder = ctx.work / "tail"
    shutil.rmtree(folder, ignore_errors=True)  # a fresh trail each run: every entry is new
    return Tailing(folder, ctx.appends)


def tail_poll(state: Tailing) -> Measured:
    folder = state.folder
    tail = Tail(folder)
    seen = 0
    polling = 0.0
    with Trail.open(folder, actor="bench") as trail:
        for i in range(state.appends):
            trail.note(f"note {i}")
            started = time.perf_counter()
            seen += len(tail.poll())
            polling += time.perf_counter() - started
    assert seen == state.appends
    return Measured(state.appends, polling)


def _parse_lines(state: Tailing) -> None:
    with open(state.folder / "trail.jsonl", "rb") as f:
        for line in f:
            json.loads(line)


BENCHMARKS = [
    Bench(
        "ui_resume_state",
        _setup_resume,
        resume_state,
        Reference("read_lines", lambda folder: read_lines(folder / "trail.jsonl")),
    ),
    Bench("ui_tail_poll", _setup_tail, tail_poll, Reference("json_loads_lines", _parse_lines)),
]
