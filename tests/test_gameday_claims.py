"""The claims-triage scenarios: they generate deterministically, their answer keys load and
name nodes of the playbook, the playbook binds to their telemetry, and the bundled data shows
what each story claims (data checks on the telemetry, never the engine's verdict).

Baselines are compared over the same hours of the day as the incident window, because the
claims flow has a daily cycle (morning reports carry longer delays, a different claim mix).
On the code before these scenarios existed every test here fails at get_scenario /
scenario_dir (no such scenario or folder).
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from console.gameday.answers import load_answer
from console.gameday.generate import generate_scenario
from console.gameday.scenarios import SCENARIOS, get_scenario
from console.paths import scenario_dir
from console.playbook.loader import load_playbook
from console.scoring.build import build_scorer
from console.telemetry.binding import check_bindings
from console.telemetry.store import duckdb_string

CLAIMS = sorted(name for name in SCENARIOS if name.startswith("claims-"))
BROKEN = [name for name in CLAIMS if name != "claims-saturday-jump"]


@dataclass
class Telemetry:
    folder: Path
    con: duckdb.DuckDBPyConnection
    alert: datetime
    incident: tuple[datetime, datetime]
    baseline: tuple[datetime, datetime]

    def where(self, window: str) -> tuple[str, list[object]]:
        """SQL condition and parameters of a window. 'baseline' keeps only the hours of the
        day the incident window covers (its daily-cycle twin)."""
        if window == "incident":
            return "ts >= ? AND ts < ?", list(self.incident)
        start, end = self.incident
        hour0 = start.hour + start.minute / 60
        hour1 = end.hour + end.minute / 60
        hod = "(hour(ts) + minute(ts) / 60.0)"
        same = f"{hod} >= ? AND {hod} < ?" if hour1 > hour0 else f"({hod} >= ? OR {hod} < ?)"
        return f"ts >= ? AND ts < ? AND {same}", [*self.baseline, hour0, hour1]

    def value(self, sql: str, window: str, extra: str = "TRUE") -> float:
        condition, params = self.where(window)
        row = self.con.execute(
            f"SELECT {sql} FROM decisions WHERE {condition} AND {extra}", params
        ).fetchone()
        assert row is not None
        return float(row[0])

    def share(self, condition: str, window: str, extra: str = "TRUE") -> float:
        return self.value(f"avg(CASE WHEN {condition} THEN 1.0 ELSE 0.0 END)", window, extra)

    def review_rate(self, window: str, extra: str = "TRUE") -> float:
        return self.share("decision = 'manual_review'", window, extra)

    def groups(self, column: str) -> list[str]:
        rows = self.con.execute(f"SELECT DISTINCT {column} FROM decisions ORDER BY 1").fetchall()
        return [str(r[0]) for r in rows]

    def changes_before_alert(self) -> list[tuple[datetime, str, str]]:
        return [
            (ts, node, summary)
            for ts, node, summary in self.con.execute(
                "SELECT ts, node, summary FROM changes WHERE ts < ? ORDER BY ts", [self.alert]
            ).fetchall()
        ]


_OPEN: dict[str, Telemetry] = {}


def telemetry(name: str) -> Telemetry:
    """The bundled folder of a scenario, opened once per test session (read-only views)."""
    if name not in _OPEN:
        folder = scenario_dir(name)
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        for table in ("decisions", "metrics", "changes"):
            path = folder / f"{table}.parquet"
            con.execute(
                f"CREATE VIEW {table} AS SELECT * FROM read_parquet({duckdb_string(str(path))})"
            )
        card = tomllib.loads((folder / "scenario.toml").read_text())
        windows = load_playbook(folder / "playbook.toml").windows
        alert = datetime.fromisoformat(card["alert_at"])
        start = alert - windows.incident
        base_end = start - windows.baseline_gap
        _OPEN[name] = Telemetry(
            folder, con, alert, (start, alert), (base_end - windows.baseline, base_end)
        )
    return _OPEN[name]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- every scenario -------------------------------------------------------------------------


def test_six_claims_scenarios_are_registered():
    assert len(CLAIMS) >= 6
    assert {get_scenario(name).pipeline.playbook for name in CLAIMS} == {"claims"}


@pytest.mark.parametrize("name", CLAIMS)
def test_generation_is_deterministic(name, tmp_path):
    first = generate_scenario(name, tmp_path / "a", rows=3_000, seed=5)
    second = generate_scenario(name, tmp_path / "b", rows=3_000, seed=5)
    files = sorted(p.name for p in first.iterdir())
    assert "decisions.parquet" in files and "answer.toml" in files
    for file in files:
        assert sha256(first / file) == sha256(second / file), file


@pytest.mark.parametrize("name", CLAIMS)
def test_answer_key_loads_and_names_the_playbooks_graph(name):
    folder = scenario_dir(name)
    answer = load_answer(folder)
    playbook = load_playbook(folder / "playbook.toml")
    assert answer.scenario == name
    assert answer.edge in {(e.source, e.target) for e in playbook.edges}, answer.edge
    assert answer.node in answer.edge
    for node in (*answer.also_accept, *(d.node for d in answer.decoys)):
        assert node in playbook.nodes, node
    assert len(answer.decoys) >= 3
    if answer.kind == "broken_edge":
        assert answer.fixed_at is not None and answer.fixed_at > telemetry(name).alert
    else:
        assert answer.kind == "external_shift" and answer.fixed_at is None
        assert playbook.nodes[answer.node].kind == "external"


@pytest.mark.parametrize("name", CLAIMS)
def test_playbook_binds_to_the_telemetry(name):
    folder = scenario_dir(name)
    assert check_bindings(load_playbook(folder / "playbook.toml"), folder) == []


@pytest.mark.parametrize("name", CLAIMS)
def test_the_review_rate_rises_against_the_same_hours_of_the_baseline(name):
    t = telemetry(name)
    assert t.review_rate("incident") > 1.15 * t.review_rate("baseline")


@pytest.mark.parametrize("name", CLAIMS)
def test_the_change_log_carries_innocent_changes(name):
    """Every scenario's change log carries decoys: events that are not the root cause."""
    t = telemetry(name)
    answer = load_answer(t.folder)
    decoy_nodes = {d.node for d in answer.decoys}
    logged = {node for _, node, _ in t.changes_before_alert()}
    assert logged & decoy_nodes


