"""Opening stores, parameterised queries, threads and cancelling a running query."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pyarrow as pa
import pytest
from test_telemetry_helpers import T0, write_duckdb, write_store

from console.errors import ConsoleError
from console.playbook.model import TelemetryTables
from console.telemetry.store import QueryCancelled, QueryFailed, open_store

# Far more rows than any test could finish: only an interrupt ends it.
ENDLESS = (
    "SELECT count(*) AS n FROM range(1000000000) a(x), range(1000) b(y) WHERE (a.x * b.y) % 7 = 3"
)


def test_parquet_store_answers_parameterised_queries(tmp_path):
    folder = write_store(tmp_path / "tel")
    with open_store(folder, TelemetryTables()) as store:
        assert store.tables == ("decisions", "metrics", "changes")
        named = store.query(
            "SELECT count(*) AS n FROM decisions WHERE ts >= $start AND ts < $end",
            {"start": T0, "end": T0 + timedelta(hours=10)},
        )
        positional = store.query("SELECT count(*) AS n FROM decisions WHERE score >= ?", [0.5])
        assert named.column("n").to_pylist() == [10]
        assert positional.column("n").to_pylist() == [sum(i % 10 >= 5 for i in range(48))]
        # Timestamps come back as UTC, whatever the machine's zone.
        first = store.query("SELECT min(ts) AS ts FROM decisions")
        assert first.schema.field("ts").type.tz == "UTC"
        assert first.column("ts")[0].as_py() == T0


def test_a_typed_value_is_data_not_sql(tmp_path):
    folder = write_store(tmp_path / "tel")
    with open_store(folder, TelemetryTables()) as store:
        sneaky = "x' OR '1'='1"
        rows = store.query("SELECT count(*) AS n FROM decisions WHERE decision = ?", [sneaky])
        assert rows.column("n").to_pylist() == [0]


def test_duckdb_file_store_works_like_a_folder(tmp_path):
    path = write_duckdb(tmp_path / "telemetry.duckdb")
    with open_store(path, TelemetryTables()) as store:
        assert store.tables == ("decisions", "metrics", "changes")
        assert store.label("decisions") == f"{path} table decisions"
        rows = store.query(
            "SELECT count(*) AS n FROM decisions WHERE model_version = $v", {"v": "v2"}
        )
        assert rows.column("n").to_pylist() == [24]


def test_custom_file_names_from_the_playbook(tmp_path):
    folder = tmp_path / "tel"
    write_store(folder)
    (folder / "decisions.parquet").rename(folder / "preds-2026.parquet")
    tables = TelemetryTables(decisions="preds-2026.parquet")
    with open_store(folder, tables) as store:
        assert store.query("SELECT count(*) AS n FROM decisions").column("n")[0].as_py() == 48


def test_missing_file_is_named(tmp_path):
    folder = write_store(tmp_path / "tel", skip=("metrics",))
    with pytest.raises(ConsoleError) as caught:
        open_store(folder, TelemetryTables())
    assert "metrics.parquet: file missing" in str(caught.value)


def test_missing_folder_and_wrong_file_kind(tmp_path):
    with pytest.raises(ConsoleError, match="does not exist"):
        open_store(tmp_path / "nowhere", TelemetryTables())
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ConsoleError, match="not a DuckDB database"):
        open_store(tmp_path / "notes.txt", TelemetryTables())


def test_corrupt_parquet_is_named(tmp_path):
    folder = write_store(tmp_path / "tel")
    (folder / "changes.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(ConsoleError) as caught:
        open_store(folder, TelemetryTables())
    assert "changes.parquet: not a readable Parquet file" in str(caught.value)


def test_bad_sql_is_a_console_error_naming_the_column(tmp_path):
    folder = write_store(tmp_path / "tel")
    with open_store(folder, TelemetryTables()) as store, pytest.raises(QueryFailed) as caught:
        store.query("SELECT no_such_column FROM decisions")
    assert "no_such_column" in str(caught.value)


def test_extra_arrow_tables_join_the_telemetry(tmp_path):
    folder = write_store(tmp_path / "tel")
    rescored = pa.table({"prediction_id": ["p00001", "p00002"], "new_score": [0.9, 0.1]})
    with open_store(folder, TelemetryTables()) as store:
        rows = store.query(
            "SELECT d.prediction_id, r.new_score FROM decisions d "
            "JOIN rescored r USING (prediction_id) ORDER BY 1",
            arrow={"rescored": rescored},
        )
        assert rows.column("new_score").to_pylist() == [0.9, 0.1]
        # Registered for that call only.
        with pytest.raises(QueryFailed):
            store.query("SELECT * FROM rescored")
        with pytest.raises(ConsoleError, match="hides a telemetry table"):
            store.query("SELECT 1", arrow={"decisions": rescored})


def test_worker_threads_query_at_once(tmp_path):
    folder = write_store(tmp_path / "tel")
    results: list[int] = []
    errors: list[BaseException] = []

    with open_store(folder, TelemetryTables()) as store:

        def work(limit: float) -> None:
            try:
                table = store.query("SELECT count(*) AS n FROM decisions WHERE score < ?", [limit])
                results.append(table.column("n")[0].as_py())
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i / 10,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert sorted(results) == [sum(i % 10 < k for i in range(48)) for k in range(8)]


def start_endless(store) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def run() -> None:
        try:
            store.query(ENDLESS)
            outcome["result"] = "finished"
        except BaseException as exc:  # the test asserts on it
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    while store.running == 0 and thread.is_alive():
        time.sleep(0.01)
    time.sleep(0.2)  # let DuckDB get into the scan
    return thread, outcome


def test_interrupt_from_another_thread_cancels_a_long_query(tmp_path):
    folder = write_store(tmp_path / "tel")
    with open_store(folder, TelemetryTables()) as store:
        thread, outcome = start_endless(store)
        store.interrupt()
        thread.join(timeout=60)
        assert not thread.is_alive()
        assert isinstance(outcome.get("error"), QueryCancelled)
        assert isinstance(outcome["error"], ConsoleError)
        assert store.running == 0
        # The store is still usable after a cancel.
        assert store.query("SELECT count(*) AS n FROM decisions").column("n")[0].as_py() == 48


def test_close_cancels_running_queries_and_refuses_new_ones(tmp_path):
    folder = write_store(tmp_path / "tel")
    store = open_store(folder, TelemetryTables())
    thread, outcome = start_endless(store)
    store.close()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert isinstance(outcome.get("error"), ConsoleError)
    with pytest.raises(ConsoleError, match="closed"):
        store.query("SELECT 1")


def test_an_interrupt_right_after_a_query_starts_is_never_lost(tmp_path):
    # The interrupt lands while the query is registered but DuckDB may not be executing it
    # yet (DuckDB clears its interrupt flag when a query begins): every round must still end.
    folder = write_store(tmp_path / "tel")
    with open_store(folder, TelemetryTables()) as store:
        for _ in range(40):
            outcome: dict = {}

            def run(outcome=outcome):
                try:
                    store.query(ENDLESS)
                except Exception as exc:
                    outcome["error"] = exc

            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            while store.running == 0 and thread.is_alive():
                pass  # spin, not sleep: interrupt as soon as the call is registered
            store.interrupt()
            thread.join(timeout=30)
            assert not thread.is_alive(), "an interrupt was lost: the query kept running"
            assert isinstance(outcome.get("error"), QueryCancelled)
        assert store.running == 0


def test_progress_is_duckdbs_estimate_for_the_running_query(tmp_path):
    folder = write_store(tmp_path / "tel")
    with open_store(folder, TelemetryTables()) as store:
        assert store.progress() is None  # nothing runs
        # A scan of a known length: DuckDB's estimate grows as it goes.
        long_scan = "SELECT count(*) AS n FROM range(40000000000) t(x) WHERE x % 7 = 3"
        outcome: dict = {}

        def run() -> None:
            try:
                store.query(long_scan)
            except QueryCancelled as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        seen: list[float] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (len(seen) < 2 or seen[-1] <= seen[0]):
            done = store.progress()
            if done is not None:
                seen.append(done)
            time.sleep(0.05)
        store.interrupt()
        thread.join(timeout=60)
        assert isinstance(outcome.get("error"), QueryCancelled)
        assert len(seen) >= 2 and 0 <= seen[0] < seen[-1] < 100
        assert store.progress() is None
        # The pooled cursor is reused after the cancel, and an extra table does not outlive its
        # call on it.
        for _ in range(6):
            assert store.query("SELECT count(*) AS n FROM decisions").column("n")[0].as_py() == 48
        store.query("SELECT * FROM extra", arrow={"extra": pa.table({"a": [1]})})
        with pytest.raises(QueryFailed):
            store.query("SELECT * FROM extra")
