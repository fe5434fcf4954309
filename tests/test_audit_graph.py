"""`incident-console audit`: every planned intervention on one window against the baseline.

The bundled scenarios carry their truth in answer.toml: the test (never the code) chooses two
windows from it - the incident window ending at the alert, and the post-fix window after
fixed_at - and the audit must fail on exactly the answer's edge in the first (plus any bug the
fix leaves in place, which fails the post-fix window too) and pass it in the second. The JUnit
XML is read back as CI consumers read it; a copy of a scenario's Parquet with a new feature
column nobody modelled shows the freshness check and --strict.
"""

from __future__ import annotations

import json
import tomllib
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from console.cli import main
from console.playbook.durations import parse_duration
from console.telemetry.windows import parse_utc

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
FRAUD = SAMPLE / "fraud-friday-noon"


def _toml(path: Path) -> dict:
    return tomllib.loads(path.read_text())


def _fixed_scenarios() -> list[str]:
    """Bundled scenarios with a broken edge and a fix time: the ones a post-fix window exists
    for (external shifts and false alarms have no edge to fix)."""
    names = [
        d.name
        for d in sorted(SAMPLE.iterdir())
        if (d / "answer.toml").is_file()
        and _toml(d / "answer.toml")["kind"] == "broken_edge"
        and "fixed_at" in _toml(d / "answer.toml")
    ]
    assert len(names) >= 8, names  # a glob that matched nothing would prove nothing
    return names


def _audit(folder: Path, out: Path, at: datetime, window: str, *extra: str) -> tuple[int, dict]:
    out.mkdir(parents=True, exist_ok=True)
    argv = [
        "audit", str(folder / "playbook.toml"), "--telemetry", str(folder),
        "--at", at.isoformat(), "--window", window,
        "--audit-dir", str(out / "trail"), "--json", str(out / "audit.json"),
        "--junit", str(out / "audit.xml"), *extra,
    ]  # fmt: skip
    code = main(argv)
    return code, json.loads((out / "audit.json").read_text())


def _broken(result: dict) -> set[tuple[str, str]]:
    return {(a, b) for a, b in result["broken"]}


@pytest.mark.parametrize("name", _fixed_scenarios())
def test_incident_window_fails_on_the_broken_edge_and_the_post_fix_window_passes(
    name: str, tmp_path: Path
) -> None:
    folder = SAMPLE / name
    scenario, answer = _toml(folder / "scenario.toml"), _toml(folder / "answer.toml")
    windows = _toml(folder / "playbook.toml")["windows"]
    edge = tuple(answer["root_cause"]["edge"])
    alert = datetime.fromisoformat(scenario["alert_at"])
    fixed = datetime.fromisoformat(answer["fixed_at"])
    postfix = windows["postfix"]

    code_inc, incident = _audit(folder, tmp_path / "incident", alert, windows["incident"])
    code_post, post = _audit(folder, tmp_path / "post", fixed + parse_duration(postfix), postfix)

    assert code_inc == 1 and incident["passed"] is False
    assert edge in _broken(incident), incident["broken"]
    assert edge not in _broken(post), post["broken"]
    # Exactly the broken edge: any other failure is a bug the fix left in place, which the
    # post-fix window still shows.
    assert _broken(incident) == {edge} | _broken(post)
    assert code_post == (1 if _broken(post) else 0)
    # Its own trail, like an investigation: every edge's run recorded and verifiable.
    assert main(["trail", "verify", str(tmp_path / "incident" / "trail")]) == 0


def test_junit_xml_has_one_case_per_edge_in_the_shape_ci_reads(tmp_path: Path) -> None:
    alert = datetime.fromisoformat(_toml(FRAUD / "scenario.toml")["alert_at"])
    code, result = _audit(FRAUD, tmp_path, alert, "4h")
    root = ET.parse(tmp_path / "audit.xml").getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    cases = suite.findall("testcase")
    assert suite.get("name") == "card-fraud-scorer"
    assert int(suite.get("tests", "-1")) == len(cases) == len(result["edges"])
    failed = [c for c in cases if c.find("failure") is not None]
    assert int(suite.get("failures", "-1")) == len(failed) == 1
    assert failed[0].get("name") == "raw_card_age_days -> f_card_age"
    assert failed[0].get("classname") == "card-fraud-scorer"
    message = failed[0].find("failure").get("message")  # type: ignore[union-attr]
    assert "missing rate 0.00% -> 25.97%" in message
    # The nine model_version edges share one test: one verdict, the rest pass with it.
    shared = [e for e in result["edges"] if e["covered_by"]]
    assert len(shared) == 8 and all(e["verdict"] == "passed" for e in shared)
    assert code == 1


