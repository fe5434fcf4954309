"""A step that fails says so: in the error (naming the node and the playbook key), in the trail
(a `failed` entry), and in Investigation.failures; a playbook error is not an incident; a query
that runs too long is stopped; a full disk while writing evidence is one clear error.

Runs on the toy store of test_engine_steps (small, real Parquet, real DuckDB).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_engine_steps import ALERT, build_toy

from console.audit import read_entries
from console.cli import main
from console.engine.investigation import Investigation
from console.errors import ConsoleError

# Fails at run time only: the binder accepts the cast, the rows above 12.5 (the incident's
# shifted decoy) do not convert.
BAD_CAST = "CAST(CASE WHEN raw_d > 12.5 THEN 'n/a' ELSE CAST(raw_d AS VARCHAR) END AS DOUBLE)"
# Binds at once, then burns CPU for hours.
ENDLESS = "raw_d + 0 * (SELECT count(*) FROM range(10000000000) AS r(i) WHERE i % 7 = 3)"


def toy_with(tmp_path: Path, old: str, new: str, extra: str = "") -> Path:
    toy = build_toy(tmp_path / "telemetry")
    path = toy / "playbook.toml"
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new) + extra)
    return toy


def open_toy(toy: Path, incident: Path) -> Investigation:
    return Investigation.open(toy / "playbook.toml", toy, incident, alert_at=ALERT)


def test_an_expression_failing_at_run_time_names_node_and_key_and_is_in_the_trail(tmp_path):
    toy = toy_with(tmp_path, 'expr = "raw_d"', f'expr = "{BAD_CAST}"')
    incident = tmp_path / "inc"
    with open_toy(toy, incident) as inv:
        with pytest.raises(ConsoleError) as caught:
            inv.triage()
        message = str(caught.value)
        assert "nodes.raw_d.expr (node raw_d)" in message
        assert "Could not convert string 'n/a' to DOUBLE" in message
        assert str(toy / "playbook.toml") in message
        assert inv.failures == {"triage": message}
    last = list(read_entries(incident))[-1]
    assert (last.step, last.action) == ("triage", "failed")
    assert last.params["node"] == "raw_d" and last.params["key"] == "nodes.raw_d.expr"
    assert last.result == {"error": message}


def test_the_cli_says_the_failing_expression_in_one_line(tmp_path, capsys):
    toy = toy_with(tmp_path, 'expr = "raw_d"', f'expr = "{BAD_CAST}"')
    code = main([
        "investigate", str(toy / "playbook.toml"), "--telemetry", str(toy),
        "--incident-dir", str(tmp_path / "inc"), "--alert-at", ALERT.isoformat(), "--auto",
    ])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert "nodes.raw_d.expr (node raw_d)" in err
    entries = list(read_entries(tmp_path / "inc"))
    assert [(e.step, e.action) for e in entries] == [("session", "open"), ("triage", "failed")]


def test_each_step_records_its_failure_and_a_later_success_clears_it(tmp_path):
    toy = build_toy(tmp_path / "telemetry")
    incident = tmp_path / "inc"
    with open_toy(toy, incident) as inv:
        inv.triage()
        # The decision node feeds no scorer input: nothing to re-score.
        inv.mark_edge(("toy_decision", "yes_rate"), "broken")
        with pytest.raises(ConsoleError) as caught:
            inv.counterfactual()
        assert inv.failures == {"counterfactual": str(caught.value)}
        failed = list(read_entries(incident))[-1]
        assert (failed.step, failed.action) == ("counterfactual", "failed")
        assert failed.params == {"edge": ["toy_decision", "yes_rate"], "node": None, "key": None}
        assert failed.result == {"error": str(caught.value)}
        with pytest.raises(ConsoleError):
            inv.explain("no-such-id", ("raw_x", "f_x"))
        explained = list(read_entries(incident))[-1]
        assert (explained.step, explained.action) == ("counterfactual", "explain_failed")
        assert explained.params["prediction_id"] == "no-such-id"
        assert {"node", "key"} <= set(explained.params)

        inv.mark_edge(("raw_x", "f_x"), "broken")
        inv.counterfactual()
        assert inv.failures == {}


def test_a_reference_that_never_matches_is_a_playbook_error_not_a_broken_edge(tmp_path):
    # ln(2 + x) recomputes nothing the feature service ever served, before or during the incident.
    toy = toy_with(tmp_path, 'reference = "ln(1 + raw_x)"', 'reference = "ln(2 + raw_x)"')
    with open_toy(toy, tmp_path / "inc") as inv:
        located = {c.node: c for c in inv.locate().candidates}
        result = inv.intervene(("raw_x", "f_x"))
    assert any("nodes.f_x.reference looks wrong" in r for r in located["f_x"].reasons)
    assert result.verdict == "inconclusive"
    assert result.node == "f_x"
    assert "playbook error" in result.reasons[0]
    assert "nodes.f_x.reference" in result.reasons[0]
    assert result.statistics["mismatch_rate_baseline"] > 0.99


def test_a_query_past_the_steps_time_limit_is_stopped_and_named(tmp_path):
    toy = toy_with(
        tmp_path, 'expr = "raw_d"', f'expr = "{ENDLESS}"', "\n[limits.steps]\ntriage = 1.5\n"
    )
    incident = tmp_path / "inc"
    with open_toy(toy, incident) as inv:
        started = time.monotonic()
        with pytest.raises(ConsoleError) as caught:
            inv.triage()
        assert time.monotonic() - started < 10
    message = str(caught.value)
    assert message.startswith("triage: a telemetry query ran longer than 1.5 s and was stopped")
    assert f"limits.steps.triage in {toy / 'playbook.toml'}" in message
    last = list(read_entries(incident))[-1]
    assert (last.step, last.action, last.result) == ("triage", "failed", {"error": message})


def test_a_bad_limit_is_a_playbook_problem(tmp_path):
    toy = toy_with(tmp_path, 'expr = "raw_d"', 'expr = "raw_d"', "\n[limits]\nquery_second = 5\n")
    with pytest.raises(ConsoleError) as caught:
        open_toy(toy, tmp_path / "inc")
    assert 'limits.query_second: unknown key; did you mean "query_seconds"?' in str(caught.value)


# Run in a child so that the file-size limit (the full-disk stand-in: writes past it fail with
# EFBIG, as they fail with ENOSPC on a full disk) applies to it alone.
EVIDENCE_CHILD = """
import json, resource, signal, sys
from datetime import datetime
from pathlib import Path
from console.engine.investigation import Investigation
from console.errors import ConsoleError

