"""Loading playbooks: the docs example loads; each kind of mistake gets its clear message."""

import re
import subprocess
import sys
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest
import tomli_w

from console.errors import ConsoleError
from console.playbook.durations import format_duration, parse_duration
from console.playbook.loader import load_playbook

DOCS = Path(__file__).resolve().parents[1] / "docs" / "playbooks.md"


def docs_example() -> str:
    """The first ```toml block of docs/playbooks.md: the complete example playbook."""
    return re.search(r"```toml\n(.*?)```", DOCS.read_text(), re.S).group(1)


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConsoleError) as caught:
        load_playbook(path)
    assert caught.value.problems, str(caught.value)
    return caught.value.problems


def test_docs_example_loads_into_the_typed_model(tmp_path):
    path = tmp_path / "fraud.toml"
    path.write_text(docs_example())
    playbook = load_playbook(path)

    assert playbook.path == path
    assert playbook.model.name == "fraud-detector"
    assert len(playbook.nodes) >= 8
    assert list(playbook.nodes)[:2] == ["raw_amount", "raw_merchant_category"]
    assert playbook.windows.baseline == timedelta(days=7)
    assert playbook.triage.metric == "decline_rate"
    assert playbook.triage.max_clock_skew == timedelta(minutes=5)
    assert playbook.nodes["geoip_vendor"].expr == ""
    edge = playbook.edge("raw_merchant_category", "f_merchant_category")
    assert edge.status == "unverified"  # the default
    # Defaults are filled into the intervention's parameters.
    assert edge.intervention.params == {"tolerance": 1e-6, "max_mismatch_rate": 0.01}
    freshness = playbook.edge("geoip_vendor", "raw_ip_country").intervention
    assert freshness.params["max_lag"] == timedelta(hours=1)
    feedback = playbook.edge("decline_rate", "raw_amount")
    assert feedback.feedback and feedback.delay == timedelta(days=1)
    assert playbook.scorer.weights["f_merchant_category=gambling"] == 1.2
    assert playbook.scorer.features[:2] == ["f_log_amount", "f_merchant_category"]
    assert playbook.sensitive == ("raw_card_hash", "raw_ip")