def test_the_trail_records_the_window_the_audit_compared(tmp_path: Path) -> None:
    """--window, not the playbook's [windows] incident (4 h), in the trail's open entry."""
    alert = datetime.fromisoformat(_toml(FRAUD / "scenario.toml")["alert_at"])
    _audit(FRAUD, tmp_path, alert, "2h")
    opened = json.loads((tmp_path / "trail" / "trail.jsonl").read_text().splitlines()[0])
    [incident] = [w for w in opened["result"]["windows"] if w["name"] == "incident"]
    assert (parse_utc(incident["start"]), parse_utc(incident["end"])) == (
        alert - timedelta(hours=2),
        alert,
    )


def test_a_new_feature_nobody_modelled_is_a_freshness_finding_and_strict_fails(
    tmp_path: Path,
) -> None:
    telemetry = tmp_path / "telemetry"
    telemetry.mkdir()
    for item in FRAUD.iterdir():
        if item.suffix in (".parquet", ".toml"):
            (telemetry / item.name).write_bytes(item.read_bytes())
    decisions = pq.read_table(FRAUD / "decisions.parquet")
    rng = np.random.default_rng(7)
    decisions = decisions.append_column(
        "feat_merchant_risk", pa.array(rng.random(decisions.num_rows))
    )
    pq.write_table(decisions, telemetry / "decisions.parquet")
    answer = _toml(FRAUD / "answer.toml")
    after_fix = datetime.fromisoformat(answer["fixed_at"]) + parse_duration("6h")

    code, result = _audit(telemetry, tmp_path / "plain", after_fix, "6h")
    unread = [f for f in result["graph_freshness"] if f["kind"] == "unread_column"]
    assert [f["subject"] for f in unread] == ["feat_merchant_risk"]
    assert code == 0 and result["passed"] is True

    strict, result = _audit(telemetry, tmp_path / "strict", after_fix, "6h", "--strict")
    assert strict == 1 and result["passed"] is False and result["broken"] == []


def test_a_minor_anomaly_runs_only_the_best_ranked_edges_and_says_so(tmp_path: Path) -> None:
    folder = SAMPLE / "recs-saturday-evening"
    alert = datetime.fromisoformat(_toml(folder / "scenario.toml")["alert_at"])
    windows = _toml(folder / "playbook.toml")["windows"]
    code, result = _audit(folder, tmp_path, alert, windows["incident"])
    assert result["tier"] == "minor"
    assert result["scope"].startswith("minor anomaly of ")
    assert 1 <= len(result["edges"]) <= 3
    planned = sum(1 for e in _toml(folder / "playbook.toml")["edges"] if _planned(e))
    assert planned > 3
    assert code == (1 if result["broken"] else 0)


def _planned(edge: dict) -> bool:
    return "intervention" in edge or bool(edge.get("interventions"))


def test_the_candidate_gate_fails_a_model_that_changes_too_many_decisions(tmp_path: Path) -> None:
    text = (FRAUD / "playbook.toml").read_text()
    assert "\nf_device_risk = 3.0\n" in text
    heavier = tmp_path / "candidate.toml"  # the new model leans harder on device risk
    heavier.write_text(text.replace("\nf_device_risk = 3.0\n", "\nf_device_risk = 4.5\n"))
    after_fix = datetime.fromisoformat(_toml(FRAUD / "answer.toml")["fixed_at"]) + parse_duration(
        "6h"
    )

    code, result = _audit(FRAUD, tmp_path / "heavier", after_fix, "6h", "--candidate", str(heavier))
    gate = result["gate"]
    assert code == 1 and result["broken"] == [] and gate["passed"] is False
    assert gate["rows"] > 100 and 0.01 < gate["share"] == gate["changed"] / gate["rows"]
    assert (
        sum(s["changed"] for s in gate["segments"] if s["column"] == "seg_channel")
        == gate["changed"]
    )
    root = ET.parse(tmp_path / "heavier" / "audit.xml").getroot()
    case = next(c for c in root.iter("testcase") if c.get("name") == "model-version gate")
    assert "the candidate changes" in case.find("failure").get("message")  # type: ignore[union-attr]

    same, result = _audit(
        FRAUD, tmp_path / "same", after_fix, "6h", "--candidate", str(FRAUD / "playbook.toml")
    )
    assert same == 0 and result["gate"]["changed"] == 0 and result["gate"]["passed"] is True


def test_junit_carries_hostile_reasons_as_well_formed_xml() -> None:
    from console.audit_graph.junit import junit_xml, table
    from console.engine.audit_run import AuditResult, EdgeCheck

    hostile = "value '\x1b[2J\x00<b>&' from the data"
    check = EdgeCheck(("raw_x", "f_x"), "verified", "broken", "range", "raw_x", [hostile])
    result = AuditResult("p.toml", "m", [], "critical", 0.5, "every edge", [check], [], False)
    root = ET.fromstring(junit_xml(result, "model <&>").encode("utf-8"))
    case = root.find("testsuite/testcase")
    assert case is not None and case.get("classname") == "model <&>"
    message = case.find("failure").get("message")  # type: ignore[union-attr]
    assert "<b>&" in message and "\x1b" not in message and "\x00" not in message
    assert "\x1b" not in table(result)
