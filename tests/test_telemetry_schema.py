"""The contract check: every broken store gives a message naming the file and the column."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from test_telemetry_helpers import (
    T0,
    TS,
    changes_table,
    decisions_table,
    metrics_table,
    write_duckdb,
    write_store,
)

from console.playbook.model import TelemetryTables
from console.telemetry.schema import (
    ARROW_NAMES,
    CONTRACT,
    check_schema,
    table_summaries,
)
from console.telemetry.store import open_store

DOC = Path(__file__).resolve().parent.parent / "docs" / "telemetry.md"
NOW = T0 + timedelta(days=10)


def check(folder: Path) -> list[str]:
    return check_schema(folder, TelemetryTables(), now=NOW)


def replace_column(table: pa.Table, name: str, array: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, array)


def test_a_good_store_is_clean_and_summarised(tmp_path):
    folder = write_store(tmp_path / "tel")
    assert check(folder) == []
    with open_store(folder, TelemetryTables()) as store:
        summaries = {s.table: s for s in table_summaries(store)}
    assert summaries["decisions"].rows == 48
    assert summaries["decisions"].first == T0
    assert summaries["decisions"].last == T0 + timedelta(hours=47)
    assert "48 rows, 2026-03-01T00:00:00Z to 2026-03-02T23:00:00Z" in str(summaries["decisions"])


def test_missing_file(tmp_path):
    folder = write_store(tmp_path / "tel", skip=("changes",))
    assert check(folder) == [
        f"{folder / 'changes.parquet'}: file missing "
        "(the playbook's [telemetry] changes = 'changes.parquet')"
    ]


def test_missing_column(tmp_path):
    folder = write_store(tmp_path / "tel", decisions=decisions_table().drop_columns(["score"]))
    assert check(folder) == [
        f"{folder / 'decisions.parquet'}: missing required column score (DOUBLE, Parquet float64)"
    ]


def test_timestamp_stored_as_text(tmp_path):
    metrics = metrics_table()
    as_text = pa.array([t.isoformat() for t in metrics.column("ts").to_pylist()])
    folder = write_store(tmp_path / "tel", metrics=replace_column(metrics, "ts", as_text))
    [problem] = check(folder)
    assert problem.startswith(
        f"{folder / 'metrics.parquet'}: column ts is VARCHAR, the contract needs TIMESTAMPTZ"
    )
    assert ARROW_NAMES["TIMESTAMPTZ"] in problem


def test_timestamp_without_time_zone(tmp_path):
    decisions = decisions_table()
    naive = decisions.column("ts").cast(pa.timestamp("us"))
    folder = write_store(tmp_path / "tel", decisions=replace_column(decisions, "ts", naive))
    [problem] = check(folder)
    assert "decisions.parquet: column ts is TIMESTAMP, the contract needs TIMESTAMPTZ" in problem
    assert "without a time zone is ambiguous" in problem


def test_segment_column_must_be_text(tmp_path):
    decisions = decisions_table().append_column("seg_age", pa.array(range(48)))
    folder = write_store(tmp_path / "tel", decisions=decisions)
    [problem] = check(folder)
    assert "decisions.parquet: column seg_age is BIGINT, the contract needs VARCHAR" in problem


def test_all_null_required_column(tmp_path):
    decisions = decisions_table()
    nulls = pa.nulls(48, pa.string())
    folder = write_store(
        tmp_path / "tel", decisions=replace_column(decisions, "model_version", nulls)
    )
    assert check(folder) == [
        f"{folder / 'decisions.parquet'}: required column model_version is NULL in all 48 rows"
    ]


def test_timestamps_in_the_future(tmp_path):
    folder = write_store(tmp_path / "tel")
    problems = check_schema(folder, TelemetryTables(), now=T0 + timedelta(hours=40))
    assert problems == [
        f"{folder / name}: column ts has 7 rows in the future (latest 2026-03-02T23:00:00Z, "
        "now 2026-03-02T16:00:00Z, allowed clock skew 0:05:00)"
        for name in ("decisions.parquet", "metrics.parquet")
    ]
    # Within the allowed clock skew is fine.
    just_before = T0 + timedelta(hours=47) - timedelta(minutes=4)
    assert check_schema(folder, TelemetryTables(), now=just_before) == []


def test_empty_tables(tmp_path):
    folder = write_store(
        tmp_path / "tel",
        decisions=decisions_table().slice(0, 0),
        changes=changes_table().slice(0, 0),
    )
    # An empty changes table only means nothing changed.
    assert check(folder) == [f"{folder / 'decisions.parquet'}: holds no rows"]


def test_every_problem_is_listed_at_once(tmp_path):
    folder = write_store(
        tmp_path / "tel",
        decisions=decisions_table().drop_columns(["prediction_id", "decision"]),
        skip=("metrics",),
    )
    problems = check_schema(folder, TelemetryTables(), now=NOW)
    assert len(problems) == 3
    text = "\n".join(problems)
    assert "metrics.parquet: file missing" in text
    assert "missing required column prediction_id" in text
    assert "missing required column decision" in text


def test_duckdb_store_problems_name_the_table(tmp_path):
    path = write_duckdb(tmp_path / "telemetry.duckdb")
    assert check_schema(path, TelemetryTables(), now=NOW) == []
    con = duckdb.connect(str(path))
    con.execute("ALTER TABLE metrics DROP COLUMN value")
    con.execute("DROP TABLE changes")
    con.close()
    assert check_schema(path, TelemetryTables(), now=NOW) == [
        f"{path}: no table changes",
        f"{path} table metrics: missing required column value (DOUBLE, Parquet float64)",
    ]


def doc_tables() -> dict[str, list[tuple[str, str, bool]]]:
    """The column tables of docs/telemetry.md, by table name."""
    found: dict[str, list[tuple[str, str, bool]]] = {}
    current = None
    for line in DOC.read_text().splitlines():
        heading = re.match(r"## (decisions|metrics|changes):", line)
        if heading:
            current = heading.group(1)
            found[current] = []
        elif line.startswith("## "):
            current = None
        elif current and line.startswith("| ") and not line.startswith("| column"):
            name, kind, required, _ = [cell.strip() for cell in line.strip("|").split("|")]
            found[current].append((name, kind, required == "yes"))
    return found


def test_doc_tables_equal_the_contract_in_code():
    in_code = {
        table: [(c.name, c.type, c.required) for c in columns]
        for table, columns in CONTRACT.items()
    }
    assert doc_tables() == in_code


def doc_examples() -> dict[str, str]:
    blocks = re.findall(r"```csv (\w+)\n(.*?)```", DOC.read_text(), re.S)
    return dict(blocks)


def test_doc_example_is_a_clean_store(tmp_path):
    folder = tmp_path / "tel"
    folder.mkdir()
    arrow_types = {"VARCHAR": pa.string(), "DOUBLE": pa.float64(), "TIMESTAMPTZ": TS}
    examples = doc_examples()
    assert set(examples) == {"decisions", "metrics", "changes"}
    for table, text in examples.items():
        types = {c.name: arrow_types[c.type] for c in CONTRACT[table] if c.type in arrow_types}
        header = text.splitlines()[0].split(",")
        types.update({n: pa.string() for n in header if n.startswith("seg_")})
        options = pacsv.ConvertOptions(
            column_types={n: t for n, t in types.items() if n in header},
            strings_can_be_null=False,
        )
        parsed = pacsv.read_csv(io.BytesIO(text.encode()), convert_options=options)
        pq.write_table(parsed, folder / f"{table}.parquet")
    assert check_schema(folder, TelemetryTables(), now=datetime(2026, 3, 2, tzinfo=UTC)) == []
    with open_store(folder, TelemetryTables()) as store:
        rows = store.query("SELECT decision FROM decisions ORDER BY ts").column("decision")
        assert rows.to_pylist() == ["approve", "decline"]
