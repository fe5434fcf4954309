"""docs/audit.md's CI snippet runs ci-examples/audit-gate.sh: run it as CI would, with the
installed `incident-console` on PATH, on a bundled scenario's incident window (exit 1, a JUnit
report naming the broken edge) and its post-fix window (exit 0)."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "ci-examples" / "audit-gate.sh"
FRAUD = ROOT / "sample_data" / "fraud-friday-noon"


def _gate(out: Path, at: str, window: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PLAYBOOK": str(FRAUD / "playbook.toml"),
        "TELEMETRY": str(FRAUD),
        "AT": at,
        "WINDOW": window,
        "OUT": str(out),
    }
    return subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120)


def test_the_ci_script_fails_the_incident_window_and_passes_after_the_fix(tmp_path: Path) -> None:
    assert "ci-examples/audit-gate.sh" in (ROOT / "docs" / "audit.md").read_text()
    broken = _gate(tmp_path / "incident", "2026-11-13T16:05:00Z", "4h")
    assert broken.returncode == 1, broken.stderr
    suite = ET.parse(tmp_path / "incident" / "audit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert failed == ["raw_card_age_days -> f_card_age"]

    fixed = _gate(tmp_path / "fixed", "2026-11-14T01:00:00Z", "6h")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "audit passed" in fixed.stdout
