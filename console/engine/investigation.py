"""Investigation: one incident, driven step by step, every step recorded in the audit trail.

    inv = Investigation.open(playbook_path, telemetry_dir, incident_dir)
    inv.triage(); inv.locate(); inv.intervene(("raw_x", "f_x")); inv.mark_edge(...)
    inv.counterfactual(edge); inv.explain(prediction_id); inv.validate(edge); inv.report()

Every method is synchronous (the UI calls it from a worker thread) and records itself through
one function, Investigation.record, before returning: the trail entry is written and fsynced
first, so whatever a person sees is already on disk. Results are the dataclasses of
console.engine.results; the trail stores their to_dict(). docs/engine.md is the contract.
"""

from __future__ import annotations

import functools
import inspect
import os
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar

import pyarrow as pa

from console.audit import Entry, Evidence, Trail
from console.audit.vocabulary import CAUSE_MARKS, EDGE_MARKS, Action, Step
from console.engine import counterfactual as cf
from console.engine import report as report_step
from console.engine import validate as validate_step
from console.engine.context import Context, ScenarioHints, read_scenario_hints, result_window
from console.engine.counterfactual import EvidenceTable
from console.engine.interventions import Outcome, kind_of, run_intervention
from console.engine.locate import run_locate
from console.engine.report_figures import warm_up
from console.engine.results import (
    BlastRadius,
    Conclusion,
    Explanation,
    InterventionResult,
    LocateResult,
    Proposal,
    ReportResult,
    Result,
    TriageResult,
    ValidationResult,
    Window,
)
from console.engine.revive import STATE_STEPS, resume_state
from console.engine.triage import run_triage
from console.engine.verdict import judge
from console.errors import ConsoleError
from console.files import file_sha256
from console.playbook import writeback
from console.playbook.loader import load_playbook
from console.playbook.model import Edge as PlaybookEdge
from console.playbook.model import Playbook
from console.telemetry.binding import require_fit
from console.telemetry.evidence import EvidenceRef, snapshot, write_evidence
from console.telemetry.sources.bind import label_of
from console.telemetry.sources.capture import (
    capture_start,
    keep_captures,
    read_captures,
    read_span,
)
from console.telemetry.store import QueryFailed, TelemetryStore, open_store
from console.telemetry.windows import format_utc, latest_timestamp, resolve_windows

Edge = tuple[str, str]
# Test hook (tests/test_engine_accept_crash.py): the process SIGKILLs itself at the named point
# of decide_proposal, to prove a crash there is noticed by the next open. Unset in real use.
CRASH_AT_ENV = "INCIDENT_CONSOLE_CRASH_AT"
Params = ParamSpec("Params")
Returned = TypeVar("Returned")
Method = Callable[Concatenate["Investigation", Params], Returned]


def _step(
    name: str, failed: str = Action.FAILED
) -> Callable[[Method[Params, Returned]], Method[Params, Returned]]:
    """How every step runs, in one place: its queries under the step's time limit ([limits]);
    a ConsoleError recorded as (name, failed) with the call's arguments and the node and key
    at fault, kept in Investigation.failures, then raised; a success clears that failure.
    failed="explain_failed" (a drill-in of the counterfactual) leaves failures alone."""

    def wrap(method: Method[Params, Returned]) -> Method[Params, Returned]:
        signature = inspect.signature(method)

        # self is positional-only, as Concatenate types it (so the wrapper keeps the method's type).
        @functools.wraps(method)
        def run(self: Investigation, /, *args: Params.args, **kwargs: Params.kwargs) -> Returned:
            seconds, key = self.playbook.limits.for_step(name)
            try:
                with self.store.time_limit(seconds, name, f"{key} in {self.playbook.path}"):
                    result = method(self, *args, **kwargs)
            except ConsoleError as exc:
                params = self._call_params(signature, args, kwargs, failed == Action.FAILED)
                self._record_failure(name, failed, params, exc)
                raise
            if failed == Action.FAILED:
                self.failures.pop(name, None)
            return result

        return run

    return wrap


