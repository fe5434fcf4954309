"""The console draws its first screen sooner (issue 21, item 6): the app's module loads
neither the plot library nor the engine's steps, and the triage checks start after the first
frame, not before it."""

from __future__ import annotations

import subprocess
import sys

from test_ui_helpers import open_game_day, settle

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
)


def test_the_console_module_loads_no_plot_and_no_engine_step():
    code = (
        "import sys\n"
        "import console.ui.app\n"
        f"print(' '.join(m for m in {NOT_AT_START!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # Before the change: every one of them (console.ui.app imported the Investigation,
    # which imports every step, and the Triage pane imported textual_plotext).
    assert done.stdout.split() == []


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
