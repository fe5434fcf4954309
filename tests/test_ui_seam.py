"""The UI's table of steps is the one list of screens: the same steps as the trail's, each
with a pane of its own and a `r` that exists, and every step-bound key's step in it."""

from __future__ import annotations

from console.audit.vocabulary import STEPS
from console.ui.app import IncidentApp
from console.ui.bindings import APP_BINDINGS
from console.ui.steps.base import StepPane
from console.ui.steps.table import STEP_ACTIONS, STEP_TABLE


def test_the_table_holds_the_trails_steps_in_order() -> None:
    assert tuple(spec.id for spec in STEP_TABLE) == STEPS
    panes = [spec.pane for spec in STEP_TABLE]
    assert len(set(panes)) == len(panes) and all(issubclass(p, StepPane) for p in panes)
    assert [p.STEP for p in panes] == list(STEPS)


def test_each_step_bound_action_is_a_key_of_the_app() -> None:
    actions = {b.action.split("(")[0] for b in APP_BINDINGS}
    assert set(STEP_ACTIONS) <= actions
    assert set(STEP_ACTIONS) >= {"decide", "mark", "explain_id", "postfix_start", "export"}


class Recorder:
    """Stands for the app: records the names of the methods called on it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> object:
        return lambda *args: self.calls.append(name)


def test_r_on_each_step_runs_that_steps_own_method() -> None:
    for spec in STEP_TABLE:
        app = Recorder()
        spec.run(app)  # type: ignore[arg-type]
        assert app.calls == [f"run_{spec.id}"]
        assert f"run_{spec.id}" in vars(IncidentApp)