class Investigation:
    """The engine's handle on one incident; build it with Investigation.open()."""

    def __init__(self, ctx: Context, trail: Trail, telemetry_dir: Path | None) -> None:
        self.ctx = ctx
        self.trail = trail
        self.telemetry_dir = telemetry_dir
        self.triage_result: TriageResult | None = None
        self.triage_decision: str | None = None
        self.locate_result: LocateResult | None = None
        self.interventions: dict[Edge, InterventionResult] = {}
        self.marks: dict[Edge, tuple[str, str]] = {}  # edge -> (mark, note), latest wins
        self.blast_radius: BlastRadius | None = None
        self.conclusion: Conclusion | None = None  # the automatic run's (console.engine.auto)
        self.validation: ValidationResult | None = None
        self.proposal: Proposal | None = None
        self._writeback: writeback.Proposal | None = None
        self.report_result: ReportResult | None = None
        # step -> the error of its latest failure; a later success of the step removes it.
        self.failures: dict[str, str] = {}
        self._mutex = threading.Lock()

    # -- opening and closing ----------------------------------------------------------------

    @classmethod
    def open(
        cls,
        playbook_path: str | Path,
        telemetry_dir: str | Path | None,
        incident_dir: str | Path,
        actor: str | None = None,
        alert_at: datetime | None = None,
        metric: str | None = None,
        incident: timedelta | None = None,
    ) -> Investigation:
        """Load the playbook, open the telemetry read-only, resolve the windows, open the trail.

        incident: the incident window's length instead of the playbook's [windows] incident
        (the audit's --window); the trail's open entry records the windows resolved with it.

        telemetry_dir may be None when the playbook declares a source for every table. The
        rows read from declared sources are captured into the incident's evidence at open
        (console/telemetry/sources/capture.py) and every step reads those copies; a Spark
        table is read in place and the open entry records its version instead.

        alert_at defaults to scenario.toml's alert_at beside the telemetry, else the end of the
        newest bucket of the triage metric's series (not later than the newest decision);
        metric defaults to scenario.toml's metric, else [triage] metric.
        """
        playbook_path = Path(playbook_path)
        telemetry_dir = Path(telemetry_dir) if telemetry_dir is not None else None
        playbook = load_playbook(playbook_path)
        if incident is not None:
            playbook = replace(playbook, windows=replace(playbook.windows, incident=incident))
        hints = read_scenario_hints(telemetry_dir) if telemetry_dir else ScenarioHints()
        metric = incident_metric(playbook, playbook_path, hints, metric)
        alert_at = alert_at or hints.alert_at
        span = read_span(playbook.windows, alert_at, playbook.triage.bucket, datetime.now(UTC))
        store = open_store(telemetry_dir, playbook.tables, span=span)
        limit = (playbook.limits.query_seconds, "open", f"limits.query_seconds in {playbook_path}")
        try:
            with store.time_limit(*limit):
                if not playbook.tables.sources:
                    require_fit(playbook, store)
                alert_at, windows = incident_windows(store, playbook, alert_at, metric)
                captured: dict[str, pa.Table] = {}
                start = alert_at
                if playbook.tables.sources:
                    # Checked on the captured rows: on the live sources the contract's counts
                    # would scan every remote row.
                    start = capture_start(playbook.windows, alert_at, playbook.triage.bucket)
                    captured = _captures(store, playbook, start)
                    require_fit(playbook, store)
                ctx = Context(playbook, store, Path(incident_dir), alert_at, metric, windows)
            trail = Trail.open(incident_dir, actor=actor)
            refs = keep_captures(store, captured, Path(incident_dir), start) if captured else []
        except BaseException:
            store.close()
            raise
        inv = cls(ctx, trail, telemetry_dir)
        inv._resume()
        inv.record(
            Step.SESSION,
            Action.OPEN,
            {
                "playbook": str(playbook_path),
                "playbook_sha256": file_sha256(playbook_path),
                "telemetry": str(telemetry_dir) if telemetry_dir is not None else "",
                # Which engine ran the queries, with its version (docs/spark.md).
                "engine": store.engine,
                # Where each declared source was read (no credentials: docs/telemetry.md).
                "sources": {s.table: label_of(s) for s in playbook.tables.sources},
                # Sources read where they live, not captured (a Spark table): which version
                # the steps read, where the catalog says it (docs/spark.md).
                "read_in_place": store.read_in_place,
                "alert_at": format_utc(alert_at),
                "metric": metric,
                # Every export redacts these, with or without the playbook at hand.
                "sensitive": list(playbook.sensitive),
            },
            {"windows": [w.to_dict() for w in windows.values()], "model": playbook.model.name},
            [ref.to_dict() for ref in refs],
        )
        inv._settle_accept()
        return inv

    def _resume(self) -> None:
        """What an earlier session of this incident recorded still holds: the engineer's
        triage decision and edge marks, the latest result of each step (read back from the
        trail, not recomputed) and the steps whose latest attempt failed, so a report written
        after a restart tells the whole story. Only the latest entry of each kind is parsed
        (Trail.latest_entries), so a long trail resumes fast and in bounded memory."""
        state = resume_state(self.trail.latest_entries(STATE_STEPS))
        self.triage_result = state.results.get(Step.TRIAGE)
        self.locate_result = state.results.get(Step.LOCATE)
        self.blast_radius = state.results.get(Step.COUNTERFACTUAL)
        self.validation = state.results.get(Step.VALIDATE)
        self.interventions.update(state.interventions)
        self.triage_decision = state.triage_decision
        self.marks.update(state.marks)
        self.failures.update(state.failures)

    def close(self) -> None:
        self.ctx.store.close()
        self.trail.close()

    def __enter__(self) -> Investigation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def cancel(self) -> None:
        """Interrupt the running query (safe from another thread); the step raises."""
        self.ctx.store.interrupt()

    # -- what the UI reads --------------------------------------------------------------------

    @property
    def playbook(self) -> Playbook:
        return self.ctx.playbook

    @property
    def store(self) -> TelemetryStore:
        return self.ctx.store

    @property
    def windows(self) -> dict[str, Window]:
        return self.ctx.windows

    @property
    def incident_dir(self) -> Path:
        return self.ctx.incident_dir

    @property
    def metric(self) -> str:
        return self.ctx.metric

    @property
    def alert_at(self) -> datetime:
        return self.ctx.alert_at

    # -- the one way a step is recorded -------------------------------------------------------

    def record(
        self,
        step: str,
        action: str,
        params: dict[str, Any] | None = None,
        result: Result | dict[str, Any] | None = None,
        evidence: Sequence[Evidence | dict[str, str]] | None = None,
    ) -> Entry:
        """Append the step to the trail (written and fsynced before returning)."""
        body = result.to_dict() if isinstance(result, Result) else (result or {})
        with self._mutex:
            return self.trail.append(step, action, params or {}, body, list(evidence or []))

    def _record_failure(
        self, step: str, action: str, params: dict[str, Any], exc: ConsoleError
    ) -> None:
        """The trail entry of a failed step (docs/engine.md), written before the error is
        shown; when even that cannot be written the error says so."""
        message = str(exc)
        if action == Action.FAILED:
            self.failures[step] = message
        params = {**params, "node": exc.node, "key": exc.key}
        try:
            self.record(step, action, params, {"error": message})
        except (ConsoleError, OSError) as unrecorded:
            raise ConsoleError(
                f"{message}; this failure could not be recorded in the trail: {unrecorded}",
                node=exc.node,
                key=exc.key,
            ) from exc

    def _call_params(
        self,
        signature: inspect.Signature,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        root: bool,
    ) -> dict[str, Any]:
        """A step's arguments as the trail stores them; with root, a defaulted edge is the one
        the step used (the root cause)."""
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        params = {k: _plain(v) for k, v in bound.arguments.items() if k != "self"}
        if root and "edge" in params and params["edge"] is None:
            found = self.root_cause()
            params["edge"] = list(found[0]) if found else None
        return params

    # -- 1. triage ----------------------------------------------------------------------------

    @_step(Step.TRIAGE)
    def triage(self) -> TriageResult:
        result = run_triage(self.ctx)
        # The reported and recomputed series, bucket by bucket, kept as the triage's evidence.
        series = pa.table(
            {
                "ts": pa.array([p.ts for p in result.series], pa.timestamp("us", tz="UTC")),
                "reported": pa.array([p.reported for p in result.series], pa.float64()),
                "recomputed": pa.array([p.recomputed for p in result.series], pa.float64()),
            }
        )
        name = f"{self.trail.count + 1:04d}-triage-{self.metric}-series"[:120]
        ref = write_evidence(series, self.incident_dir, name, sql="\n;\n".join(result.sql))
        self.record(
            Step.TRIAGE,
            Action.TRIAGE,
            {"metric": self.metric, "alert_at": format_utc(self.alert_at)},
            result,
            [ref.to_dict()],
        )
        self.triage_result = result
        return result

    def decide_triage(self, verdict: Literal["confirmed", "false_alarm"], note: str = "") -> None:
        if verdict not in ("confirmed", "false_alarm"):
            raise ConsoleError(f"triage decision {verdict!r}: choose confirmed or false_alarm")
        self.record(Step.TRIAGE, Action.DECIDE, {"verdict": verdict, "note": note})
        self.triage_decision = verdict

    # -- 2. locate ----------------------------------------------------------------------------

    @_step(Step.LOCATE)
    def locate(self) -> LocateResult:
        result = run_locate(self.ctx)
        self.record(Step.LOCATE, Action.RANK_CANDIDATES, {"metric": self.metric}, result)
        self.locate_result = result
        return result

    # -- 3. intervene -------------------------------------------------------------------------

    @_step(Step.INTERVENE)
    def intervene(
        self, edge: Edge, window: Window | None = None, kind: str | None = None
    ) -> InterventionResult:
        """Run one of the edge's planned interventions (`kind`: its type; default the first)
        on the baseline against the incident, or `window`."""
        edge_obj = self.ctx.edge(*edge)
        planned = edge_obj.intervention
        if kind is not None:
            planned = next((i for i in edge_obj.planned if i.type == kind), None)
            if planned is None:
                raise ConsoleError(
                    f"{self.playbook.path}: edge {edge[0]} -> {edge[1]} plans no {kind} "
                    f"intervention (it plans: {', '.join(i.type for i in edge_obj.planned) or 'none'})"
                )
        outcome = run_intervention(self.ctx, edge_obj, window, planned)
        result = self._with_evidence(outcome, Step.INTERVENE)
        if window is None and result.verdict == "broken" and kind_of(result.type).may_be_external:
            # A shift says the node moved, not why: the evidence for a broken pipeline against
            # a changing world goes with it (console.engine.verdict), for the engineer's call.
            judgement = judge(self.ctx, result.node)
            result = replace(
                result,
                reasons=[*result.reasons, *judgement.reasons()],
                statistics={**result.statistics, "judgement": judgement.call},
            )
        self.record(
            Step.INTERVENE,
            result.type,
            {
                "edge": list(edge),
                "planned": planned is not None,
                "params": _plain_params(planned.params if planned else {}),
            },
            result,
            result.evidence,
        )
        if window is None:
            self.interventions[_key(edge)] = result
        return result

    def intervene_planned(self, edge: Edge) -> list[InterventionResult]:
        """Every planned intervention of the edge in priority order, until one finds the edge
        broken; a "broken" that may only mean the world moved (distribution_shift) does not
        stop the run, so a later, more direct test can still speak. The decisive result (the
        first broken one that is not such, else the first such, else the last) is the edge's
        result in `interventions`. An edge without a planned intervention gets its default
        comparison. A failed intervention is recorded by intervene() and skipped; when every
        one fails, the last failure is raised."""
        edge_obj = self.ctx.edge(*edge)
        kinds: list[str | None] = [i.type for i in edge_obj.planned] or [None]
        results: list[InterventionResult] = []
        failure: ConsoleError | None = None
        for kind in kinds:
            try:
                result = self.intervene(edge, kind=kind)
            except ConsoleError as exc:
                failure = exc
                continue
            results.append(result)
            if result.verdict == "broken" and not kind_of(result.type).may_be_external:
                break
        broken = [r for r in results if r.verdict == "broken"]
        direct = [r for r in broken if not kind_of(r.type).may_be_external]
        if not results and failure is not None:
            raise failure
        self.interventions[_key(edge)] = (direct or broken or results[-1:])[0]
        return results

    def _with_evidence(self, outcome: Outcome, step: str) -> InterventionResult:
        result = outcome.result
        name = _evidence_name(self.trail.count + 1, step, result.edge, result.windows[-1].name)
        if outcome.evidence_table is not None:
            ref = write_evidence(
                outcome.evidence_table, self.incident_dir, name,
                sql=outcome.evidence_sql, params=_json_params(outcome.evidence_params),
            )  # fmt: skip
        else:
            ref = snapshot(
                self.store, outcome.evidence_sql, outcome.evidence_params, self.incident_dir, name
            )
        return replace(result, evidence=[ref.to_dict()])

    def mark_edge(
        self, edge: Edge, mark: Literal["broken", "external", "cleared"], note: str = ""
    ) -> None:
        """The engineer's root-cause call on an edge (latest mark wins)."""
        if mark not in EDGE_MARKS:
            raise ConsoleError(f"edge mark {mark!r}: choose one of {', '.join(EDGE_MARKS)}")
        self.ctx.edge(*edge)
        tested = self.interventions.get(_key(edge))
        self.record(
            Step.INTERVENE,
            Action.MARK_EDGE,
            {"edge": list(edge), "mark": mark, "note": note},
            {"intervention_verdict": tested.verdict if tested else None},
        )
        self.marks.pop(_key(edge), None)  # re-insert: the latest mark comes last
        self.marks[_key(edge)] = (mark, note)

    def conclude(self, conclusion: Conclusion) -> None:
        """Record the automatic run's conclusion: the cause it names, how much of the anomaly
        that explains, its confidence and the alternatives it rejected, with why."""
        self.record(Step.INTERVENE, Action.CONCLUDE, {}, conclusion)
        self.conclusion = conclusion

    def root_cause(self) -> tuple[Edge, str] | None:
        """The edge most recently marked broken or external, with its mark."""
        for edge, (mark, _) in reversed(list(self.marks.items())):
            if mark in CAUSE_MARKS:
                return edge, mark
        return None

    # -- 4. counterfactual --------------------------------------------------------------------

    @_step(Step.COUNTERFACTUAL)
    def counterfactual(self, edge: Edge | None = None) -> BlastRadius:
        """Re-score the incident window with the broken value corrected (the edge marked
        broken when none is given)."""
        edge = self._edge_or_root(edge)
        result, evidence = cf.blast_radius(self.ctx, self._as_found(edge))
        ref = self._keep(evidence, Step.COUNTERFACTUAL, edge)
        self.record(Step.COUNTERFACTUAL, Action.BLAST_RADIUS, {"edge": list(edge)}, result, [ref])
        self.blast_radius = result
        return result

    @_step(Step.COUNTERFACTUAL, failed=Action.EXPLAIN_FAILED)
    def explain(self, prediction_id: str, edge: Edge | None = None) -> Explanation:
        if edge is None:
            found = self.root_cause()
            edge = found[0] if found and found[1] == "broken" else None
        result = cf.explain(self.ctx, prediction_id, self._as_found(edge) if edge else None)
        self.record(
            Step.COUNTERFACTUAL,
            Action.EXPLAIN,
            {"prediction_id": prediction_id, "edge": list(edge) if edge else None},
            result,
        )
        return result

    # -- 5. validate --------------------------------------------------------------------------

    @_step(Step.VALIDATE)
    def validate(self, edge: Edge | None = None, start: datetime | None = None) -> ValidationResult:
        edge = self._edge_or_root(edge)
        # The report comes next: matplotlib (0.35 to 0.5 s to import) loads during the queries
        # below, not while the person waits for the report's figures.
        warm_up()
        mark = self.marks.get(edge, ("broken", ""))[0]
        outcome, window, metrics = validate_step.postfix_check(
            self.ctx, self.ctx.edge(*edge), start
        )
        intervention = self._with_evidence(outcome, Step.VALIDATE)
        proposal, wb = validate_step.propose_update(
            self.ctx, self.ctx.edge(*edge), mark, self.interventions.get(edge), intervention
        )
        result = validate_step.validation_result(
            self.ctx, edge, window, intervention, metrics, proposal
        )
        self.record(
            Step.VALIDATE,
            Action.POSTFIX,
            {"edge": list(edge), "start": format_utc(window.start)},
            result,
            intervention.evidence,
        )
        self.validation, self.proposal, self._writeback = result, proposal, wb
        return result

    def decide_proposal(self, accept: bool) -> Path | None:
        """Accept (replace the authored playbook, keeping a backup) or reject the proposal.

        Accepting writes three things in order: the intent (the trail entry
        `accept_intent` with the sha256 of the proposal and of the authored playbook before
        and after), the replacement, and its confirmation (`accept_proposal`). A crash in
        between leaves an intent without an outcome, which the next open settles.
        """
        if self._writeback is None:
            raise ConsoleError("no playbook update has been proposed: run validate first")
        proposed = self.proposal.path if self.proposal else ""
        if not accept:
            self.record(Step.VALIDATE, Action.REJECT_PROPOSAL, {"proposed": proposed})
            return None
        wb = self._writeback
        proposed_sha256 = file_sha256(wb.proposed)
        intent = self.record(
            Step.VALIDATE,
            Action.ACCEPT_INTENT,
            {
                "proposed": proposed,
                "authored": str(wb.authored),
                "proposed_sha256": proposed_sha256,
                "authored_sha256_before": wb.authored_sha256,
                "authored_sha256_after": proposed_sha256,
            },
        )
        outcome = {"proposed": proposed, "intent": intent.seq}
        try:
            _crash_point("accept_intent")
            done = writeback.accept(
                wb.proposed,
                wb.authored,
                authored_sha256=wb.authored_sha256,
                proposed_sha256=proposed_sha256,
            )
            _crash_point("accept_replaced")
        except ConsoleError as exc:
            # The validation stands; only the engineer's accept failed (no step failure).
            self.record(
                Step.VALIDATE,
                Action.ACCEPT_FAILED,
                {**outcome, "node": exc.node, "key": exc.key},
                {"error": str(exc)},
            )
            raise
        self.record(
            Step.VALIDATE,
            Action.ACCEPT_PROPOSAL,
            outcome,
            {"authored": str(done.authored), "backup": str(done.backup)},
        )
        return done.authored

    def _settle_accept(self) -> None:
        """Settle an accept that an earlier session recorded the intent of but not the outcome
        (it was killed in between): the authored playbook holding the proposal records the
        missing confirmation, the original one records that the accept did not happen."""
        # Only validate entries: an intent and its outcome are both recorded under validate,
        # and the other lines are skipped unparsed (an open must not parse a long trail).
        entries = list(self.trail.entries(steps=(Step.VALIDATE,)))
        intent = next(
            (
                e
                for e in reversed(entries)
                if (e.step, e.action) == (Step.VALIDATE, Action.ACCEPT_INTENT)
            ),
            None,
        )
        if intent is None or any(e.params.get("intent") == intent.seq for e in entries):
            return
        authored = Path(str(intent.params.get("authored", "")))
        before = intent.params.get("authored_sha256_before")
        after = intent.params.get("authored_sha256_after")
        try:
            found = file_sha256(authored)
        except OSError as exc:
            found, why = None, exc.strerror or str(exc)
        params = {"proposed": intent.params.get("proposed"), "intent": intent.seq}
        if found is not None and found == after:
            backups = [
                str(b) for b in sorted(authored.parent.glob(f"{authored.name}.*.bak"))
                if file_sha256(b) == before
            ]  # fmt: skip
            result = {
                "authored": str(authored),
                "backup": backups[-1] if backups else None,
                "recovered": "the authored playbook holds the proposal: the accept happened",
            }
            self.record(Step.VALIDATE, Action.ACCEPT_PROPOSAL, params, result)
            return
        if found is not None and found == before:
            outcome = "the authored playbook is unchanged: the accept did not happen"
        elif found is None:
            outcome = f"the authored playbook cannot be read ({why})"
        else:
            outcome = "the authored playbook is neither the original nor the proposal"
        self.record(
            Step.VALIDATE,
            Action.ACCEPT_INTERRUPTED,
            params,
            {"authored": str(authored), "sha256": found, "outcome": outcome},
        )

    # -- 6. report ----------------------------------------------------------------------------

    @_step(Step.REPORT)
    def report(self, tz: str | None = None) -> ReportResult:
        """The post-mortem draft; tz: the IANA zone its times are shown in (default UTC)."""
        # The report quotes the trail up to this entry; the entry recording the report follows.
        result = report_step.write_report(self, tz)
        digest = file_sha256(self.incident_dir / result.path)
        self.record(
            Step.REPORT,
            Action.WRITE,
            {"path": report_step.REPORT_FILE},
            {
                "path": result.path,
                "trail_head": result.trail_head,
                "trail_count": result.trail_count,
                "sha256": digest,
            },
            [{"path": result.path, "sha256": digest}],
        )
        self.report_result = result
        return result

    def note(self, text: str, step: str | None = None) -> None:
        if not text.strip():
            raise ConsoleError("a note needs some text")
        self.record(step or Step.NOTE, Action.NOTE, {"text": text})

    # -- helpers ------------------------------------------------------------------------------

    def _as_found(self, edge: Edge) -> PlaybookEdge:
        """The playbook edge with, as its intervention, the planned one whose incident run
        found it broken (its type decides the counterfactual's correction)."""
        edge_obj = self.ctx.edge(*edge)
        tested = self.interventions.get(_key(edge))
        found = next((i for i in edge_obj.planned if tested and i.type == tested.type), None)
        return replace(edge_obj, intervention=found) if found else edge_obj

    def _edge_or_root(self, edge: Edge | None) -> Edge:
        if edge is not None:
            return _key(edge)
        found = self.root_cause()
        if found is None:
            raise ConsoleError(
                "no edge is marked broken or external yet: mark the root cause first"
            )
        return found[0]

    def _keep(self, table: EvidenceTable, step: str, edge: Edge) -> dict[str, str]:
        name = _evidence_name(self.trail.count + 1, step, edge, "incident")
        ref: EvidenceRef = write_evidence(
            table.table, self.incident_dir, name, sql=table.sql, params=_json_params(table.params)
        )
        return ref.to_dict()


