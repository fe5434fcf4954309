"""The console draws its first screen sooner (issue 21, item 6): the app's module loads
neither the plot library, the engine (nor pyarrow, duckdb, networkx) nor the Report pane's
Markdown renderer, the investigation opens after the first frame, and the triage checks start
after that frame, not before it."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from loaded_modules import loaded_by
from test_ui_helpers import (
    ACTOR,
    SCENARIO,
    copy_scenario,
    fixed_clock,
    freeze_trail_clock,
    open_game_day,
    screen_text,
    settle,
    single_threaded_duckdb,
)

# Modules the first frame does not need: the Triage plot (plotext), the engine's steps (the
# interventions registry, counterfactuals, the report with jinja2) and the game day's grading.
NOT_AT_START = (
    "textual_plotext",
    "plotext",
    "console.engine.investigation",
    "console.engine.interventions",
    "console.engine.counterfactual",
    "console.engine.report",
    "console.engine.usecases",
    "console.gameday.grading",
    "jinja2",
    # The Report pane's Markdown (markdown-it): drawn with the first report shown.
    "rich.markdown",
    "markdown_it",
    # The store's libraries: the open imports them, after the first frame.
    "console.engine.context",
    "console.telemetry.store",
    "pyarrow",
    "duckdb",
    "networkx",
)


def test_the_console_module_loads_no_plot_and_no_engine_step():
    loaded = loaded_by("import console.ui.app", NOT_AT_START)
    # Before the change: every one of them (console.ui.app imported the Investigation,
    # which imports every step, and the Triage pane imported textual_plotext); before the
    # open moved after the first frame, the store's (console.engine.context, parse_utc's
    # console.telemetry.windows, the Locate pane's networkx).
    assert loaded == []


# What the open command loads before the app draws, besides: the trail's exporter and verifier
# (csv, multiprocessing, ctypes), which the trail group's options and the audit package's
# eager imports used to pull in (0.1 s), and the store, which the playbook's view check did.
NOT_BEFORE_THE_FRAME = (
    *NOT_AT_START,
    "console.audit.export",
    "console.audit.verification",
    "console.audit.trail",
    "multiprocessing",
)


def test_the_open_command_loads_no_store_and_no_exporter_before_the_app_runs(tmp_path):
    # The open's path up to IncidentApp.run: its arguments, settings and cheap checks.
    folder = tmp_path / copy_scenario(tmp_path)
    code = (
        "from pathlib import Path\n"
        "from console.cli import build_parser\n"
        "from console.commands import open as command\n"
        f"folder = Path({str(folder)!r})\n"
        "args = build_parser('open').parse_args(\n"
        "    ['open', str(folder / 'playbook.toml'), '--telemetry', str(folder)])\n"
        "command.console_settings(args)\n"
        "command.check_before_open(\n"
        "    folder / 'playbook.toml', folder, folder.parent / 'incident', None)\n"
        "import console.ui.app, console.ui.opening\n"
    )
    # Before: console.audit.export, .verification, .trail, multiprocessing and duckdb.
    assert loaded_by(code, NOT_BEFORE_THE_FRAME) == []


async def test_triage_starts_after_the_first_frame_and_the_plot_joins_with_its_result(
    tmp_path, monkeypatch
):
    inv, app = open_game_day(tmp_path, monkeypatch)
    started: list[bool] = []
    run_triage = app.run_triage

    def recording() -> None:
        # Whether a frame was already drawn when the checks start (the screen's compositor
        # holds a map of the widgets only once it has laid them out).
        started.append(bool(app.screen._compositor.visible_widgets))
        run_triage()

    app.run_triage = recording  # type: ignore[method-assign]
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            # Before the change the checks started in on_mount, before any frame: [False].
            assert started == [True]
            # The plot is mounted with the first result, beside the checks.
            plot = app.query_one("#triage-plot")
            assert plot.display and plot.size.width >= 30
            assert "baseline value" in str(plot.render())
    finally:
        inv.close()


def _opening(tmp_path: Path, monkeypatch, open_call):
    """(Opening, IncidentApp) on a copy of the scenario, as the CLI builds them: the playbook
    parsed, the investigation opened by open_call(folder) on the app's opening thread."""
    from console.playbook.loader import load_playbook
    from console.ui.app import GameDay, IncidentApp
    from console.ui.opening import Opening

    folder = copy_scenario(tmp_path)
    freeze_trail_clock(monkeypatch)
    monkeypatch.chdir(tmp_path)
    single_threaded_duckdb(monkeypatch)
    opening = Opening(
        load_playbook(folder / "playbook.toml"), Path("inc"), lambda: open_call(folder)
    )
    return opening, IncidentApp(opening, gameday=GameDay(SCENARIO, folder), clock=fixed_clock)


