"""Small telemetry stores for the telemetry tests, written with pyarrow into tmp_path.

Kept as plain functions (no conftest) so each test says what store it builds.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from console.playbook.model import (
    Edge,
    Intervention,
    ModelInfo,
    Node,
    Playbook,
    Scorer,
    TelemetryTables,
    Triage,
    Windows,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)
TS = pa.timestamp("us", tz="UTC")


def decisions_table(rows: int = 48, start: datetime = T0, step=timedelta(hours=1)) -> pa.Table:
    amounts = [10.0 + 3 * i for i in range(rows)]
    return pa.table(
        {
            "prediction_id": [f"p{i:05d}" for i in range(rows)],
            "ts": pa.array([start + i * step for i in range(rows)], TS),
            "model_version": ["v1" if i < rows // 2 else "v2" for i in range(rows)],
            "score": [(i % 10) / 10 for i in range(rows)],
            "decision": ["decline" if i % 10 >= 5 else "approve" for i in range(rows)],
            "latency_ms": [12.5] * rows,
            "status": ["ok"] * rows,
            "raw_amount": amounts,
            "feat_log_amount": [round(math.log1p(a), 6) for a in amounts],
            "seg_country": ["DE" if i % 2 else "FR" for i in range(rows)],
            "label_fraud": pa.array([None] * rows, pa.bool_()),
        }
    )


def metrics_table(rows: int = 48, start: datetime = T0) -> pa.Table:
    return pa.table(
        {
            "ts": pa.array([start + timedelta(hours=i) for i in range(rows)], TS),
            "metric": ["fraud_decline_rate"] * rows,
            "value": [0.5] * rows,
            "labels": ["{}"] * rows,
        }
    )


def changes_table(start: datetime = T0) -> pa.Table:
    return pa.table(
        {
            "ts": pa.array([start + timedelta(hours=30)], TS),
            "kind": ["deploy"],
            "node": ["f_log_amount"],
            "summary": ["feature service 2.3"],
            "actor": ["ci"],
        }
    )


def write_store(
    folder: Path,
    decisions: pa.Table | None = None,
    metrics: pa.Table | None = None,
    changes: pa.Table | None = None,
    skip: tuple[str, ...] = (),
) -> Path:
    """A Parquet store with the default file names; tables in `skip` are not written."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = {
        "decisions": decisions if decisions is not None else decisions_table(),
        "metrics": metrics if metrics is not None else metrics_table(),
        "changes": changes if changes is not None else changes_table(),
    }
    for name, table in tables.items():
        if name not in skip:
            pq.write_table(table, folder / f"{name}.parquet")
    return folder


def write_duckdb(path: Path) -> Path:
    """A .duckdb store holding the three default tables."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    for name, table in (
        ("decisions", decisions_table()),
        ("metrics", metrics_table()),
        ("changes", changes_table()),
    ):
        con.register("incoming", table)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM incoming")
        con.unregister("incoming")
    con.close()
    return path


def tree_digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under a folder, by relative path (to prove nothing changed)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def make_playbook(
    nodes: list[Node] | None = None, edges: list[Edge] | None = None, **triage
) -> Playbook:
    """A small fraud playbook matching decisions_table()."""
    nodes = nodes or [
        Node("raw_amount", "source", "numeric", "payments", "amount", expr="raw_amount"),
        Node(
            "f_log_amount",
            "feature",
            "numeric",
            "features",
            "log amount",
            expr="feat_log_amount",
            reference="ln(1 + raw_amount)",
        ),
        Node(
            "decline_rate",
            "metric",
            "numeric",
            "risk",
            "share declined",
            expr="avg(CASE WHEN decision = 'decline' THEN 1.0 ELSE 0.0 END)",
            series="fraud_decline_rate",
        ),
    ]
    edges = (
        edges
        if edges is not None
        else [
            Edge(
                "raw_amount",
                "f_log_amount",
                "log(1 + amount)",
                intervention=Intervention("shadow_recompute", {}),
            )
        ]
    )
    return Playbook(
        path=Path("fraud.toml"),
        model=ModelInfo("fraud", "risk", "#risk"),
        tables=TelemetryTables(),
        windows=Windows(),
        nodes={n.id: n for n in nodes},
        edges=edges,
        triage=Triage(metric="decline_rate", **triage),
        scorer=Scorer("logistic", weights={"f_log_amount": 0.5}),
    )