def _captures(store: TelemetryStore, playbook: Playbook, start: datetime) -> dict[str, pa.Table]:
    """The declared sources' rows from `start`; a query that fails on the live source (a
    mapped ts that is text, say) is reported in the contract's words."""
    try:
        return read_captures(store, playbook.tables, start)
    except QueryFailed:
        require_fit(playbook, store)
        raise


def incident_metric(
    playbook: Playbook, playbook_path: Path, hints: ScenarioHints, metric: str | None
) -> str:
    """The metric given, else scenario.toml's, else [triage] metric: a node of the playbook."""
    metric = metric or hints.metric or playbook.triage.metric
    if metric not in playbook.nodes:
        raise ConsoleError(f"{playbook_path}: no node {metric!r} (given as the metric)")
    return metric


def incident_windows(
    store: TelemetryStore, playbook: Playbook, alert_at: datetime | None, metric: str
) -> tuple[datetime, dict[str, Window]]:
    """The alert time in UTC (default_alert when none was given or hinted) and the playbook's
    windows resolved around it."""
    if alert_at is None:
        alert_at = default_alert(store, playbook, metric)
    if alert_at.tzinfo is None:
        raise ConsoleError(f"alert time {alert_at} has no time zone")
    alert_at = alert_at.astimezone(UTC)
    windows = resolve_windows(playbook.windows, alert_at)
    return alert_at, {name: result_window(w) for name, w in windows.items()}


