"""The console's steps, in order: one row each, read by the app's layout, `r`, the keys that
belong to a step, resume, the step rail's titles and the command palette.

Adding a step screen: its pane (console/ui/steps/<step>.py), its row here, its result message
(console/ui/messages.py) and the app's `run_<step>` and `@on` handler (console/ui/app.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from console.audit.vocabulary import Step
from console.ui.steps.base import StepPane
from console.ui.steps.counterfactual import CounterfactualPane
from console.ui.steps.intervene import IntervenePane
from console.ui.steps.locate import LocatePane
from console.ui.steps.report import ReportPane
from console.ui.steps.triage import TriagePane
from console.ui.steps.validate import ValidatePane

if TYPE_CHECKING:
    from console.ui.app import IncidentApp

Restore = Callable[["IncidentApp", Any], None]


@dataclass(frozen=True)
class StepSpec:
    id: str  # the trail's step name (console.audit.vocabulary.STEPS, in its order; a test
    # keeps them equal), the pane's widget id
    title: str  # the rail's, the palette's and the notifications' name for it
    pane: type[StepPane]
    run: Callable[[IncidentApp], None]  # what r does on this step
    # On resume: each (console.engine.revive.last_results key, how the app shows it), in order.
    resume: tuple[tuple[str, Restore], ...]
    actions: tuple[str, ...] = ()  # actions enabled only while this step is shown


STEP_TABLE: tuple[StepSpec, ...] = (
    StepSpec(
        Step.TRIAGE,
        "Triage",
        TriagePane,
        lambda app: app.run_triage(),
        (("triage", lambda app, r: app.show_triage(r)),),
        ("decide",),
    ),
    StepSpec(
        Step.LOCATE,
        "Locate",
        LocatePane,
        lambda app: app.run_locate(),
        (("locate", lambda app, r: app.show_locate(r)),),
    ),
    StepSpec(
        Step.INTERVENE,
        "Intervene",
        IntervenePane,
        lambda app: app.run_intervene(),
        (("intervene", lambda app, r: app.show_intervention(r, tuple(r.edge))),),
        ("mark",),
    ),
    StepSpec(
        Step.COUNTERFACTUAL,
        "Counterfactual",
        CounterfactualPane,
        lambda app: app.run_counterfactual(),
        (
            ("counterfactual", lambda app, r: app.show_blast_radius(r)),
            ("explain", lambda app, r: app.show_explanation(r)),
        ),
        ("explain_id",),
    ),
    StepSpec(
        Step.VALIDATE,
        "Validate",
        ValidatePane,
        lambda app: app.run_validate(),
        (("validate", lambda app, r: app.show_validation(r)),),
        ("postfix_start", "proposal"),
    ),
    StepSpec(
        Step.REPORT,
        "Report",
        ReportPane,
        lambda app: app.run_report(),
        (),  # the report is read back from its file (IncidentApp.report_text)
        ("export",),
    ),
)

STEP_SPECS: dict[str, StepSpec] = {spec.id: spec for spec in STEP_TABLE}
TITLES: dict[str, str] = {spec.id: spec.title for spec in STEP_TABLE}
# Each step-bound action -> the step it belongs to.
STEP_ACTIONS: dict[str, str] = {a: spec.id for spec in STEP_TABLE for a in spec.actions}
