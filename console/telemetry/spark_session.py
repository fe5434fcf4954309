"""The Spark session the Spark store runs on (docs/spark.md): local mode, or Spark Connect.

Local mode starts a JVM as a child of this process, and the JVM writes to the terminal the
console draws on: the java launcher's warnings ("Using incubator modules"), Spark's start-up
lines ("Setting default log level", written with System.err, not through log4j, so no log4j
setting silences them) and log4j's WARN lines. So the console launches the JVM itself, with its
stdout and stderr on /dev/null (pyspark's launch_gateway takes the Popen arguments), and hands
that gateway to the SparkContext. Nothing is lost that a user needs: a failed query is a
QueryFailed naming Spark's first line, and a JVM that does not start is a ConsoleError saying
how to see why.

Spark Connect (`spark_remote = "sc://host:port/;token=..."`) starts no JVM here: the client
speaks gRPC to a server on the cluster, whose logs are the cluster's.
"""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING, Any

from console.errors import ConsoleError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# DuckDB's meanings on Spark: session time in UTC, NULL rather than an error for a failed cast
# or a division by zero. Both are session settings, so they hold on a Connect server too.
SPARK_CONFIG: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
}
# Local mode only (a Connect server's static settings are its own): no web UI port, no
# progress bars, and no log work in a JVM whose output goes nowhere.
LOCAL_CONFIG: dict[str, str] = {
    "spark.master": "local[*]",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.log.level": "OFF",
}
APP = "incident-console"
QUIET = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}


def spark_session(remote: str) -> SparkSession:
    """Spark Connect at `remote` (sc://host:port), else local mode on every core. getOrCreate:
    one session per process, shared by every store it opens.

    Typed as the classic session: the Connect session has the same API for everything the
    store calls, and the store reaches sparkContext (classic only) in local mode only."""
    builder: Any
    try:
        if remote:
            # The Connect client's own class: pyspark's generic builder refuses a remote session
            # in a process that already runs a local one (a test session serving Connect).
            from pyspark.sql.connect.session import SparkSession as ConnectSession

            builder = ConnectSession.builder.remote(remote)
        else:
            from pyspark.sql import SparkSession

            builder = SparkSession.builder
            for key, value in LOCAL_CONFIG.items():
                builder = builder.config(key, value)
    except ImportError as exc:
        what = "pyspark with its Connect client" if remote else "pyspark"
        raise ConsoleError(
            f'[telemetry] engine = "spark" needs {what}: pip install "incident-console[spark]"'
            f" ({exc})"
        ) from exc
    for key, value in SPARK_CONFIG.items():
        builder = builder.config(key, value)
    try:
        if not remote:
            _start_quiet_jvm({**LOCAL_CONFIG, **SPARK_CONFIG, "spark.app.name": APP})
        session: SparkSession = builder.appName(APP).getOrCreate()
        return session
    except Exception as exc:
        where = shown_remote(remote) if remote else "local mode"
        detail = first_line(exc).replace(remote, where) if remote else first_line(exc)
        raise ConsoleError(f"cannot start Spark ({where}): {detail}") from exc


def shown_remote(remote: str) -> str:
    """A Spark Connect URL as messages show it: sc://host:port, without its ;token=... and
    other parameters (a token is a credential)."""
    return remote.split(";", 1)[0].rstrip("/")


def _start_quiet_jvm(settings: dict[str, str]) -> None:
    """Start local mode's JVM with its output on /dev/null, unless this process has one."""
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    # pyspark keeps the process's one gateway here and has no public accessor for it. With a
    # gateway already up (a session started earlier, e.g. by the tests) getOrCreate uses it.
    if SparkContext._gateway is not None:
        return
    conf = SparkConf().setAll(list(settings.items()))
    try:
        gateway = launch_gateway(conf, popen_kwargs=dict(QUIET))  # type: ignore[no-untyped-call]
    except Exception as exc:
        raise ConsoleError(
            f"cannot start Spark (local mode): {first_line(exc)} (the JVM's output is "
            "discarded: run `pyspark` in this environment to see why Java does not start)"
        ) from exc
    SparkContext(conf=conf, gateway=gateway)


def first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
