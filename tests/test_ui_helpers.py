"""Shared set-up of the console's tests (imported by the other test_ui_* modules), and the
tests of the pieces that need no running app: the keymap file, the docs' example, the
trail-derived step states and the import hygiene of the CLI."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from console.errors import ConsoleError
from console.paths import REPO_ROOT, scenario_dir

SCENARIO = "recs-weekday-afternoon"
ACTOR = "gameday-tester"
# The frozen trail clock starts just after the scenario's alert (2026-11-12T15:15Z).
TRAIL_START = datetime(2026, 11, 12, 15, 20, tzinfo=UTC)
SESSION = uuid.UUID(int=0x6A1E)


def copy_scenario(tmp_path: Path, name: str = SCENARIO) -> Path:
    """A private copy of a bundled scenario (accepting a playbook change rewrites it), as a
    path relative to tmp_path, which tests make the working directory: paths the engine
    writes into diffs and reports are then the same on every run."""
    target = Path("scenarios") / name
    shutil.copytree(scenario_dir(name), tmp_path / target)
    return target


def freeze_trail_clock(monkeypatch) -> None:
    """Trail entries get times one second apart from TRAIL_START, so screens that show them
    (the trail tail, the report's timeline) are the same on every run."""
    ticks = itertools.count()

    def fake_now() -> str:
        moment = TRAIL_START + timedelta(seconds=next(ticks))
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    # One fixed session id: with the times, it makes every entry hash the same on each run.
    monkeypatch.setattr("console.audit.trail.uuid", SimpleNamespace(uuid4=lambda: SESSION))
    monkeypatch.setattr("console.audit.trail.utc_now", fake_now)
    monkeypatch.setattr("console.audit.lock.utc_now", fake_now)
    # The report's "Drafted" line and the proposal's proven_by time.
    monkeypatch.setattr("console.engine.report.datetime", FrozenDatetime)
    monkeypatch.setattr("console.engine.validate.datetime", FrozenDatetime)


def single_threaded_duckdb(monkeypatch) -> None:
    """Evidence snapshots keep DuckDB's row order, which is only stable on one thread: with
    it their sha256, and so every hash the screens show, is the same on each run."""
    import duckdb

    connect = duckdb.connect

    def one_thread(database=":memory:", *args, config=None, **kwargs):
        return connect(database, *args, config={**(config or {}), "threads": 1}, **kwargs)

    monkeypatch.setattr(duckdb, "connect", one_thread)


class FrozenDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        return TRAIL_START if tz is None else TRAIL_START.astimezone(tz)


def fixed_clock() -> datetime:
    """The app's clock in tests: five minutes into the game day, always."""
    return TRAIL_START + timedelta(minutes=5)


def open_game_day(tmp_path: Path, monkeypatch, name: str = SCENARIO):
    """(Investigation, IncidentApp) on a copy of the scenario; incident folder ./inc."""
    from console.engine.investigation import Investigation
    from console.ui.app import GameDay, IncidentApp

    folder = copy_scenario(tmp_path, name)
    freeze_trail_clock(monkeypatch)
    monkeypatch.chdir(tmp_path)
    single_threaded_duckdb(monkeypatch)
    inv = Investigation.open(folder / "playbook.toml", folder, Path("inc"), actor=ACTOR)
    app = IncidentApp(inv, gameday=GameDay(name, folder), clock=fixed_clock)
    return inv, app


async def settle(pilot) -> None:
    """Wait until no engine call runs and every message it posted has been handled
    (a handler may start the next call: confirming triage starts Locate)."""
    app = pilot.app
    # Calls started after a refresh (triage after the first frame) start first.
    await pilot.pause()
    await pilot.pause()
    for _ in range(50):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if app.running is None and not any(w.is_running for w in app.workers):
            await pilot.pause()
            return
    raise AssertionError(f"the app is still busy with {app.running}")


def screen_text(app) -> str:
    """What the screen shows, as plain text (for assertions on what a user sees)."""
    svg = app.export_screenshot()
    svg = re.sub(r"<style.*?</style>", "", svg, flags=re.S)
    text = re.sub(r"<[^>]+>", "", svg)
    return (
        text.replace("&#160;", " ").replace("&amp;", "&").replace("&gt;", ">").replace("&lt;", "<")
    )


# ---- tests that need no running app -----------------------------------------------------


def test_docs_keymap_example_loads_and_names_real_bindings(tmp_path):
    from console.ui.bindings import BINDING_IDS
    from console.ui.keymap import load_keymap

    doc = (REPO_ROOT / "docs" / "console.md").read_text(encoding="utf-8")
    example = re.search(r"```toml\n(.*?)```", doc, re.S).group(1)
    path = tmp_path / "keymap.toml"
    path.write_text(example, encoding="utf-8")
    keymap = load_keymap(path, BINDING_IDS)
    assert keymap == {"note": "N", "step-locate": "l,2", "run": "f5,r", "palette": "colon,ctrl+p"}
    for binding_id in re.findall(r"^\| `([a-z-]+)` \|", doc, re.M):
        assert binding_id in BINDING_IDS, f"docs/console.md lists unknown id {binding_id}"


def test_keymap_errors_name_the_file_and_the_id(tmp_path):
    from console.ui.bindings import BINDING_IDS
    from console.ui.keymap import load_keymap

    path = tmp_path / "keymap.toml"
    path.write_text('[keymap]\n"nte" = "N"\n"run" = ""\n', encoding="utf-8")
    with pytest.raises(ConsoleError) as err:
        load_keymap(path, BINDING_IDS)
    message = str(err.value)
    assert str(path) in message and 'keymap."nte": unknown binding id' in message
    assert 'keymap."run": the key must be a non-empty string' in message
    with pytest.raises(ConsoleError, match="does not exist"):
        load_keymap(tmp_path / "missing.toml", BINDING_IDS)


def test_default_keymap_file_comes_from_xdg_config_home(tmp_path, monkeypatch):
    from console.ui.bindings import BINDING_IDS
    from console.ui.keymap import load_keymap

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert load_keymap(None, BINDING_IDS) == {}
    (tmp_path / "incident-console").mkdir()
    (tmp_path / "incident-console" / "keymap.toml").write_text('[keymap]\n"quit" = "Q"\n')
    assert load_keymap(None, BINDING_IDS) == {"quit": "Q"}


def test_every_binding_has_an_id_and_a_tooltip_and_no_swallowed_key():
    from console.ui.bindings import APP_BINDINGS

    swallowed = {"ctrl+s", "ctrl+q", "ctrl+b", "ctrl+z", "ctrl+c"}
    ids = [b.id for b in APP_BINDINGS]
    assert all(ids) and len(ids) == len(set(ids))
    assert all(b.tooltip for b in APP_BINDINGS)
    assert not {k for b in APP_BINDINGS for k in b.key.split(",")} & swallowed


def test_step_states_come_from_the_trail():
    from console.ui.state import Progress

    class E:
        def __init__(self, step, action, result=None, **params):
            self.step, self.action, self.params, self.result = step, action, params, result or {}

    entries = [
        E("session", "open"),
        E("triage", "triage"),
        E("triage", "decide", verdict="confirmed"),
        E("locate", "rank_candidates"),
        E("intervene", "shadow_recompute", edge=["a", "b"]),
        E("intervene", "mark_edge", edge=["a", "b"], mark="broken"),
    ]
    progress = Progress.from_entries(entries)
    assert progress.next_step() == "counterfactual"
    assert progress.states("counterfactual") == {
        "triage": "done",
        "locate": "done",
        "intervene": "broken",
        "counterfactual": "current",
        "validate": "pending",
        "report": "pending",
    }
    progress.add_entry(E("report", "write"))
    assert progress.states("report")["validate"] == "skipped"
    alarm = Progress.from_entries([E("triage", "decide", verdict="false_alarm")])
    assert alarm.next_step() == "report"
    assert alarm.states("report")["locate"] == "skipped"


def test_cli_parser_does_not_load_textual():
    code = (
        "import sys\n"
        "from console.cli import build_parser\n"
        "build_parser().parse_args(['open', 'p.toml', '--telemetry', 'd'])\n"
        "sys.exit(1 if 'textual' in sys.modules else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_gameday_start_unknown_scenario_is_one_line_on_stderr(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "console", "gameday", "start", "no-such-scenario"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "no bundled scenario 'no-such-scenario'" in done.stderr
    assert SCENARIO in done.stderr and "Traceback" not in done.stderr


def test_open_with_a_missing_playbook_fails_before_the_screen_changes(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "console",
            "open",
            str(tmp_path / "nope.toml"),
            "--telemetry",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "nope.toml" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "incidents").exists() or not any((tmp_path / "incidents").iterdir())
