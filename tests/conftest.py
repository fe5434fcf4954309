"""Suite-wide settings: the machine's zone every test runs in, and settings that only make the
run faster (no test depends on those)."""

from __future__ import annotations

import os
import sys
import time

# numpy computes float64 exp and log with kernels of its own on CPUs with AVX-512, and with
# the C library's elsewhere; the two differ in the last bit of some results. The suite
# compares against golden files that hold or hash such floats (the UI snapshots show the
# trail's head hash and the report's sha256, which hash the counterfactual's scores), so it
# runs the C library's kernels on every CPU: the same bytes on any CI machine. Set before
# numpy loads, here and in every xdist worker and subprocess (they inherit it); the names of
# numpy 2.4 and of earlier releases (an unknown or absent feature is ignored).
os.environ["NPY_DISABLE_CPU_FEATURES"] = (
    "X86_V4 AVX512_ICL AVX512_SPR AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX "
    "AVX512_CLX AVX512_CNL"
)
# Arrow picks its compute kernels by CPU too (a float sum's order of additions among them):
# capped at the AVX2 ones for the same reason.
os.environ["ARROW_USER_SIMD_LEVEL"] = "AVX2"
if "numpy" in sys.modules or "pyarrow" in sys.modules:
    raise RuntimeError("numpy or pyarrow was loaded before tests/conftest.py chose its kernels")

# Session fixtures shared by several test modules (one server per xdist worker).
from prometheus_server import prometheus_url  # noqa: F401
from spark_session import spark, spark_views_dropped  # noqa: F401

# Every test runs as on a machine outside UTC, at an offset that is not a whole hour: the
# console must write the same bytes and show the same times wherever it runs, and anything
# that takes the machine's zone (the store's cursors did, unseen on UTC machines: evidence
# typed in the zone, a figure's axis drawn in it) fails here. Subprocesses and xdist workers
# inherit it. Set before any test module loads DuckDB, which reads the zone once per process.
os.environ["TZ"] = "Asia/Kolkata"
time.tzset()

# The environment may set PYTHONDONTWRITEBYTECODE: then every xdist worker compiles and
# assertion-rewrites each test module again (collection took 5.6 s a worker, 2.8 s with the
# cache), and every CLI subprocess compiles console/ from source (~0.2 s a call). Writing the
# bytecode (into the git-ignored __pycache__/) lets the next worker and every subprocess read
# it instead; Python still recompiles any file whose source changed.
sys.dont_write_bytecode = False

# The files with the longest single tests (measured), longest first. xdist's worksteal hands
# each worker a contiguous run of tests and an idle worker steals from the end of a busy
# one's: with these first, the run ends on short tests, not one long test that leaves a core
# waiting (about 103 s -> 94 s wall on 2 cores). Each file stays in one piece and in order.
SLOW_FIRST = (
    "test_spark_store.py",  # every bundled scenario on Spark: ~20 s each after the JVM's start
    "test_bench_honest.py",
    "test_ui_walk.py",
    "test_audit_crash.py",
    "test_ui_hostile.py",
    "test_ui_responsive.py",
    "test_cli_fuzz.py",
    "test_ui_keys.py",
    "test_ui_gameday.py",
    "test_scoring_http.py",
    "test_audit_export.py",
    "test_counterfactual.py",
    "test_ui_snapshots.py",
)


def pytest_collection_modifyitems(items) -> None:
    rank = {name: place for place, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FIRST)))  # stable
