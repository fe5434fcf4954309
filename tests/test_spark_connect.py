"""The Spark store through Spark Connect (`[telemetry] spark_remote = "sc://..."`), against the
Connect server the test session's local Spark serves (tests/spark_session.py): the client path
a team on Databricks, EMR or Dataproc uses, with gRPC, operation tags and the server's own
session, not the local session's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pyarrow as pa
import pytest
from test_spark_store import ENDLESS, telemetry

from console.errors import ConsoleError
from console.playbook.model import TelemetryTables
from console.telemetry.spark_session import spark_session
from console.telemetry.spark_store import SparkStore
from console.telemetry.store import QueryCancelled, QueryFailed, QueryTimedOut, open_store


@pytest.fixture(scope="module")
def remote(spark) -> Iterator[str]:
    url = f"sc://127.0.0.1:{spark.conf.get('spark.connect.grpc.binding.port')}"
    yield url
    # The client's session, released while the server is still up (the local session stops at
    # the end of the test session; a client left open retries against it then).
    spark_session(url).stop()


def test_queries_parameters_and_extra_tables_through_connect(spark, remote, tmp_path):
    tables = TelemetryTables(engine="spark", spark_remote=remote)
    with open_store(telemetry(tmp_path, 3), tables) as store:
        assert isinstance(store, SparkStore)
        server = spark_session(remote)  # the store's own Connect session (getOrCreate)
        assert type(server).__module__ == "pyspark.sql.connect.session"
        named = store.query("SELECT count(*) AS n FROM decisions WHERE x > $lo AND id <> $id",
                            {"lo": 1.0, "id": "p-1"})  # fmt: skip
        assert named.to_pylist() == [{"n": 2}]
        positional = store.query("SELECT id FROM decisions WHERE x < ? ORDER BY id", [3.0])
        assert positional.column("id").to_pylist() == ["p-0", "p-1"]
        extra = pa.table({"id": ["p-0", "p-2"], "w": [10, 30]})
        joined = store.query("SELECT sum(w) AS s FROM decisions JOIN extra USING (id)",
                             arrow={"extra": extra})  # fmt: skip
        assert joined.to_pylist() == [{"s": 40}]
        # The contract views live in the Connect server's session, the extra one is gone.
        assert sorted(t.name for t in server.catalog.listTables()) == [
            "changes",
            "decisions",
            "metrics",
        ]
        assert dict(store.columns("decisions"))["ts"] == "TIMESTAMP WITH TIME ZONE"
        with pytest.raises(QueryFailed):
            store.query("CREATE TABLE t AS SELECT 1")
    assert server.catalog.listTables() == []  # close() dropped the contract views
    assert spark.catalog.listTables() == []  # and nothing reached the local session


def test_interrupt_and_time_limit_cancel_by_operation_tag(spark, remote, tmp_path):
    tables = TelemetryTables(engine="spark", spark_remote=remote)
    store = open_store(telemetry(tmp_path, 100_000), tables)
    with store.time_limit(1.0, "locate", "limits.query_seconds"), pytest.raises(QueryTimedOut):
        store.query(ENDLESS)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            store.query(ENDLESS)
        except ConsoleError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    while store.running == 0 and worker.is_alive():
        worker.join(0.05)
    # Likely before the query reaches the server: the cancel is repeated until the call ends.
    store.interrupt()
    stopping = time.monotonic()
    worker.join(60)
    assert not worker.is_alive()
    assert time.monotonic() - stopping < 20  # stopped, not run to its end (a minute or more)
    assert [type(e) for e in outcome] == [QueryCancelled]
    store.close()
