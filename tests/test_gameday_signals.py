"""Each bundled scenario carries its root-cause signal where the answer key says, and only there:
present in the incident window, absent from the baseline (and gone after the fix), while the
decoys move without breaking their edges."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from console.gameday.answers import load_answer
from console.paths import scenario_dir
from console.playbook.loader import load_playbook


@dataclass
class Scenario:
    folder: Path
    con: duckdb.DuckDBPyConnection
    windows: dict[str, tuple[datetime, datetime]]

    def value(self, sql: str, window: str) -> float:
        """An aggregate over the decisions of one window."""
        start, end = self.windows[window]
        return self.con.execute(
            f"SELECT {sql} FROM decisions WHERE ts >= ? AND ts < ?", [start, end]
        ).fetchone()[0]

    def share(self, condition: str, window: str) -> float:
        return self.value(f"avg(CASE WHEN {condition} THEN 1.0 ELSE 0.0 END)", window)

    def mismatch(self, node_id: str, window: str) -> float:
        """Share of rows whose served feature differs from its reference recomputation."""
        node = load_playbook(self.folder / "playbook.toml").nodes[node_id]
        if node.type == "numeric":
            differs = f"coalesce(abs(({node.expr}) - ({node.reference})) > 1e-9, false)"
        else:
            differs = f"({node.expr}) IS DISTINCT FROM ({node.reference})"
        return self.share(differs, window)


def open_scenario(name: str) -> Scenario:
    folder = scenario_dir(name)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for table in ("decisions", "metrics", "changes"):
        con.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{folder / table}.parquet')"
        )
    card = tomllib.loads((folder / "scenario.toml").read_text())
    w = load_playbook(folder / "playbook.toml").windows
    alert = datetime.fromisoformat(card["alert_at"])
    incident = (alert - w.incident, alert)
    base_end = incident[0] - w.baseline_gap
    windows = {"incident": incident, "baseline": (base_end - w.baseline, base_end)}
    fixed = load_answer(folder).fixed_at
    if fixed is not None:
        windows["postfix"] = (fixed + timedelta(hours=1), fixed + timedelta(hours=13))
    return Scenario(folder, con, windows)


def test_recs_metadata_format_brings_new_genre_categories():
    s = open_scenario("recs-weekday-afternoon")
    seen = (
        "raw_item_genre IN (SELECT DISTINCT raw_item_genre FROM decisions WHERE ts < '2026-11-05')"
    )
    assert s.share(f"NOT ({seen})", "baseline") == 0
    assert s.share(f"NOT ({seen})", "incident") > 0.15
    assert s.share(f"NOT ({seen})", "postfix") == 0
    assert s.share("feat_item_genre = 'other'", "incident") > 0.15
    assert s.share("feat_item_genre = 'other'", "baseline") == 0
    # The feature service did what it was told: the recompute passes even in the incident.
    assert s.mismatch("f_item_genre", "incident") == 0
    assert s.mismatch("f_genre_match", "incident") == 0
    ctr = "avg(CAST(label_clicked AS DOUBLE))"
    assert s.value(ctr, "incident") < 0.88 * s.value(ctr, "baseline")
    assert s.value(ctr, "postfix") > 0.92 * s.value(ctr, "baseline")
    # Decoy: Northwind's short clips move durations far more, with an exact recompute.
    clips = "raw_item_duration_s < 60"
    assert s.share(clips, "incident") > s.share(clips, "baseline") + 0.1
    assert s.mismatch("f_log_duration", "incident") == 0


def test_credit_vendor_redefinition_shifts_the_verification_mix():
    s = open_scenario("credit-after-lunch")
    verified = "raw_income_verification = 'verified'"
    base, incident, post = (s.share(verified, w) for w in ("baseline", "incident", "postfix"))
    assert incident < base - 0.15
    assert abs(post - base) < 0.07
    categories = "count(DISTINCT raw_income_verification)"
    assert s.value(categories, "incident") == s.value(categories, "baseline") == 3
    assert s.mismatch("f_income_verified", "incident") == 0
    denial = "avg(CASE WHEN decision = 'deny' THEN 1.0 ELSE 0.0 END)"
    assert s.value(denial, "incident") > 1.15 * s.value(denial, "baseline")
    # Decoy: the campaign moves loan amounts more than anything, and nothing breaks.
    amount = "avg(raw_loan_amount)"
    assert s.value(amount, "incident") > 1.2 * s.value(amount, "baseline")
    assert s.mismatch("f_loan_to_income", "incident") == 0


def test_fraud_nan_feature_nulls_card_age_only_during_the_incident():
    s = open_scenario("fraud-friday-noon")
    nulls = "raw_card_age_days IS NULL"
    assert s.share(nulls, "baseline") == 0
    assert s.share(nulls, "incident") > 0.15
    assert s.share(nulls, "postfix") == 0
    assert s.share("feat_card_age IS NULL", "incident") == s.share(nulls, "incident")
    for other in ("raw_amount", "raw_device_risk", "raw_ip_risk", "raw_txn_count_1h"):
        assert s.share(f"{other} IS NULL", "incident") == 0
    decline = "avg(CASE WHEN decision = 'decline' THEN 1.0 ELSE 0.0 END)"
    assert s.value(decline, "incident") > 1.5 * s.value(decline, "baseline")
    # Decoys shift, but their features are recomputed exactly and their caches are fresh.
    assert s.value("avg(raw_ip_risk)", "incident") > s.value("avg(raw_ip_risk)", "baseline") + 1
    assert s.mismatch("f_ip_risk", "incident") == s.mismatch("f_log_amount", "incident") == 0
    assert s.value("max(raw_ip_risk_age_s)", "incident") < 2 * 3600
    grocery = "raw_merchant_category = 'GROCERY'"
    assert s.share(grocery, "incident") > s.share(grocery, "baseline") + 0.1
    assert s.mismatch("f_merchant_category", "incident") == 0


def test_credit_encoder_skew_breaks_the_shadow_recompute():
    s = open_scenario("credit-self-employed")
    assert s.mismatch("f_employment_type", "baseline") == 0
    assert s.mismatch("f_employment_type", "incident") > 0.1
    assert s.mismatch("f_employment_type", "postfix") == 0
    for kind in ("salaried", "self_employed", "contractor"):
        share = f"raw_employment_type = '{kind}'"
        assert abs(s.share(share, "incident") - s.share(share, "baseline")) < 0.06
    for node in ("f_log_income", "f_dti", "f_loan_to_income", "f_bureau_score"):
        assert s.mismatch(node, "incident") == 0, node


def test_fraud_model_oom_raises_errors_and_latency_with_inputs_intact():
    s = open_scenario("fraud-peak-errors")
    errors = "status = 'error'"
    assert s.share(errors, "baseline") < 0.005
    assert s.share(errors, "incident") > 0.03
    assert s.share(errors, "postfix") < 0.005
    p99 = "quantile_cont(latency_ms, 0.99)"
    assert s.value(p99, "incident") > 2 * s.value(p99, "baseline")
    assert s.share(f"{errors} AND score IS NOT NULL", "incident") == 0
    playbook = load_playbook(s.folder / "playbook.toml")
    for node in playbook.nodes.values():
        if node.kind == "feature":
            assert s.mismatch(node.id, "incident") == 0, node.id
            assert s.share(f"{node.expr} IS NULL", "incident") == 0, node.id


def test_fraud_false_alarm_breaks_only_the_metric_series():
    s = open_scenario("fraud-sunday-night")
    series = "fraud_decline_rate"
    alert = s.windows["incident"][1]
    # A gap longer than max_gap right before the alert ...
    last_before = s.con.execute(
        "SELECT epoch(?::TIMESTAMPTZ) - epoch(max(ts)) FROM metrics WHERE metric = ? AND ts < ?",
        [alert, series, alert],
    ).fetchone()[0]
    assert last_before > 3 * 3600
    # ... rows dated after the last decision, and duplicated (ts, metric) rows.
    future = s.con.execute(
        "SELECT count(*) FROM metrics WHERE ts > (SELECT max(ts) FROM decisions)"
    ).fetchone()[0]
    duplicated = s.con.execute(
        "SELECT count(*) FROM (SELECT ts, metric FROM metrics GROUP BY ALL HAVING count(*) > 1)"
    ).fetchone()[0]
    assert future > 0 and duplicated > 0
    base_start, base_end = s.windows["baseline"]
    clean = s.con.execute(
        "SELECT count(*) FROM (SELECT ts, metric FROM metrics WHERE ts >= ? AND ts < ? "
        "GROUP BY ALL HAVING count(*) > 1)",
        [base_start, base_end],
    ).fetchone()[0]
    assert clean == 0
    # The decisions themselves are fine: the recomputed decline rate does not move much,
    # while the late rows report about twice the baseline.
    decline = "avg(CASE WHEN decision = 'decline' THEN 1.0 ELSE 0.0 END)"
    baseline = s.value(decline, "baseline")
    assert abs(s.value(decline, "incident") / baseline - 1) < 0.15
    # The late rows report each hour six hours late and double counted: every value after
    # the alert is twice the decline rate of the decisions six hours before its timestamp.
    ratios = s.con.execute(
        f"SELECT m.value / d.rate FROM (SELECT DISTINCT ts, value FROM metrics "
        f"WHERE metric = ? AND ts > ?) m JOIN (SELECT date_trunc('hour', ts) AS hour, "
        f"{decline} AS rate FROM decisions GROUP BY 1) d "
        f"ON d.hour = m.ts - INTERVAL 6 HOUR",
        [series, alert],
    ).fetchall()
    assert len(ratios) >= 2
    assert all(abs(r - 2.0) < 1e-9 for (r,) in ratios), ratios


def test_recs_external_shift_moves_users_not_the_pipeline():
    s = open_scenario("recs-saturday-evening")
    sports = "raw_user_top_genre = 'sports'"
    assert s.share(sports, "incident") > s.share(sports, "baseline") + 0.2
    categories = "count(DISTINCT raw_user_top_genre)"
    assert s.value(categories, "incident") == s.value(categories, "baseline")
    playbook = load_playbook(s.folder / "playbook.toml")
    for node in playbook.nodes.values():
        if node.reference:
            assert s.mismatch(node.id, "incident") == 0, node.id
    touched = {row[0] for row in s.con.execute("SELECT node FROM changes").fetchall()}
    assert not touched & {"raw_user_top_genre", "ext_world_events"}
    ctr = "avg(CAST(label_clicked AS DOUBLE))"
    assert s.value(ctr, "incident") < 0.92 * s.value(ctr, "baseline")
    # The event ends by itself: the next day's evening looks like the baseline again.
    _, alert = s.windows["incident"]
    s.windows["next_day"] = (alert + timedelta(hours=20), alert + timedelta(hours=24))
    assert abs(s.share(sports, "next_day") - s.share(sports, "baseline")) < 0.06


@pytest.mark.parametrize(
    "name",
    [
        "recs-weekday-afternoon",
        "credit-after-lunch",
        "fraud-friday-noon",
        "credit-self-employed",
        "fraud-peak-errors",
    ],
)
def test_broken_edge_scenarios_are_fixed_by_a_change_on_the_root_cause_node(name):
    s = open_scenario(name)
    answer = load_answer(s.folder)
    assert answer.kind == "broken_edge"
    fixes = s.con.execute(
        "SELECT count(*) FROM changes WHERE node = ? AND ts = ?", [answer.node, answer.fixed_at]
    ).fetchone()[0]
    assert fixes == 1
    end = s.con.execute("SELECT epoch(max(ts)) FROM decisions").fetchone()[0]
    assert end - answer.fixed_at.timestamp() > 12 * 3600