async def _until_open(pilot) -> None:
    for _ in range(400):
        if pilot.app.is_open:
            return
        await pilot.pause(0.05)
    raise AssertionError("the investigation did not open")


async def test_the_first_frame_is_drawn_before_the_investigation_opens(tmp_path, monkeypatch):
    from console.engine.investigation import Investigation

    release = threading.Event()

    def open_when_released(folder: Path) -> Investigation:
        # Blocks until the test has seen the first screen: drawn while the open is running.
        assert release.wait(60)
        return Investigation.open(folder / "playbook.toml", folder, Path("inc"), actor=ACTOR)

    opening, app = _opening(tmp_path, monkeypatch, open_when_released)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            text = screen_text(app)
            # The Triage pane's shell and the incident it is opening, before the open returned.
            # Before the change the app could not be built without an open Investigation.
            assert "opening inc …" in text and "evidence" in text
            assert not app.is_open and not Path("inc").exists()
            # The keys that need the investigation wait for it; moving between steps does not.
            assert not app.check_action("run", ())
            assert not app.check_action("note", ())
            assert app.check_action("goto", ("locate",))
            await pilot.press("r")
            assert app.running is None and not app.results
            release.set()
            await _until_open(pilot)
            await settle(pilot)
            # Then as a console opened directly: the triage checks ran, the hint is the step's.
            assert "triage" in app.results and app.check_action("run", ())
            assert "opening inc" not in screen_text(app)
            assert [e.action for e in app.tail.entries][:2] == ["open", "triage"]
    finally:
        release.set()
        opening.wait()
        if opening.inv is not None:
            opening.inv.close()


async def test_quitting_while_it_opens_leaves_a_whole_incident(tmp_path, monkeypatch):
    """q while the open runs ends the app at once; the open still ends whole (the CLI waits
    for it and closes it), and its success is no error."""
    from console.audit import read_entries
    from console.engine.investigation import Investigation

    release = threading.Event()

    def open_when_released(folder: Path) -> Investigation:
        assert release.wait(60)
        return Investigation.open(folder / "playbook.toml", folder, Path("inc"), actor=ACTOR)

    opening, app = _opening(tmp_path, monkeypatch, open_when_released)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("q")
    assert not app.is_running
    release.set()
    opening.wait()
    assert opening.error is None and opening.inv is not None
    opening.inv.close()
    assert [e.action for e in read_entries(Path("inc"))] == ["open"]


async def test_an_investigation_that_does_not_open_ends_the_app_with_its_error(
    tmp_path, monkeypatch
):
    from console.errors import ConsoleError

    def no_store(folder: Path):
        raise ConsoleError("telemetry is unreadable")

    opening, app = _opening(tmp_path, monkeypatch, no_store)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(100):
            if not app.is_running:
                break
            await pilot.pause(0.05)
    opening.wait()
    # The app ended by itself (exit 2); the CLI then prints the error, as before the screen.
    assert app.return_code == 2
    assert isinstance(opening.error, ConsoleError) and opening.inv is None
    assert not Path("inc").exists()


def test_a_trail_open_in_another_console_ends_before_any_screen(tmp_path):
    """The lock is one of the CLI's checks before the app starts: one line, exit 2."""
    from console.audit import Trail

    incident = tmp_path / "inc"
    folder = copy_scenario(tmp_path)
    with Trail.open(incident, actor="someone-else"):
        done = subprocess.run(
            [
                sys.executable, "-m", "console", "open", str(folder / "playbook.toml"),
                "--telemetry", str(folder), "--incident-dir", str(incident),
            ],
            capture_output=True, text=True, cwd=tmp_path, timeout=60,
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "is open for writing by someone-else" in done.stderr
    assert "Traceback" not in done.stderr and "\x1b" not in done.stdout
