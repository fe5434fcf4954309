"""A two-source toy store for the engine's measurement tests (onset, producers).

Three and a half days of decisions; the amount raw_x (node x) and the category raw_c (node c)
feed a metric `rate`; the incident is the last 6 h before ALERT, the baseline two days ending
a day before it. Each test writes its own decisions rows and opens a Context over them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from console.engine.context import Context, result_window
from console.playbook.loader import load_playbook
from console.telemetry.store import open_store
from console.telemetry.windows import resolve_windows

T0 = datetime(2026, 3, 2, tzinfo=UTC)
ALERT = T0 + timedelta(days=3, hours=12)
INCIDENT_START = ALERT - timedelta(hours=6)
HOURS = 84
TS = pa.timestamp("us", tz="UTC")

PLAYBOOK = """\
[model]
name = "toy"
owner = "toy-ml"
oncall = "#toy"

[windows]
incident = "6h"
baseline = "2d"
baseline_gap = "1d"

[[nodes]]
id = "x"
kind = "source"
type = "numeric"
owner = "ingest"
description = "An amount."
expr = "raw_x"

[[nodes]]
id = "c"
kind = "source"
type = "categorical"
owner = "ingest"
description = "A category."
expr = "raw_c"

[[nodes]]
id = "rate"
kind = "metric"
type = "numeric"
owner = "toy-ml"
description = "Mean amount."
expr = "avg(raw_x)"
series = "toy_rate"

[[edges]]
from = "x"
to = "rate"
mechanism = "Averaged."

[[edges]]
from = "c"
to = "rate"
mechanism = "Mixed."

[triage]
metric = "rate"
bucket = "1h"

[scorer]
type = "linear"
[scorer.weights]
x = 1.0
"""


def open_context(folder: Path, decisions: pa.Table, extra_toml: str = "") -> Context:
    """Write decisions and the playbook (plus extra_toml) into folder; a Context over them."""
    folder.mkdir()
    pq.write_table(decisions, folder / "decisions.parquet")
    (folder / "playbook.toml").write_text(PLAYBOOK + extra_toml, encoding="utf-8")
    playbook = load_playbook(folder / "playbook.toml")
    store = open_store(folder, playbook.tables, allow_missing=True)
    windows = {k: result_window(w) for k, w in resolve_windows(playbook.windows, ALERT).items()}
    return Context(playbook, store, folder.parent, ALERT, "rate", windows)
