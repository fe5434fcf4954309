"""Binding playbook expressions to the decisions table, and series to the metrics table."""

from __future__ import annotations

from dataclasses import replace

from test_telemetry_helpers import decisions_table, make_playbook, write_duckdb, write_store

from console.playbook.model import Edge, Intervention, Node
from console.telemetry.binding import check_bindings, playbook_expressions

RAW = Node("raw_amount", "source", "numeric", "payments", "amount", expr="raw_amount")
FEATURE = Node(
    "f_log_amount",
    "feature",
    "numeric",
    "features",
    "log amount",
    expr="feat_log_amount",
    reference="ln(1 + raw_amount)",
)
METRIC = Node(
    "decline_rate",
    "metric",
    "numeric",
    "risk",
    "share declined",
    expr="avg(CASE WHEN decision = 'decline' THEN 1.0 ELSE 0.0 END)",
    series="fraud_decline_rate",
)


def test_a_fitting_playbook_binds(tmp_path):
    folder = write_store(tmp_path / "tel")
    assert check_bindings(make_playbook(), folder) == []
    assert check_bindings(make_playbook(), write_duckdb(tmp_path / "t.duckdb")) == []


def test_misspelt_column_names_node_expression_and_suggestion(tmp_path):
    folder = write_store(tmp_path / "tel")
    typo = replace(FEATURE, expr="feat_log_amout")
    problems = check_bindings(make_playbook([RAW, typo, METRIC]), folder)
    assert problems == [
        "node 'f_log_amount' expr 'feat_log_amout' does not bind to "
        f"{folder / 'decisions.parquet'}: no column 'feat_log_amout' "
        "(did you mean 'feat_log_amount'?)"
    ]


def test_reference_and_freshness_expressions_are_bound(tmp_path):
    folder = write_store(tmp_path / "tel")
    bad_reference = replace(FEATURE, reference="ln(1 + raw_amt)")
    stale = Edge(
        "raw_amount",
        "f_log_amount",
        "served from a cache",
        intervention=Intervention("freshness", {"age_expr": "epoch(ts) - epoch(feat_ts)"}),
    )
    problems = check_bindings(make_playbook([RAW, bad_reference, METRIC], [stale]), folder)
    assert len(problems) == 2
    assert problems[0].startswith("node 'f_log_amount' reference 'ln(1 + raw_amt)'")
    assert "no column 'raw_amt' (did you mean 'raw_amount'?)" in problems[0]
    assert problems[1].startswith(
        "edge raw_amount -> f_log_amount freshness age_expr 'epoch(ts) - epoch(feat_ts)'"
    )
    assert "no column 'feat_ts'" in problems[1]


def test_metric_expr_must_aggregate_and_row_expr_must_not(tmp_path):
    folder = write_store(tmp_path / "tel")
    not_aggregate = replace(METRIC, expr="score")
    aggregate_feature = replace(FEATURE, expr="avg(feat_log_amount)")
    problems = check_bindings(make_playbook([RAW, aggregate_feature, not_aggregate]), folder)
    assert len(problems) == 2
    assert "node 'f_log_amount' expr" in problems[0]
    assert "an aggregate is only allowed in a metric node's expr" in problems[0]
    assert "node 'decline_rate' expr 'score'" in problems[1]
    assert "must be an aggregate" in problems[1]


def test_syntax_error_is_reported_not_raised(tmp_path):
    folder = write_store(tmp_path / "tel")
    broken = replace(RAW, expr="raw_amount +")
    [problem] = check_bindings(make_playbook([broken, FEATURE, METRIC]), folder)
    assert problem.startswith("node 'raw_amount' expr 'raw_amount +' does not bind")
    assert "syntax error" in problem.lower()


