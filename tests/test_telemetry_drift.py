"""`incident-console telemetry drift`: every source and feature node's drift between the
baseline (at the incident's hours) and the incident window, run as a person would in a
subprocess, against docs/telemetry.md's example and against scipy on the same rows."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from scipy import stats

from console.errors import ConsoleError

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "sample_data" / "fraud-friday-noon"
DOC = ROOT / "docs" / "telemetry.md"


def drift(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", "telemetry", "drift", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("drift")
    folder = tmp / "telemetry"
    shutil.copytree(SCENARIO, folder, ignore=shutil.ignore_patterns("answer.toml"))
    before = {p: p.stat().st_mtime_ns for p in folder.iterdir()}
    done = drift(
        "--playbook", str(folder / "playbook.toml"), "--telemetry", str(folder),
        "--json", str(tmp / "drift.json"), cwd=tmp,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    # Read-only: the telemetry untouched, nothing written but the JSON asked for.
    assert {p: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    assert sorted(p.name for p in tmp.iterdir()) == ["drift.json", "telemetry"]
    return folder, done.stdout, json.loads((tmp / "drift.json").read_text())


def test_the_documented_example_is_a_real_runs_columns(ran):
    _, _, real = ran
    block = re.search(r"## Drift.*?```json\n(.*?)\n```", DOC.read_text(), re.S)
    assert block, "docs/telemetry.md has no drift example"
    example = json.loads(block.group(1))
    assert set(example) == set(real) and example["windows"] == real["windows"]
    by_name = {c["name"]: c for c in real["columns"]}
    assert example["columns"] and all(c == by_name[c["name"]] for c in example["columns"])


def test_every_source_and_feature_with_an_expression_most_moved_first(ran):
    folder, stdout, real = ran
    import tomllib

    nodes = tomllib.loads((folder / "playbook.toml").read_text())["nodes"]
    wanted = {n["id"] for n in nodes if n["kind"] in ("source", "feature") and n.get("expr")}
    assert {c["name"] for c in real["columns"]} == wanted
    moved = [c["ks"] if c["kind"] == "numeric" else c["js_distance"] for c in real["columns"]]
    assert moved == sorted(moved, reverse=True)
    # The terminal's table: one line per node, the card age missing in a quarter of the rows.
    line = next(x for x in stdout.splitlines() if x.startswith("raw_card_age_days "))
    assert "0.00% -> 25.97%" in line and "KS 0.05174" in line


def test_the_figures_are_scipys_on_the_windows_rows(ran):
    folder, _, real = ran
    base = {
        k: datetime.fromisoformat(v) for k, v in real["windows"]["baseline"].items() if k != "name"
    }
    inc = {
        k: datetime.fromisoformat(v) for k, v in real["windows"]["incident"].items() if k != "name"
    }
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    side = (
        "CASE WHEN ts >= $bs AND ts < $be AND (CAST(epoch(ts) - epoch($is) AS BIGINT) % 86400 "
        "+ 86400) % 86400 < $span THEN 'b' WHEN ts >= $is AND ts < $ie THEN 'i' END"
    )
    span = (inc["end"] - inc["start"]).total_seconds()
    rows = con.execute(
        f"SELECT {side} AS w, raw_card_age_days AS x, raw_merchant_category AS c "
        f"FROM read_parquet($path)",
        {
            "bs": base["start"], "be": base["end"], "is": inc["start"], "ie": inc["end"],
            "span": span, "path": str(folder / "decisions.parquet"),
        },
    ).fetchall()  # fmt: skip
    by_name = {c["name"]: c for c in real["columns"]}
    b = [x for w, x, _ in rows if w == "b" and x is not None]
    i = [x for w, x, _ in rows if w == "i" and x is not None]
    ks = stats.ks_2samp(b, i)
    card = by_name["raw_card_age_days"]
    assert card["values_baseline"] == len(b) and card["values_incident"] == len(i)
    assert card["ks"] == pytest.approx(ks.statistic, rel=1e-12)
    assert card["w1"] == pytest.approx(stats.wasserstein_distance(b, i), rel=1e-9)
    cats = sorted({c for w, _, c in rows if w and c is not None})
    table = [[sum(1 for w, _, c in rows if w == s and c == k) for k in cats] for s in "bi"]
    chi2 = stats.chi2_contingency(table, correction=False)
    merchant = by_name["raw_merchant_category"]
    assert merchant["chi2"] == pytest.approx(chi2.statistic, rel=1e-9)
    assert merchant["categories"] == len(cats)


def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path):
    done = drift("--playbook", str(tmp_path / "none.toml"), cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "none.toml" in done.stderr and "Traceback" not in done.stderr
    done = drift(
        "--playbook", str(SCENARIO / "playbook.toml"), "--telemetry", str(SCENARIO),
        "--json", str(tmp_path / "missing" / "d.json"), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "--json" in done.stderr and not (tmp_path / "missing").exists()
    done = drift(
        "--playbook", str(SCENARIO / "playbook.toml"), "--telemetry", str(SCENARIO),
        "--alert-at", "2030-01-01T00:00:00Z", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "window 2029-12-23T20:00:00Z to 2029-12-30T20:00:00Z holds no rows" in done.stderr


def test_a_large_baseline_is_read_through_the_screenings_sample(monkeypatch):
    """Beyond SCREEN_BASELINE_ROWS the baseline is the investigation's 1-in-k sample (here k
    = 4 of 3,810 rows): its rows only, every incident row, and k in the result."""
    from console.engine import screen_sample
    from console.engine.window_drift import window_drift

    full = window_drift(SCENARIO / "playbook.toml", SCENARIO)
    monkeypatch.setattr(screen_sample, "SCREEN_BASELINE_ROWS", 1000)
    sampled = window_drift(SCENARIO / "playbook.toml", SCENARIO)
    assert full.baseline_sample == 1 and sampled.baseline_sample == 4
    a, b = full.columns[0], next(c for c in sampled.columns if c.name == full.columns[0].name)
    assert a.n_incident == b.n_incident and a.n_baseline == 3810
    assert 3810 / 4 * 0.5 < b.n_baseline < 3810 / 4 * 1.5


def test_a_hinted_metric_that_is_no_node_is_named(tmp_path):
    # As Investigation.open names it; drift once looked the node up and raised a KeyError.
    from console.engine.window_drift import window_drift

    folder = tmp_path / "t"
    shutil.copytree(SCENARIO, folder)
    hints = (folder / "scenario.toml").read_text(encoding="utf-8")
    hints = re.sub(r"(?m)^alert_at = .*\n", "", hints).replace('"decline_rate"', '"nope"')
    (folder / "scenario.toml").write_text(hints, encoding="utf-8")
    with pytest.raises(ConsoleError, match="no node 'nope' \\(given as the metric\\)"):
        window_drift(folder / "playbook.toml", folder)
