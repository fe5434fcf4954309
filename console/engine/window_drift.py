"""Window drift: how far every input of the model moved between the baseline and the incident
window, from one pass over the data (`incident-console telemetry drift`).

The columns are the playbook's source and feature nodes that have an expression, numeric or
categorical as the playbook types them; the baseline is its rows at the incident's hours of the
day (context.IN_BASELINE), as every comparison of an investigation reads it, and beyond
500,000 such rows the screening's deterministic sample of them (screen_sample); the statistics
are stats_drift.drift_all's (exact KS and Wasserstein-1 for numeric nodes; chi-squared,
Jensen-Shannon distance and PSI for categorical ones). Read-only: it opens no incident folder
and writes no trail, so an on-call engineer can ask it before opening one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from console.engine.context import (
    IN_BASELINE,
    IN_INCIDENT,
    Context,
    ScenarioHints,
    read_scenario_hints,
    side_params,
)
from console.engine.investigation import incident_metric, incident_windows
from console.engine.results import Window
from console.engine.screening import baseline_stride, screening_from
from console.engine.stats_drift import ColumnDrift, Kind, drift_all
from console.playbook.loader import load_playbook
from console.telemetry.binding import require_fit
from console.telemetry.sources.capture import read_span
from console.telemetry.store import open_store
from console.telemetry.windows import format_utc

NODE_KINDS = ("source", "feature")


@dataclass(frozen=True)
class WindowDrift:
    alert_at: datetime
    baseline: Window
    incident: Window
    baseline_sample: int  # k: one baseline row in k read (1: every row)
    columns: list[ColumnDrift]  # most moved first (drifted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "alert_at": format_utc(self.alert_at),
            "windows": {w.name: w.to_dict() for w in (self.baseline, self.incident)},
            "baseline_sample": self.baseline_sample,
            "columns": [c.to_dict() for c in self.columns],
        }


def window_drift(
    playbook_path: Path, telemetry_dir: Path | None, alert_at: datetime | None = None
) -> WindowDrift:
    """Every source and feature node's drift around the alert (alert_at as
    Investigation.open defaults it: scenario.toml beside the telemetry, else the end of the
    newest bucket of the triage metric's series)."""
    playbook = load_playbook(playbook_path)
    hints = read_scenario_hints(telemetry_dir) if telemetry_dir else ScenarioHints()
    metric = incident_metric(playbook, playbook_path, hints, None)
    alert_at = alert_at or hints.alert_at
    span = read_span(playbook.windows, alert_at, playbook.triage.bucket, datetime.now(UTC))
    with open_store(telemetry_dir, playbook.tables, span=span) as store:
        require_fit(playbook, store)
        alert_at, windows = incident_windows(store, playbook, alert_at, metric)
        # The rows an investigation's screening reads: every incident row, and the baseline
        # at the incident's hours, beyond SCREEN_BASELINE_ROWS its deterministic sample (the
        # values come back to Python: a week of a busy model's rows would not fit).
        ctx = Context(playbook, store, Path("."), alert_at, metric, windows)
        baseline, incident = ctx.baseline, ctx.incident
        from_sql, sample_params = screening_from(ctx)
        columns: dict[str, tuple[str, Kind]] = {
            node.id: (node.expr, "categorical" if node.type == "categorical" else "numeric")
            for node in playbook.nodes.values()
            if node.kind in NODE_KINDS and node.expr
        }
        found = drift_all(
            ctx.run,  # a failing playbook expression is named, as in an investigation
            columns,
            from_sql,
            {**side_params(baseline, incident), **sample_params},
            IN_BASELINE,
            IN_INCIDENT,
        )
        stride = baseline_stride(ctx)
        # A window without rows gives no statistic at all: said once, as an investigation says it.
        first = next(iter(found.values()), None)
        if first is not None:
            ctx.require_rows(baseline, first.n_baseline)
            ctx.require_rows(incident, first.n_incident)
    return WindowDrift(alert_at, baseline, incident, stride, sorted(found.values(), key=drifted))


def drifted(column: ColumnDrift) -> tuple[float, str]:
    """Sort key, most moved first: numeric nodes by KS, categorical ones by JS distance (both
    between 0 and 1); a column without the statistic last."""
    value = column.ks if column.kind == "numeric" else column.js_distance
    return (-(value if value is not None else -1.0), column.name)