toy, incident, alert = Path(sys.argv[1]), Path(sys.argv[2]), datetime.fromisoformat(sys.argv[3])
with Investigation.open(toy / "playbook.toml", toy, incident, alert_at=alert) as inv:
    inv.triage()
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    size = (incident / "trail.jsonl").stat().st_size
    # Room for the trail's next entry, not for the intervention's evidence (tens of KB).
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 8192, resource.RLIM_INFINITY))
    try:
        inv.intervene(("raw_x", "f_x"))
    except ConsoleError as exc:
        print(json.dumps({"error": str(exc), "failures": inv.failures}))
"""


def test_evidence_that_cannot_be_written_is_one_clear_error(tmp_path):
    toy = build_toy(tmp_path / "telemetry")
    incident = tmp_path / "inc"
    done = subprocess.run(
        [sys.executable, "-c", EVIDENCE_CHILD, str(toy), str(incident), ALERT.isoformat()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    said = json.loads(done.stdout)
    target = incident / "evidence" / "0003-intervene-raw_x-f_x-incident.parquet"
    assert said["error"] == f"cannot write {target}: File too large"
    assert said["failures"] == {"intervene": said["error"]}
    last = list(read_entries(incident))[-1]
    assert (last.step, last.action) == ("intervene", "failed")
    assert last.result == {"error": said["error"]}
    # Nothing half-written is left behind.
    assert sorted(p.name for p in (incident / "evidence").iterdir()) == [
        "0002-triage-yes_rate-series.parquet"
    ]