def default_alert(store: TelemetryStore, playbook: Playbook, metric: str) -> datetime:
    """The end of the newest bucket of the metric's series that is not after the newest
    decision (a clock running ahead must not move the alert into the future)."""
    node = playbook.nodes[metric]
    newest_decision = latest_timestamp(store)
    rows = store.query(
        "SELECT max(ts) AS latest FROM metrics WHERE metric = $series AND ts <= $limit",
        {"series": node.series, "limit": newest_decision},
    ).to_pylist()
    latest: datetime | None = rows[0]["latest"]
    if latest is None:
        return newest_decision
    return latest.astimezone(UTC) + playbook.triage.bucket


def _key(edge: Edge) -> Edge:
    """An edge as the dicts of an Investigation key it: a tuple (a caller may pass a list)."""
    source, target = edge
    return source, target


def _crash_point(name: str) -> None:
    if os.environ.get(CRASH_AT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _plain(value: Any) -> Any:
    """A step argument as JSON: edges as lists, times in ISO 8601, windows as dicts."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return format_utc(value)
    if isinstance(value, Window):
        return value.to_dict()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _evidence_name(seq: int, step: str, edge: Edge, window: str) -> str:
    name = f"{seq:04d}-{step}-{edge[0]}-{edge[1]}-{window}"
    return name[:120]


def _plain_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.total_seconds() if hasattr(v, "total_seconds") else v) for k, v in params.items()}


def _json_params(params: Any) -> Any:
    if isinstance(params, dict):
        return {
            k: (
                format_utc(v)
                if isinstance(v, datetime)
                else str(v)
                if hasattr(v, "total_seconds")
                else v
            )
            for k, v in params.items()
        }
    return params