def test_metric_series_must_exist(tmp_path):
    folder = write_store(tmp_path / "tel")
    renamed = replace(METRIC, series="fraud_decline_rates")
    playbook = make_playbook([RAW, FEATURE, renamed], latency_series="fraud_latency_p99")
    assert check_bindings(playbook, folder) == [
        "metric node 'decline_rate' series 'fraud_decline_rates' has no rows in "
        f"{folder / 'metrics.parquet'} (did you mean 'fraud_decline_rate'?)",
        f"[triage] latency_series 'fraud_latency_p99' has no rows in {folder / 'metrics.parquet'}",
    ]


def test_version_and_sensitive_columns_must_exist(tmp_path):
    folder = write_store(tmp_path / "tel")
    playbook = make_playbook()
    playbook = replace(
        playbook,
        model=replace(playbook.model, version_column="model_ver"),
        sensitive=("raw_card_hash",),
    )
    label = folder / "decisions.parquet"
    assert check_bindings(playbook, folder) == [
        f"[model] version_column names column 'model_ver', not in {label} "
        "(did you mean 'model_version'?)",
        f"[privacy] sensitive names column 'raw_card_hash', not in {label}",
    ]


def test_missing_decisions_file_is_a_problem_not_a_crash(tmp_path):
    folder = write_store(tmp_path / "tel", skip=("decisions",))
    [problem] = check_bindings(make_playbook(), folder)
    assert "decisions.parquet: file missing" in problem


def test_every_planned_interventions_sql_is_bound_under_its_key(tmp_path):
    # Fails on the code before Edge.also: only Edge.intervention's parameters were bound.
    folder = write_store(tmp_path / "tel")
    planned = Edge(
        "raw_amount",
        "f_log_amount",
        "served from a cache",
        intervention=Intervention("null_rate", {"max_increase": 0.02}),
        also=(Intervention("freshness", {"age_expr": "epoch(ts) - epoch(feat_ts)"}),),
    )
    [problem] = check_bindings(make_playbook([RAW, FEATURE, METRIC], [planned]), folder)
    assert problem.startswith(
        "edge raw_amount -> f_log_amount freshness age_expr 'epoch(ts) - epoch(feat_ts)' "
        "does not bind"
    )
    assert "no column 'feat_ts'" in problem
    keys = [item.key for item in playbook_expressions(make_playbook(edges=[planned]))]
    assert "edges.raw_amount->f_log_amount.interventions[1].age_expr" in keys


def test_producers_must_be_decisions_columns(tmp_path):
    # Fails on the code before [evidence]: producers were not checked at all.
    folder = write_store(tmp_path / "tel")
    playbook = replace(make_playbook(), producers=("seg_country", "seg_countyr", "client"))
    label = folder / "decisions.parquet"
    assert check_bindings(playbook, folder) == [
        f"evidence.producers[1] names column 'seg_countyr', not in {label} "
        "(did you mean 'seg_country'?)",
        f"evidence.producers[2] names column 'client', not in {label}",
    ]


def test_an_expression_named_like_a_column_is_refused(tmp_path):
    # Fails on the code before [expressions]: nothing compared the names with the columns.
    folder = write_store(tmp_path / "tel")
    playbook = replace(
        make_playbook(), expressions={"raw_amount": "raw_amount * 100", "ratio": "score / 2"}
    )
    assert check_bindings(playbook, folder) == [
        "expressions.raw_amount: same name as the column 'raw_amount' of "
        f"{folder / 'decisions.parquet'}; rename the expression"
    ]
    # DuckDB compares column names without case: "Score" and score are the same column.
    shouty = write_store(
        tmp_path / "shouty",
        decisions=decisions_table().rename_columns(
            [c if c != "score" else "Score" for c in decisions_table().column_names]
        ),
    )
    playbook = replace(make_playbook(), expressions={"score": "1"})
    assert check_bindings(playbook, shouty)[-1] == (
        "expressions.score: same name as the column 'Score' of "
        f"{shouty / 'decisions.parquet'}; rename the expression"
    )
