"""What opening an investigation costs in queries and rows: the playbook's expressions are
bound in one query, and the value checks look at the first rows and at Parquet statistics,
not at every row (issue 21). Problems are still found and named as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
from test_telemetry_helpers import decisions_table, make_playbook, write_store

from console.telemetry.binding import check_bindings, playbook_expressions
from console.telemetry.schema import SAMPLE_ROWS, check_schema
from console.telemetry.store import TelemetryStore, open_store


def _counting(monkeypatch) -> list[str]:
    # A spy, not a mock: every query still runs on the real store.
    seen: list[str] = []
    real = TelemetryStore.query

    def query(self, sql, params=None, *args, **kwargs):
        seen.append(sql)
        return real(self, sql, params, *args, **kwargs)

    monkeypatch.setattr(TelemetryStore, "query", query)
    return seen


def test_every_expression_is_bound_in_one_query(tmp_path, monkeypatch):
    folder = write_store(tmp_path / "tel")
    playbook = make_playbook()
    assert len(playbook_expressions(playbook)) >= 3
    with open_store(folder, playbook.tables) as store:
        seen = _counting(monkeypatch)
        assert check_bindings(playbook, store) == []
    # One query binds the expressions, one reads the metric names (the series check).
    # Before: one query per expression.
    assert len([sql for sql in seen if "LIMIT 0" in sql]) == 1


def test_value_checks_read_the_first_rows_and_prune_the_future_probe(tmp_path, monkeypatch):
    folder = write_store(tmp_path / "tel")
    playbook = make_playbook()
    with open_store(folder, playbook.tables) as store:
        seen = _counting(monkeypatch)
        assert check_schema(store, playbook.tables) == []
    # No full count over a table: every query limits what it reads. Before: count(*) over
    # every row of every table.
    selects = [sql for sql in seen if sql.startswith("SELECT")]
    assert selects and all("LIMIT" in sql for sql in selects), selects


def test_a_column_null_in_the_first_rows_only_still_passes(tmp_path):
    rows = SAMPLE_ROWS + 100
    table = decisions_table(rows, step=timedelta(seconds=1))
    scores = [None] * SAMPLE_ROWS + [0.5] * 100
    table = table.set_column(table.schema.get_field_index("score"), "score", pa.array(scores))
    folder = write_store(tmp_path / "tel", decisions=table)
    playbook = make_playbook()
    assert check_schema(folder, playbook.tables) == []


def test_all_null_column_and_future_rows_keep_their_messages(tmp_path):
    rows = SAMPLE_ROWS + 100
    start = datetime.now(UTC) - timedelta(minutes=30)
    table = decisions_table(rows, start=start, step=timedelta(seconds=1))
    table = table.set_column(
        table.schema.get_field_index("model_version"),
        "model_version",
        pa.array([None] * rows, pa.string()),
    )
    folder = write_store(tmp_path / "tel", decisions=table)
    playbook = make_playbook()
    problems = check_schema(folder, playbook.tables, now=start)
    assert any(f"required column model_version is NULL in all {rows:,} rows" in p for p in problems)
    assert any("column ts has" in p and "rows in the future" in p for p in problems)