def test_a_minimal_playbook_gets_the_documented_defaults(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(
        '[model]\nname = "m"\nowner = "o"\noncall = "#c"\n'
        '[[nodes]]\nid = "ctr"\nkind = "metric"\ntype = "numeric"\nowner = "o"\n'
        'description = "d"\nexpr = "avg(clicked)"\nseries = "ctr"\n'
        '[triage]\nmetric = "ctr"\n[scorer]\ntype = "python"\nentry_point = "pkg.mod:score"\n'
    )
    playbook = load_playbook(path)
    assert playbook.edges == []
    assert playbook.tables.decisions == "decisions.parquet"
    assert playbook.windows.incident == timedelta(hours=6)
    assert playbook.triage.direction == "both"
    assert playbook.scorer.inputs == ()  # no feature nodes to send


def mutate(change):
    """A case that edits the parsed docs example before it is written back as TOML."""

    def build(text: str) -> str:
        data = tomllib.loads(text)
        change(data)
        return tomli_w.dumps(data)

    return build


def node(data, node_id):
    return next(n for n in data["nodes"] if n["id"] == node_id)


def edge(data, source, target):
    return next(e for e in data["edges"] if e["from"] == source and e["to"] == target)


def _unmark_feedback(data):
    back = edge(data, "decline_rate", "raw_amount")
    del back["feedback"], back["delay"]


CASES = {
    "edge to an unknown node": (
        mutate(lambda d: d["edges"][3].update({"to": "f_country_mismach"})),
        'edges[3].to = "f_country_mismach": no such node; did you mean "f_country_mismatch"?',
    ),
    "edge from an unknown node, nothing close": (
        mutate(lambda d: d["edges"][0].update({"from": "zzz"})),
        'edges[0].from = "zzz": no such node',
    ),
    "duplicate node id": (
        mutate(lambda d: d["nodes"][2].update({"id": "raw_amount"})),
        'nodes[2].id = "raw_amount": duplicate of nodes[0]',
    ),
    "duplicate edge": (
        mutate(lambda d: d["edges"].append(dict(d["edges"][0]))),
        "edges[12]: duplicate of edges[0] (raw_amount -> f_log_amount)",
    ),
    "missing mechanism": (
        mutate(lambda d: d["edges"][1].pop("mechanism")),
        "edges[1].mechanism: required key is missing",
    ),
    "empty mechanism": (
        mutate(lambda d: d["edges"][1].update({"mechanism": "  "})),
        "edges[1].mechanism: must not be empty",
    ),
    "unknown node kind": (
        mutate(lambda d: node(d, "raw_amount").update({"kind": "sorce"})),
        'nodes[0].kind = "sorce": unknown node kind; expected one of source, feature, model, '
        'decision, metric, external; did you mean "source"?',
    ),
    "unknown node type": (
        mutate(lambda d: node(d, "raw_amount").update({"type": "number"})),
        'nodes[0].type = "number": unknown node type; expected one of numeric, categorical',
    ),
    "unknown edge status": (
        mutate(lambda d: d["edges"][0].update({"status": "verifed"})),
        'edges[0].status = "verifed": unknown edge status; expected one of verified, '
        'unverified, tentative; did you mean "verified"?',
    ),
    "unknown intervention type": (
        mutate(lambda d: d["edges"][0]["intervention"].update({"type": "shadow"})),
        'edges[0].intervention.type = "shadow": unknown intervention type',
    ),
    "missing required intervention parameter": (
        mutate(lambda d: d["edges"][2]["intervention"].pop("age_expr")),
        "edges[2].intervention.age_expr: required key is missing",
    ),
    "unknown intervention parameter": (
        mutate(lambda d: d["edges"][0]["intervention"].update({"tolerence": 0.1})),
        'edges[0].intervention.tolerence: unknown key; did you mean "tolerance"?',
    ),
    "intervention parameter of the wrong type": (
        mutate(lambda d: d["edges"][6]["intervention"].update({"bins": "20"})),
        'edges[6].intervention.bins: expected a whole number, got a string ("20")',
    ),
    "shadow_recompute without a reference on the target": (
        mutate(lambda d: d["edges"][5].update({"intervention": {"type": "shadow_recompute"}})),
        "edges[5].intervention: shadow_recompute needs a reference on the target node "
        '"fraud_score", which has none',
    ),
    "cycle not marked as feedback": (
        mutate(_unmark_feedback),
        "cycle raw_amount -> f_log_amount -> fraud_score -> decision -> decline_rate -> "
        "raw_amount is not marked as feedback",
    ),
    "self loop": (
        mutate(
            lambda d: d["edges"].append({"from": "decision", "to": "decision", "mechanism": "x"})
        ),
        "cycle decision -> decision is not marked as feedback",
    ),
    "delay on an ordinary edge": (
        mutate(lambda d: d["edges"][0].update({"delay": "1h"})),
        "edges[0].delay: only feedback edges have a delay (set feedback = true)",
    ),
    "triage metric is not a metric node": (
        mutate(lambda d: d["triage"].update({"metric": "fraud_score"})),
        'triage.metric = "fraud_score": must name a node of kind metric, not model',
    ),
    "metric node without series": (
        mutate(lambda d: node(d, "decline_rate").pop("series")),
        "nodes[11].series: required key is missing",
    ),
    "metric node without expr": (
        mutate(lambda d: node(d, "decline_rate").pop("expr")),
        "nodes[11].expr: required key is missing",
    ),
    "logistic scorer without weights": (
        mutate(lambda d: d["scorer"].pop("weights")),
        "scorer.weights: required key is missing (a table: node id -> weight)",
    ),
    "weight for an unknown node": (
        mutate(lambda d: d["scorer"]["weights"].update({"f_log_amt": 1.0})),
        'scorer.weights.f_log_amt: no such node "f_log_amt"; did you mean "f_log_amount"?',
    ),
    "python scorer without entry_point": (
        mutate(lambda d: d.update({"scorer": {"type": "python"}})),
        "scorer.entry_point: required key is missing",
    ),
    "http scorer without url": (
        mutate(lambda d: d.update({"scorer": {"type": "http"}})),
        "scorer.url: required key is missing",
    ),
    "key of another scorer type": (
        mutate(lambda d: d["scorer"].update({"url": "http://x"})),
        "scorer.url: not used by a logistic scorer",
    ),
    "unknown scorer type": (
        mutate(lambda d: d["scorer"].update({"type": "logit"})),
        'scorer.type = "logit": unknown scorer type; expected one of linear, logistic, '
        'python, http; did you mean "logistic"?',
    ),
    "unknown top-level table": (
        mutate(lambda d: d.update({"telemetery": d.pop("telemetry")})),
        'telemetery: unknown key; did you mean "telemetry"?',
    ),
    "unknown key in a node": (
        mutate(lambda d: d["nodes"][3].update({"exprs": "x"})),
        'nodes[3].exprs: unknown key; did you mean "expr"?',
    ),
    "missing required table": (
        mutate(lambda d: d.pop("triage")),
        "[triage]: required table is missing",
    ),
    "bad duration names its key": (
        mutate(lambda d: d["windows"].update({"baseline": "7 days"})),
        'windows.baseline = "7 days": not a duration (write a whole number and a unit s, m, '
        'h or d, e.g. "6h")',
    ),
    "number where a duration is needed": (
        mutate(lambda d: d["windows"].update({"incident": 6})),
        "windows.incident: expected a duration string, got an integer (6)",
    ),
    "string where a number is needed": (
        mutate(lambda d: d["scorer"].update({"threshold": "0.5"})),
        'scorer.threshold: expected a number, got a string ("0.5")',
    ),
    "number where a string is needed": (
        mutate(lambda d: d["scorer"].update({"positive": 1})),
        'scorer.positive: expected a string, got an integer (1) (write "1")',
    ),
    "table where an array of tables is needed": (
        mutate(lambda d: d.update({"nodes": d["nodes"][0]})),
        "nodes: expected an array of tables ([[nodes]]), got a table",
    ),
    "string where a table is needed": (
        mutate(lambda d: d.update({"windows": "6h"})),
        'windows: expected a table, got a string ("6h")',
    ),
    "minor above critical": (
        mutate(lambda d: d["triage"].update({"minor": 0.3})),
        "triage.minor = 0.3: must be below triage.critical (0.15)",
    ),
    "telemetry file outside the telemetry folder": (
        mutate(lambda d: d["telemetry"].update({"changes": "../other/changes.parquet"})),
        'telemetry.changes = "../other/changes.parquet": must be a file name inside the '
        "telemetry folder (no absolute path, no ..)",
    ),
    "bad node id": (
        mutate(lambda d: node(d, "f_txn_count_1h").update({"id": "txn count"})),
        'nodes[8].id = "txn count": a node id starts with a letter or _ and holds only '
        "letters, digits and _",
    ),
    "reference on a non-feature node": (
        mutate(lambda d: node(d, "raw_amount").update({"reference": "x"})),
        "nodes[0].reference: only feature nodes have a reference (this is a source)",
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_each_mistake_is_named_with_where_it_is(tmp_path, case):
    build, expected = CASES[case]
    path = tmp_path / "broken.toml"
    path.write_text(build(docs_example()))
    problems = problems_of(path)
    assert any(expected in p for p in problems), problems


def test_toml_syntax_error_gives_file_line_and_column(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text(docs_example().replace('name = "fraud-detector"', 'name = "fraud-detector'))
    problems = problems_of(path)
    assert re.fullmatch(rf"{re.escape(str(path))}: .*\(at line 2, column \d+\)", problems[0])


def test_not_utf8_names_line_and_column(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_bytes(b'[model]\nname = "\xff"\n')
    assert "line 2, column 9" in problems_of(path)[0]


def test_missing_file_is_a_console_error(tmp_path):
    with pytest.raises(ConsoleError, match="no such playbook file"):
        load_playbook(tmp_path / "nope.toml")


def test_every_problem_is_reported_at_once(tmp_path):
    data = tomllib.loads(docs_example())
    data["edges"][0]["to"] = "nowhere"
    data["nodes"][1]["kind"] = "sorce"
    data["windows"]["postfix"] = "soon"
    data["scorer"]["threshold"] = [0.5]
    path = tmp_path / "broken.toml"
    path.write_text(tomli_w.dumps(data))
    with pytest.raises(ConsoleError) as caught:
        load_playbook(path)
    assert len(caught.value.problems) == 4
    assert str(caught.value).startswith(f"{path}: playbook is not valid (4 problems)")


@pytest.mark.parametrize(
    ("text", "value"),
    [("30s", timedelta(seconds=30)), ("90m", timedelta(minutes=90)), ("6h", timedelta(hours=6))]
    + [("7d", timedelta(days=7)), ("0s", timedelta(0))],
)
def test_durations_parse_and_format_back(text, value):
    assert parse_duration(text) == value
    assert parse_duration(format_duration(value)) == value


def test_format_duration_uses_the_largest_exact_unit():
    assert format_duration(timedelta(minutes=90)) == "90m"
    assert format_duration(timedelta(hours=48)) == "2d"


@pytest.mark.parametrize(
    "text", ["6", "h", "1.5h", "-1h", "6 hours", "99999999999d", "1" * 30 + "s"]
)
def test_bad_durations_are_console_errors(text):
    with pytest.raises(ConsoleError):
        parse_duration(text)


def test_too_long_duration_says_so():
    with pytest.raises(ConsoleError, match="too long"):
        parse_duration("9999999999d")


def test_a_playbook_without_a_cycle_loads_without_networkx():
    # The console validates the playbook before its first frame; networkx (0.17 s to import)
    # is needed only to describe a cycle (tests above), not to find there is none.
    code = (
        "import sys\n"
        "from console.playbook.loader import load_playbook\n"
        "load_playbook('playbooks/fraud.toml')\n"
        "print('networkx' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False"]
