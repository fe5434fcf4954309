"""What reopening a long incident costs the console before its first screen: reading the
step states and every step's last result back from the trail (console.ui.state and
console.engine.revive), and the trail tail's incremental polling while entries are appended.

Neither loads textual: the console's state is plain data read from the trail.
"""

from __future__ import annotations

import shutil

from console.audit import Tail, Trail, read_entries
from console.engine.revive import last_results
from console.ui.state import Progress

ENTRIES = 20_000
APPENDS = 2_000
EDGE = ["raw_item_genre", "f_item_genre"]


def _long_trail(folder) -> None:
    """A trail of ENTRIES entries: mostly notes, with an intervention every hundred."""
    with Trail.open(folder, actor="bench") as trail:
        for i in range(ENTRIES):
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


def resume_state(ctx) -> int:
    # Built once (an fsync per entry makes building it the slow part) and reused.
    folder = ctx.store_root / f"ui-trail-{ENTRIES}"
    if not (folder / "head.json").exists():
        _long_trail(folder)
    progress = Progress.from_entries(read_entries(folder))
    results = last_results(read_entries(folder))
    assert progress.next_step() == "triage" and results["intervene"].verdict == "broken"
    return ENTRIES


def tail_poll(ctx) -> int:
    folder = ctx.work / "tail"
    shutil.rmtree(folder, ignore_errors=True)  # a fresh trail each run: every entry is new
    tail = Tail(folder)
    seen = 0
    with Trail.open(folder, actor="bench") as trail:
        for i in range(APPENDS):
            trail.note(f"note {i}")
            seen += len(tail.poll())
    assert seen == APPENDS
    return APPENDS


BENCHMARKS = [("ui_resume_state", resume_state), ("ui_tail_poll", tail_poll)]
