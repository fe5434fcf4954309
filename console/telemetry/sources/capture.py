"""What an investigation reads from declared sources is kept as evidence (docs/telemetry.md,
"Sources and evidence").

A remote table keeps changing after the incident (late rows, backfills, retention), so at open
the rows of the span the investigation needs - from the earliest window start (baseline, or
the change-event lookback when it reaches further) to the newest row, since the post-fix window
is only chosen at validation - are read once from each declared source, in the contract's
shape, kept as <incident>/evidence/source-<table>.parquet with their sha256 in the trail's open
entry, and the views are bound to those copies. Every step then reads exactly the bytes the
trail names, and `trail verify` checks them whatever the source holds later.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath

import pyarrow as pa
import pyarrow.dataset as ds

from console.playbook.model import TelemetryTables, Windows
from console.telemetry.evidence import EvidenceRef, write_evidence
from console.telemetry.store import TelemetryStore, duckdb_identifier
from console.telemetry.windows import resolve_windows

CAPTURE_SQL = "SELECT * FROM {table} WHERE ts >= $start ORDER BY ALL"


def capture_start(windows: Windows, alert_at: datetime, bucket: timedelta) -> datetime:
    """The earliest time any step reads around this alert. Triage's series are bucketed
    (`bucket`, [triage] bucket) on the clock, so its first bucket starts at or before the
    baseline does: one whole bucket earlier covers it however the buckets align (without it a
    source's point at the start of that bucket was never read, and its reported value shown
    empty)."""
    resolved = resolve_windows(windows, alert_at)
    start = min(w.start for w in resolved.values())
    if windows.lookback is not None:
        start = min(start, resolved["incident"].start - windows.lookback)
    return start - bucket


def default_span(windows: Windows, now: datetime) -> tuple[datetime, datetime]:
    """Without an alert time: the windows' whole reach back from now (for a source that must
    be read over a span, e.g. to find the default alert time or for `telemetry check`)."""
    reach = windows.baseline + windows.baseline_gap + windows.incident
    return now - reach - (windows.lookback or timedelta(0)), now


def read_span(
    windows: Windows, alert_at: datetime | None, bucket: timedelta, now: datetime
) -> tuple[datetime, datetime]:
    """The span declared sources are read over: from capture_start of the alert time to now,
    or, without an (aware) alert time yet, default_span."""
    if alert_at is not None and alert_at.tzinfo is not None:
        return capture_start(windows, alert_at, bucket), now
    return default_span(windows, now)


def read_captures(
    store: TelemetryStore, tables: TelemetryTables, start: datetime
) -> dict[str, pa.Table]:
    """The rows of each declared source from `start` on, in the contract's shape (through its
    view, so a column mapping applies and the filter reaches the source's scan); the view
    is then bound to these rows in memory until keep_captures writes them. A source the store
    reads in place (a Spark table) is not copied: the trail records its version instead."""
    captured: dict[str, pa.Table] = {}
    for source in tables.sources:
        if source.table in store.read_in_place:
            continue
        table = duckdb_identifier(source.table)
        captured[source.table] = store.query(CAPTURE_SQL.format(table=table), {"start": start})
    for name, rows in captured.items():
        store.rebind(name, rows, store.label(name))
    return captured


def keep_captures(
    store: TelemetryStore,
    captured: dict[str, pa.Table],
    incident_dir: Path,
    start: datetime,
) -> list[EvidenceRef]:
    """Write each capture as evidence and bind its view to the written file."""
    refs = []
    for table, rows in captured.items():
        sql = CAPTURE_SQL.format(table=duckdb_identifier(table))
        ref = write_evidence(
            rows, incident_dir, f"source-{table}", sql=sql, params={"start": start.isoformat()}
        )
        path = Path(incident_dir, *PurePosixPath(ref.path).parts)
        label = f"{store.label(table)}, captured as {ref.path}"
        store.rebind(table, ds.dataset(str(path), format="parquet"), label)
        refs.append(ref)
    return refs
