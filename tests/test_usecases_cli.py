"""The use cases the console and the command line share, run from the command line (real
subprocesses): `trail export DIR --all` (the console's e) and `gameday grade DIR` (its g), on
an incident investigated with --auto on the bundled recs-weekday-afternoon scenario."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from console.audit import read_entries
from console.audit.export import FORMATS
from console.paths import scenario_dir

SCENARIO = "recs-weekday-afternoon"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", *args], capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def investigated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An incident investigated with --auto (report written), on a copy of the scenario."""
    root = tmp_path_factory.mktemp("usecases")
    folder = root / SCENARIO
    shutil.copytree(scenario_dir(SCENARIO), folder)
    incident = root / "inc"
    done = run(
        "investigate", str(folder / "playbook.toml"), "--telemetry", str(folder),
        "--incident-dir", str(incident), "--auto",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (incident / "report.md").is_file()
    return incident


@pytest.fixture
def incident(investigated: Path, tmp_path: Path) -> Path:
    """A fresh copy of the investigated incident for a test to change."""
    return Path(shutil.copytree(investigated, tmp_path / "inc"))


def test_gameday_grade_records_the_grade_and_appends_it_to_the_report(incident: Path) -> None:
    done = run("gameday", "grade", str(incident))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("Root cause found in ")
    assert f"grade appended to {incident / 'report.md'}" in done.stdout
    grades = [e for e in read_entries(incident) if (e.step, e.action) == ("gameday", "grade")]
    assert len(grades) == 1
    assert grades[0].result["scenario"] == SCENARIO and grades[0].result["found"] is True
    text = (incident / "report.md").read_bytes()
    assert b"## Game day grade" in text
    # The grade entry's evidence is the report as it is now, with the grade section.
    assert [(e.path, e.sha256) for e in grades[0].evidence] == [
        ("report.md", hashlib.sha256(text).hexdigest())
    ]


def test_gameday_grade_without_an_answer_key_names_the_file(incident: Path, tmp_path: Path) -> None:
    done = run("gameday", "grade", str(incident), "--scenario", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"incident-console: {tmp_path / 'answer.toml'}: no answer key "
        "(is this a game-day scenario folder?)"
    )
    assert not [e for e in read_entries(incident) if e.action == "grade"]


def test_trail_export_all_writes_every_format_and_records_the_export(incident: Path) -> None:
    done = run("trail", "export", str(incident), "--all")
    assert done.returncode == 0, done.stderr
    files = ["report.md", *(f"exports/trail.{fmt}" for fmt in FORMATS)]
    assert [line.removeprefix("wrote ") for line in done.stdout.splitlines()[:-1]] == [
        str(incident / f) for f in files
    ]
    for name in files:
        assert (incident / name).stat().st_size > 0
    last = list(read_entries(incident))[-1]
    assert (last.step, last.action) == ("report", "export")
    assert last.params == {"formats": list(FORMATS)}
    assert last.result["files"] == files and last.result["verified"] is True
    assert done.stdout.splitlines()[-1] == f"the trail verifies at head {last.result['head']}"


def test_trail_export_needs_a_format_and_a_file_or_all(incident: Path) -> None:
    done = run("trail", "export", str(incident))
    assert done.returncode == 2
    assert (
        done.stderr.strip() == "incident-console: trail export: give --format and --out, or --all"
    )
    both = run("trail", "export", str(incident), "--all", "--format", "md")
    assert both.returncode == 2
    assert "drop --format, --out and --tz" in both.stderr
    assert not (incident / "exports").exists()
