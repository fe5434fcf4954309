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

import threading
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from console.audit import Trail
from console.engine import counterfactual as cf
from console.engine import report as report_step
from console.engine import validate as validate_step
from console.engine.context import Context, read_scenario_hints, result_window
from console.engine.interventions import Outcome, run_intervention
from console.engine.locate import run_locate
from console.engine.results import (
    BlastRadius,
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
from console.engine.revive import NOT_RESULTS, last_results, revive_entry
from console.engine.triage import run_triage
from console.errors import ConsoleError
from console.files import file_sha256
from console.playbook import writeback
from console.playbook.loader import load_playbook
from console.telemetry.binding import require_fit
from console.telemetry.evidence import EvidenceRef, snapshot, write_evidence
from console.telemetry.store import TelemetryStore, open_store
from console.telemetry.windows import format_utc, latest_timestamp, resolve_windows

Edge = tuple[str, str]
EDGE_MARKS = ("broken", "external", "cleared")


class Investigation:
    """The engine's handle on one incident; build it with Investigation.open()."""

    def __init__(self, ctx: Context, trail: Trail, telemetry_dir: Path) -> None:
        self.ctx = ctx
        self.trail = trail
        self.telemetry_dir = telemetry_dir
        self.triage_result: TriageResult | None = None
        self.triage_decision: str | None = None
        self.locate_result: LocateResult | None = None
        self.interventions: dict[Edge, InterventionResult] = {}
        self.marks: dict[Edge, tuple[str, str]] = {}  # edge -> (mark, note), latest wins
        self.blast_radius: BlastRadius | None = None
        self.validation: ValidationResult | None = None
        self.proposal: Proposal | None = None
        self._writeback: writeback.Proposal | None = None
        self.report_result: ReportResult | None = None
        self._mutex = threading.Lock()

    # -- opening and closing ----------------------------------------------------------------

    @classmethod
    def open(
        cls,
        playbook_path: str | Path,
        telemetry_dir: str | Path,
        incident_dir: str | Path,
        actor: str | None = None,
        alert_at: datetime | None = None,
        metric: str | None = None,
    ) -> Investigation:
        """Load the playbook, open the telemetry read-only, resolve the windows, open the trail.

        alert_at defaults to scenario.toml's alert_at beside the telemetry, else the end of the
        newest bucket of the triage metric's series (not later than the newest decision);
        metric defaults to scenario.toml's metric, else [triage] metric.
        """
        playbook_path = Path(playbook_path)
        telemetry_dir = Path(telemetry_dir)
        playbook = load_playbook(playbook_path)
        hints = read_scenario_hints(telemetry_dir)
        metric = metric or hints.metric or playbook.triage.metric
        if metric not in playbook.nodes:
            raise ConsoleError(f"{playbook_path}: no node {metric!r} (given as the metric)")
        store = open_store(telemetry_dir, playbook.tables)
        try:
            require_fit(playbook, store)
            if alert_at is None:
                alert_at = hints.alert_at or _default_alert(store, playbook, metric)
            if alert_at.tzinfo is None:
                raise ConsoleError(f"alert time {alert_at} has no time zone")
            alert_at = alert_at.astimezone(UTC)
            windows = {
                name: result_window(w)
                for name, w in resolve_windows(playbook.windows, alert_at).items()
            }
            ctx = Context(playbook, store, Path(incident_dir), alert_at, metric, windows)
            trail = Trail.open(incident_dir, actor=actor)
        except BaseException:
            store.close()
            raise
        inv = cls(ctx, trail, telemetry_dir)
        inv._resume()
        inv.record(
            "session",
            "open",
            {
                "playbook": str(playbook_path),
                "playbook_sha256": file_sha256(playbook_path),
                "telemetry": str(telemetry_dir),
                "alert_at": format_utc(alert_at),
                "metric": metric,
            },
            {"windows": [w.to_dict() for w in windows.values()], "model": playbook.model.name},
        )
        return inv

    def _resume(self) -> None:
        """What an earlier session of this incident recorded still holds: the engineer's
        triage decision and edge marks, and the latest result of each step (read back from
        the trail, not recomputed), so a report written after a restart tells the whole story."""
        entries = list(self.trail.entries())
        found = last_results(entries)
        self.triage_result = found.get("triage")
        self.locate_result = found.get("locate")
        self.blast_radius = found.get("counterfactual")
        self.validation = found.get("validate")
        for entry in entries:
            if entry.step == "intervene" and entry.action not in NOT_RESULTS:
                tested = revive_entry(InterventionResult, entry)
                if tested is not None:
                    self.interventions[tuple(tested.edge)] = tested
            if (entry.step, entry.action) == ("triage", "decide"):
                self.triage_decision = str(entry.params.get("verdict"))
            elif entry.action == "mark_edge" and len(entry.params.get("edge") or ()) == 2:
                edge = tuple(str(n) for n in entry.params["edge"])
                self.marks.pop(edge, None)  # re-insert: the latest mark comes last
                self.marks[edge] = (
                    str(entry.params.get("mark")),
                    str(entry.params.get("note", "")),
                )

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
    def playbook(self):
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
        evidence: list[dict[str, str]] | None = None,
    ):
        """Append the step to the trail (written and fsynced before returning)."""
        body = result.to_dict() if isinstance(result, Result) else (result or {})
        with self._mutex:
            return self.trail.append(step, action, params or {}, body, evidence or [])

    # -- 1. triage ----------------------------------------------------------------------------

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
            "triage",
            "triage",
            {"metric": self.metric, "alert_at": format_utc(self.alert_at)},
            result,
            [ref.to_dict()],
        )
        self.triage_result = result
        return result

    def decide_triage(self, verdict: Literal["confirmed", "false_alarm"], note: str = "") -> None:
        if verdict not in ("confirmed", "false_alarm"):
            raise ConsoleError(f"triage decision {verdict!r}: choose confirmed or false_alarm")
        self.record("triage", "decide", {"verdict": verdict, "note": note})
        self.triage_decision = verdict

    # -- 2. locate ----------------------------------------------------------------------------

    def locate(self) -> LocateResult:
        result = run_locate(self.ctx)
        self.record("locate", "rank_candidates", {"metric": self.metric}, result)
        self.locate_result = result
        return result

    # -- 3. intervene -------------------------------------------------------------------------

    def intervene(self, edge: Edge, window: Window | None = None) -> InterventionResult:
        """Run the edge's planned intervention (baseline against the incident, or `window`)."""
        edge_obj = self.ctx.edge(*edge)
        try:
            outcome = run_intervention(self.ctx, edge_obj, window)
            result = self._with_evidence(outcome, "intervene")
        except ConsoleError as exc:
            self.record("intervene", "failed", {"edge": list(edge)}, {"error": str(exc)})
            raise
        self.record(
            "intervene",
            result.type,
            {
                "edge": list(edge),
                "planned": edge_obj.intervention is not None,
                "params": _plain_params(
                    edge_obj.intervention.params if edge_obj.intervention else {}
                ),
            },
            result,
            result.evidence,
        )
        if window is None:
            self.interventions[tuple(edge)] = result
        return result

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
        tested = self.interventions.get(tuple(edge))
        self.record(
            "intervene",
            "mark_edge",
            {"edge": list(edge), "mark": mark, "note": note},
            {"intervention_verdict": tested.verdict if tested else None},
        )
        self.marks.pop(tuple(edge), None)  # re-insert: the latest mark comes last
        self.marks[tuple(edge)] = (mark, note)

    def root_cause(self) -> tuple[Edge, str] | None:
        """The edge most recently marked broken or external, with its mark."""
        for edge, (mark, _) in reversed(list(self.marks.items())):
            if mark in ("broken", "external"):
                return edge, mark
        return None

    # -- 4. counterfactual --------------------------------------------------------------------

    def counterfactual(self, edge: Edge | None = None) -> BlastRadius:
        """Re-score the incident window with the broken value corrected (the edge marked
        broken when none is given)."""
        edge = self._edge_or_root(edge)
        try:
            result, evidence = cf.blast_radius(self.ctx, self.ctx.edge(*edge))
        except ConsoleError as exc:
            self.record("counterfactual", "failed", {"edge": list(edge)}, {"error": str(exc)})
            raise
        ref = self._keep(evidence, "counterfactual", edge)
        self.record("counterfactual", "blast_radius", {"edge": list(edge)}, result, [ref])
        self.blast_radius = result
        return result

    def explain(self, prediction_id: str, edge: Edge | None = None) -> Explanation:
        if edge is None:
            found = self.root_cause()
            edge = found[0] if found and found[1] == "broken" else None
        try:
            result = cf.explain(self.ctx, prediction_id, self.ctx.edge(*edge) if edge else None)
        except ConsoleError as exc:
            self.record(
                "counterfactual",
                "explain_failed",
                {"prediction_id": prediction_id},
                {"error": str(exc)},
            )
            raise
        self.record(
            "counterfactual",
            "explain",
            {"prediction_id": prediction_id, "edge": list(edge) if edge else None},
            result,
        )
        return result

    # -- 5. validate --------------------------------------------------------------------------

    def validate(self, edge: Edge | None = None, start: datetime | None = None) -> ValidationResult:
        edge = self._edge_or_root(edge)
        mark = self.marks.get(tuple(edge), ("broken", ""))[0]
        outcome, window, metrics = validate_step.postfix_check(
            self.ctx, self.ctx.edge(*edge), start
        )
        intervention = self._with_evidence(outcome, "validate") if outcome else None
        proposal, wb = validate_step.propose_update(
            self.ctx, self.ctx.edge(*edge), mark, self.interventions.get(tuple(edge)), intervention
        )
        result = validate_step.validation_result(
            self.ctx, edge, window, intervention, metrics, proposal
        )
        self.record(
            "validate",
            "postfix",
            {"edge": list(edge), "start": format_utc(window.start)},
            result,
            intervention.evidence if intervention else [],
        )
        self.validation, self.proposal, self._writeback = result, proposal, wb
        return result

    def decide_proposal(self, accept: bool) -> Path | None:
        """Accept (replace the authored playbook, keeping a backup) or reject the proposal."""
        if self._writeback is None:
            raise ConsoleError("no playbook update has been proposed: run validate first")
        if not accept:
            self.record(
                "validate",
                "reject_proposal",
                {"proposed": self.proposal.path if self.proposal else ""},
            )
            return None
        done = writeback.accept(
            self._writeback.proposed,
            self._writeback.authored,
            authored_sha256=self._writeback.authored_sha256,
        )
        self.record(
            "validate",
            "accept_proposal",
            {"proposed": self.proposal.path if self.proposal else ""},
            {"authored": str(done.authored), "backup": str(done.backup)},
        )
        return done.authored

    # -- 6. report ----------------------------------------------------------------------------

    def report(self) -> ReportResult:
        # The report quotes the trail up to this entry; the entry recording the report follows.
        result = report_step.write_report(self)
        digest = file_sha256(self.incident_dir / result.path)
        self.record(
            "report",
            "write",
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
        self.record(step or "note", "note", {"text": text})

    # -- helpers ------------------------------------------------------------------------------

    def _edge_or_root(self, edge: Edge | None) -> Edge:
        if edge is not None:
            return tuple(edge)
        found = self.root_cause()
        if found is None:
            raise ConsoleError(
                "no edge is marked broken or external yet: mark the root cause first"
            )
        return found[0]

    def _keep(self, table, step: str, edge: Edge) -> dict[str, str]:
        name = _evidence_name(self.trail.count + 1, step, edge, "incident")
        ref: EvidenceRef = write_evidence(
            table.table, self.incident_dir, name, sql=table.sql, params=_json_params(table.params)
        )
        return ref.to_dict()


def _default_alert(store: TelemetryStore, playbook, metric: str) -> datetime:
    """The end of the newest bucket of the metric's series that is not after the newest
    decision (a clock running ahead must not move the alert into the future)."""
    node = playbook.nodes[metric]
    newest_decision = latest_timestamp(store)
    rows = store.query(
        "SELECT max(ts) AS latest FROM metrics WHERE metric = $series AND ts <= $limit",
        {"series": node.series, "limit": newest_decision},
    ).to_pylist()
    latest = rows[0]["latest"]
    if latest is None:
        return newest_decision
    return latest.astimezone(UTC) + playbook.triage.bucket


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
