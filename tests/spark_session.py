"""One Spark session in local mode for the whole test session (per xdist worker).

Starting the JVM takes seconds, so every Spark test module shares this one: pytest keeps a
session-scoped fixture alive until the session ends, and SparkStore's getOrCreate() finds it
instead of starting another. The settings are the ones the engine's SQL needs (docs/spark.md):
UTC session time, NULL (not an error) for a failed cast or a division by zero. pyspark is
imported inside the fixture so that test runs without Spark tests never load it.

The session also serves Spark Connect on a free local port (the Connect plugin ships in
pyspark's jars), so the Connect client is tested against a real server without a second JVM:
`sc://127.0.0.1:<spark.conf.get("spark.connect.grpc.binding.port")>` (test_spark_connect.py).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    from pyspark.sql import SparkSession

    with socket.socket() as probe:  # a port free now; the server binds it a moment later
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    session = (
        SparkSession.builder.master("local[1]")
        .appName("incident-console-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.log.level", "ERROR")
        .config("spark.plugins", "org.apache.spark.sql.connect.SparkConnectPlugin")
        .config("spark.connect.grpc.binding.address", "127.0.0.1")
        .config("spark.connect.grpc.binding.port", str(port))
        # Catalog tables a test creates (test_spark_tables.py) live in a temporary folder,
        # not in ./spark-warehouse of the working directory.
        .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("spark-warehouse")))
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture(autouse=True)
def spark_views_dropped(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used the shared session, its temporary views are dropped: a view one
    test left ("decisions", "drift") was in the next one's catalog, and the tests that check
    a store's close() left the catalog empty failed when they ran after it. A test that does
    not ask for `spark` starts no JVM here."""
    yield
    if "spark" in request.fixturenames:
        session = request.getfixturevalue("spark")
        for table in session.catalog.listTables():
            if table.isTemporary:
                session.catalog.dropTempView(table.name)
