"""`telemetry check` beyond binding: repeated prediction ids, and each playbook expression run
on a sample under [limits] check_seconds (one that fails or never ends is named)."""

from __future__ import annotations

import time

import pyarrow as pa
from test_telemetry_cli import PLAYBOOK, run
from test_telemetry_helpers import decisions_table, write_store

ENDLESS = "feat_log_amount + 0 * (SELECT count(*) FROM range(10000000000) AS r(i) WHERE i % 7 = 3)"


def check(tmp_path, feature_expr="feat_log_amount", extra="", decisions=None):
    folder = write_store(tmp_path / "tel", decisions=decisions)
    playbook = tmp_path / "fraud.toml"
    playbook.write_text(PLAYBOOK.format(feature_expr=feature_expr) + extra)
    return run("telemetry", "check", "--playbook", str(playbook), "--telemetry", str(folder))


def test_repeated_prediction_ids_are_named(tmp_path):
    decisions = decisions_table()
    ids = decisions.column("prediction_id").to_pylist()
    ids[7] = ids[6]
    ids[9] = ids[8] = ids[6]
    decisions = decisions.set_column(0, "prediction_id", pa.array(ids))
    done = check(tmp_path, decisions=decisions)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert (
        "decisions.parquet: column prediction_id repeats 1 ids (3 extra rows; e.g. 'p00006' "
        "appears 4 times)" in done.stderr
    )


def test_an_expression_that_never_ends_is_stopped_and_named(tmp_path):
    started = time.monotonic()
    done = check(tmp_path, feature_expr=ENDLESS, extra="\n[limits]\ncheck_seconds = 1\n")
    assert time.monotonic() - started < 30
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "node 'f_log_amount' expr" in done.stderr
    assert "(nodes.f_log_amount.expr) did not finish within 1 s on 1,000 rows" in done.stderr
    assert "(limits.check_seconds)" in done.stderr


def test_an_expression_that_fails_on_the_rows_is_named(tmp_path):
    # Binds (a cast from text), but no row's text is a number.
    done = check(tmp_path, feature_expr="CAST(seg_country AS DOUBLE)")
    assert done.returncode == 2
    assert "(nodes.f_log_amount.expr) fails on the first 1,000 rows" in done.stderr
    assert "Could not convert string" in done.stderr


def test_a_clean_store_still_passes(tmp_path):
    done = check(tmp_path, extra="\n[limits]\ncheck_seconds = 5\n")
    assert done.returncode == 0, done.stderr