# The root cause's own signal: a condition that holds on (almost) no baseline row.
ROOT_SIGNAL = {
    "claims-wednesday-queue": "raw_report_delay_hours > 8760",
    "claims-frosty-morning": "raw_photo_count = -1",
    "claims-morning-queue": "raw_fraud_ring_score > 0.5",
    "claims-friday-creep": "raw_repair_estimate_eur > 100000",
    "claims-release-morning": (
        "feat_new_policy <> CASE WHEN raw_policy_age_days < 60 THEN 1.0 ELSE 0.0 END"
    ),
}


@pytest.mark.parametrize("name", BROKEN)
def test_the_root_signal_is_gone_after_the_fix(name):
    t = telemetry(name)
    fixed = load_answer(t.folder).fixed_at
    assert fixed is not None
    row = t.con.execute(
        f"SELECT avg(CASE WHEN {ROOT_SIGNAL[name]} THEN 1.0 ELSE 0.0 END) "
        "FROM decisions WHERE ts >= ? AND ts < ?",
        [fixed, fixed + timedelta(hours=12)],
    ).fetchone()
    assert row is not None
    baseline = t.share(ROOT_SIGNAL[name], "baseline")
    assert baseline < 0.05 and t.share(ROOT_SIGNAL[name], "incident") > 0.05
    assert row[0] <= baseline + 0.02


@pytest.mark.parametrize("name", BROKEN)
def test_broken_edges_are_fixed_by_a_change_on_the_root_cause_node(name):
    t = telemetry(name)
    answer = load_answer(t.folder)
    first = t.con.execute(
        "SELECT node, ts FROM changes WHERE ts > ? AND node = ? ORDER BY ts LIMIT 1",
        [t.alert, answer.node],
    ).fetchone()
    assert first == (answer.node, answer.fixed_at)
    end = t.con.execute("SELECT max(ts) FROM decisions").fetchone()[0]
    assert end - answer.fixed_at > timedelta(hours=12)


# ---- a. a unit change that nobody logged ------------------------------------------------------


def test_delay_units_jump_by_the_seconds_to_hours_factor_with_nothing_logged():
    t = telemetry("claims-wednesday-queue")
    ratio = t.value("median(raw_report_delay_hours)", "incident") / t.value(
        "median(raw_report_delay_hours)", "baseline"
    )
    assert 1000 < ratio < 10_000  # ~3600: seconds read as hours
    assert t.share("raw_report_delay_hours > 8760", "baseline") == 0
    assert t.share("raw_report_delay_hours > 8760", "incident") > 0.7
    for client in t.groups("seg_client_version"):
        extra = f"seg_client_version = '{client}'"
        assert t.share("raw_report_delay_hours > 8760", "incident", extra) > 0.6, client
    touched = {"raw_report_delay_hours", "f_late_report", "ext_fnol_vendor"}
    assert not touched & {node for _, node, _ in t.changes_before_alert()}


# ---- b. one producer among several ------------------------------------------------------------


