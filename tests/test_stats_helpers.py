"""Shared by tests/test_stats_*.py: the `run` the stats functions take, over real DuckDB."""

from __future__ import annotations

import duckdb


def recording_run(con: duckdb.DuckDBPyConnection):
    """run(sql, params) -> pyarrow Table on con; run.calls lists every SQL text it ran."""
    calls: list[str] = []

    def run(sql, params):
        calls.append(sql)
        return con.sql(sql, params=params).to_arrow_table()

    run.calls = calls
    return run
