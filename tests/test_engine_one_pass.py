"""null_rate, freshness and distribution_shift read both windows once: the statistic and its
evidence come from the same scan (tests/test_engine_steps.py's toy store), the statistic is the
number a separate query gives, and the evidence file holds the rows its recorded SQL returns."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from test_engine_steps import ALERT, build_toy

from console.engine.context import side_params
from console.engine.interventions.base import sample_sql
from console.engine.investigation import Investigation
from console.engine.stats import null_rate_change


@pytest.fixture(scope="module")
def opened(tmp_path_factory):
    folder = tmp_path_factory.mktemp("one_pass")
    toy = build_toy(folder / "telemetry")
    with Investigation.open(
        toy / "playbook.toml", toy, folder / "inc", actor="tester", alert_at=ALERT
    ) as inv:
        seen: list[str] = []
        original = inv.store.query

        def recording(sql, params=None, **kwargs):
            seen.append(sql)
            return original(sql, params, **kwargs)

        inv.store.query = recording
        yield inv, seen, folder / "inc"


# What marks an intervention's own scans of the windows (its statistic reads the rows as `v`,
# freshness's as `a`) and an evidence snapshot's second scan; the judgement of a shifted value
# runs queries of its own, which are not the intervention's.
SCANS = ("AS v FROM decisions", "AS a FROM decisions", "AS evidence ORDER BY ALL")


def decisions_queries(opened, edge):
    inv, seen, _ = opened
    seen.clear()
    result = inv.intervene(edge)
    return result, [sql for sql in seen if any(mark in sql for mark in SCANS)]


@pytest.mark.parametrize(
    ("edge", "scans"),
    [
        (("f_c", "toy_model"), 1),  # null_rate: was its test, then the evidence's query
        (("f_d", "toy_model"), 1),  # freshness: was its statistic, then the evidence's
        (("raw_d", "f_d"), 2),  # numeric shift: summary and exact CDF, no evidence sample
        (("raw_c", "f_c"), 1),  # categorical shift: counts, no second count for evidence
    ],
)
def test_each_intervention_scans_the_windows_once_per_statistic_query(opened, edge, scans):
    # Fails on the old code: one more scan each, for the evidence snapshot.
    result, queries = decisions_queries(opened, edge)
    assert len(queries) == scans, queries
    assert result.evidence


def test_null_rate_equals_its_own_query(opened):
    inv = opened[0]
    result, _ = decisions_queries(opened, ("f_c", "toy_model"))
    sample = sample_sql(inv.playbook.nodes["f_c"].expr)
    params = side_params(inv.ctx.baseline, inv.ctx.incident)
    single = null_rate_change(inv.store.query, sample, params, kind="categorical")
    stats = result.statistics
    assert (stats["n_baseline"], stats["n_incident"]) == (single.n_baseline, single.n_incident)
    assert (stats["nulls_baseline"], stats["nulls_incident"]) == (
        single.nulls_baseline,
        single.nulls_incident,
    )
    assert stats["p_value"] == single.p_value and stats["z"] == single.z


@pytest.mark.parametrize("edge", [("f_c", "toy_model"), ("f_d", "toy_model")])
def test_evidence_holds_the_rows_its_recorded_sql_returns(opened, edge):
    inv, _, incident = opened
    result, _ = decisions_queries(opened, edge)
    kept = pq.read_table(incident / result.evidence[0]["path"])
    sql = kept.schema.metadata[b"incident_console.sql"].decode()
    params = {
        **side_params(inv.ctx.baseline, inv.ctx.incident),
        "bucket": inv.playbook.triage.bucket,
    }
    again = inv.store.query(f"SELECT * FROM ({sql}) AS e ORDER BY ALL", params)
    assert kept.num_rows > 0
    assert kept.replace_schema_metadata(None).equals(again.replace_schema_metadata(None))


def test_shift_evidence_is_the_counts_the_statistic_read(opened):
    numeric, _ = decisions_queries(opened, ("raw_d", "f_d"))
    kept = pq.read_table(opened[2] / numeric.evidence[0]["path"]).to_pylist()
    stats = numeric.statistics
    for side, name in (("baseline", "baseline"), ("incident", "incident")):
        rows = [r for r in kept if r["w"] == side]
        assert len(rows) == len(stats["edges"]) + 1
        assert sum(r["n"] for r in rows) == stats[f"n_{name}"] - stats[f"nulls_{name}"]
        shares = stats[f"bin_shares_{name}"]
        total = sum(r["n"] for r in rows)
        assert [r["n"] / total for r in sorted(rows, key=lambda r: r["bin"])] == pytest.approx(
            shares, abs=1e-15
        )
    categorical, _ = decisions_queries(opened, ("raw_c", "f_c"))
    kept = pq.read_table(opened[2] / categorical.evidence[0]["path"]).to_pylist()
    stats = categorical.statistics
    assert sum(r["n"] for r in kept if r["w"] == "baseline") == stats["n_baseline"]
    assert sum(r["n"] for r in kept if r["w"] == "incident") == stats["n_incident"]


def test_explain_looks_an_incident_row_up_within_the_window_only(opened):
    inv, seen, _ = opened
    ids = inv.store.query(
        "SELECT prediction_id, ts >= $i_start AS inside FROM decisions "
        "WHERE ts >= $b_start AND ts < $i_end ORDER BY ts",
        {
            "b_start": inv.ctx.baseline.start,
            "i_start": inv.ctx.incident.start,
            "i_end": inv.ctx.incident.end,
        },
    ).to_pylist()
    inside = next(r["prediction_id"] for r in ids if r["inside"])
    outside = next(r["prediction_id"] for r in ids if not r["inside"])
    seen.clear()
    inv.explain(inside, None)
    lookups = [sql for sql in seen if "WHERE prediction_id = $id" in sql]
    # Fails on the old code: its one lookup read every row (no time bound).
    assert len(lookups) == 1 and "ts >= $i_start AND ts < $i_end" in lookups[0]
    seen.clear()
    explained = inv.explain(outside, None)  # a baseline row: found by the unbounded lookup
    assert len([sql for sql in seen if "WHERE prediction_id = $id" in sql]) == 2
    assert explained.prediction_id == outside