def test_android_photos_fault_is_confined_to_one_client_version():
    t = telemetry("claims-frosty-morning")
    android = "seg_client_version = 'android-8.1'"
    others = "seg_client_version <> 'android-8.1'"
    assert t.share("raw_photo_count = -1", "baseline") == 0
    assert t.share("raw_photo_count = -1", "incident", android) == 1.0
    assert t.share("raw_photo_count = -1", "incident", others) == 0
    assert 0.2 < t.share("raw_photo_count = -1", "incident") < 0.45
    # Every other channel sends as many photos as before (iOS counted across its releases).
    for channel in ("ios-%", "web-%", "phone"):
        extra = f"seg_client_version LIKE '{channel}'"
        before = t.value("avg(raw_photo_count)", "baseline", extra)
        assert t.value("avg(raw_photo_count)", "incident", extra) > 0.85 * before, channel
    # The decoy on the same input: iOS 7.5 adds photos, logged before the incident.
    assert t.value("avg(raw_photo_count)", "incident", "seg_client_version = 'ios-7.5'") > (
        t.value("avg(raw_photo_count)", "baseline", "seg_client_version = 'ios-7.4'") + 1
    )
    assert not any("android" in summary.lower() for _, _, summary in t.changes_before_alert())


# ---- c. a deploy the evening before -----------------------------------------------------------


def test_graph_deploy_the_evening_before_builds_up_overnight():
    t = telemetry("claims-morning-queue")
    deploys = [ts for ts, node, _ in t.changes_before_alert() if node == "raw_fraud_ring_score"]
    assert len(deploys) == 1
    lead = t.alert - deploys[0]
    assert timedelta(hours=14) <= lead <= timedelta(hours=18)
    assert deploys[0] < t.incident[0]

    def high_share(start: datetime, end: datetime) -> float:
        row = t.con.execute(
            "SELECT avg(CASE WHEN raw_fraud_ring_score > 0.5 THEN 1.0 ELSE 0.0 END) "
            "FROM decisions WHERE ts >= ? AND ts < ?",
            [start, end],
        ).fetchone()
        assert row is not None
        return float(row[0])

    day = timedelta(days=1)
    before = high_share(deploys[0] - day, deploys[0])
    night = high_share(deploys[0], deploys[0] + timedelta(hours=5))
    morning = high_share(*t.incident)
    assert before < 0.05
    assert before < night < morning  # it builds after the deploy, not at the incident start
    assert morning > 0.2
    # Not a ring: the linked claims are everywhere, and lack new policies and prior claims.
    for region in t.groups("seg_region"):
        extra = f"seg_region = '{region}'"
        assert t.share("raw_fraud_ring_score > 0.5", "incident", extra) > 0.1, region
    linked = "raw_fraud_ring_score > 0.5"
    assert t.share("raw_policy_age_days < 60", "incident", linked) < 0.2
    assert t.share("raw_policy_age_days < 60", "baseline", linked) > 0.25


# ---- d. a minority of rows shifted by a large factor ------------------------------------------


def test_supplement_cents_move_a_minority_of_rows_by_a_hundred():
    t = telemetry("claims-friday-creep")
    implausible = t.share("raw_repair_estimate_eur > 100000", "incident")
    assert t.share("raw_repair_estimate_eur > 100000", "baseline") == 0
    assert 0.03 < implausible < 0.15
    # The bulk of the rows is untouched: the median barely moves while the mean explodes.
    median = t.value("median(raw_repair_estimate_eur)", "incident") / t.value(
        "median(raw_repair_estimate_eur)", "baseline"
    )
    mean = t.value("avg(raw_repair_estimate_eur)", "incident") / t.value(
        "avg(raw_repair_estimate_eur)", "baseline"
    )
    assert 0.8 < median < 1.3
    assert mean > 5
    # ... by a factor of about 100: the shifted rows against the baseline median.
    shifted = t.value(
        "median(raw_repair_estimate_eur)", "incident", "raw_repair_estimate_eur > 20000"
    )
    assert 50 < shifted / t.value("median(raw_repair_estimate_eur)", "baseline") < 300
    for partner in ("autofix", "bodyworks_direct", "independent"):
        extra = f"seg_partner = '{partner}'"
        assert t.share("raw_repair_estimate_eur > 100000", "incident", extra) > 0.02, partner


# ---- e. a genuine world change with an innocent deploy ----------------------------------------


