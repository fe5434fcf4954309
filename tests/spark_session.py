"""One Spark session in local mode for the whole test session (per xdist worker).

Starting the JVM takes seconds, so every Spark test module shares this one: pytest keeps a
session-scoped fixture alive until the session ends, and SparkStore's getOrCreate() finds it
instead of starting another. The settings are the ones the engine's SQL needs (docs/spark.md):
UTC session time, NULL (not an error) for a failed cast or a division by zero. pyspark is
imported inside the fixture so that test runs without Spark tests never load it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("incident-console-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.log.level", "ERROR")
        .getOrCreate()
    )
    yield session
    session.stop()