def test_hail_storm_moves_every_producer_alike_and_stays_plausible():
    t = telemetry("claims-saturday-jump")
    assert t.share("raw_claim_type = 'hail'", "baseline") < 0.08
    factors = []
    for column in ("seg_partner", "seg_client_version", "seg_region"):
        for group in t.groups(column):
            extra = f"{column} = '{group}'"
            if column == "seg_partner" and group == "glassline":
                continue  # the windscreen network repairs no dents
            assert t.share("raw_claim_type = 'hail'", "incident", extra) > 0.2, group
            if column == "seg_partner":
                factors.append(
                    t.value("median(raw_repair_estimate_eur)", "incident", extra)
                    / t.value("median(raw_repair_estimate_eur)", "baseline", extra)
                )
    assert min(factors) > 1.4 and max(factors) / min(factors) < 2.0
    # Plausible values: nothing outside the declared ranges, no sentinels.
    for column, low, high in (
        ("raw_repair_estimate_eur", 1, 100_000),
        ("raw_photo_count", 0, 60),
        ("raw_report_delay_hours", 0, 8760),
    ):
        assert t.share(f"{column} < {low} OR {column} > {high}", "incident") == 0, column
    assert t.value("avg(raw_photo_count)", "incident") < t.value("avg(raw_photo_count)", "baseline")


def test_hail_storm_deploy_is_innocent_and_after_the_shift_began():
    t = telemetry("claims-saturday-jump")
    deploys = [ts for ts, node, _ in t.changes_before_alert() if node == "raw_repair_estimate_eur"]
    assert len(deploys) == 1 and t.incident[0] < deploys[0] < t.alert
    row = t.con.execute(
        "SELECT avg(CASE WHEN raw_claim_type = 'hail' THEN 1.0 ELSE 0.0 END) "
        "FROM decisions WHERE ts >= ? AND ts < ?",
        [t.incident[0], deploys[0]],
    ).fetchone()
    assert row is not None and row[0] > 0.15  # the storm's claims arrive before the deploy
    # Estimates of the claims the storm did not bring are unmoved by the deploy.
    non_hail = "raw_claim_type <> 'hail'"
    ratio = t.value("median(raw_repair_estimate_eur)", "incident", non_hail) / t.value(
        "median(raw_repair_estimate_eur)", "baseline", non_hail
    )
    assert 0.8 < ratio < 1.25
    logged = {node for _, node, _ in t.changes_before_alert()}
    assert not {"ext_weather", "raw_claim_type"} & logged


# ---- f. two real bugs, one explains the metric ------------------------------------------------


def rescored_review_rate(t: Telemetry, replace: dict[str, str]) -> tuple[float, float]:
    """The incident's review rate re-scored with some features recomputed (feature id ->
    SQL), and the share of decisions that flip: the counterfactual of correcting them."""
    playbook = load_playbook(t.folder / "playbook.toml")
    scorer = build_scorer(playbook.scorer)
    select = ", ".join(f"{replace.get(f, playbook.nodes[f].expr)} AS {f}" for f in scorer.features)
    condition, params = t.where("incident")
    table = (
        t.con.cursor()
        .sql(
            f"SELECT decision, {select} FROM decisions WHERE status = 'ok' AND {condition}",
            params=params,
        )
        .to_arrow_table()
    )
    live = table["decision"].to_numpy(zero_copy_only=False) == "manual_review"
    fixed = scorer.score(table) >= playbook.scorer.threshold
    return float(fixed.mean()), float((fixed != live).mean())


def test_two_bugs_only_the_policy_feature_explains_the_rise():
    t = telemetry("claims-release-morning")
    playbook = load_playbook(t.folder / "playbook.toml")
    # Bug 1, the visible one: a jump in zero odometer readings.
    assert t.share("raw_vehicle_mileage_km = 0", "baseline") == 0
    assert t.share("raw_vehicle_mileage_km = 0", "incident") > 0.3
    # Bug 2, quiet in the raw data: the served flag disagrees with its reference.
    reference = playbook.nodes["f_new_policy"].reference
    mismatch = f"feat_new_policy <> ({reference})"
    assert t.share(mismatch, "baseline") == 0
    assert t.share(mismatch, "incident") > 0.08
    raw_ratio = t.share("raw_policy_age_days < 60", "incident") / t.share(
        "raw_policy_age_days < 60", "baseline"
    )
    assert 0.7 < raw_ratio < 1.3
    # Counterfactuals: a typical odometer for the zeros versus the recomputed flag.
    baseline_mileage = t.value("avg(feat_mileage)", "baseline", "raw_vehicle_mileage_km > 0")
    odometer = f"CASE WHEN raw_vehicle_mileage_km = 0 THEN {baseline_mileage} ELSE feat_mileage END"
    live = t.review_rate("incident", "status = 'ok'")
    _, odometer_flips = rescored_review_rate(t, {"f_mileage": odometer})
    fixed_rate, policy_flips = rescored_review_rate(t, {"f_new_policy": reference})
    assert odometer_flips < 0.01
    assert policy_flips > 0.04
    excess = live - t.review_rate("baseline", "status = 'ok'")
    assert live - fixed_rate > 0.6 * excess
