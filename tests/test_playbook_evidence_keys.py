"""The playbook keys that feed the engine's broken-versus-world evidence: a node's plausible
values (valid_min, valid_max, units, sentinels), several planned interventions per edge, the
range and default_rate types, [windows] lookback and [evidence] producers.

Each test fails on the code before these keys existed: the loader reported them as unknown
keys (`nodes[0].valid_min: unknown key`), so every `load_playbook` below raised."""

import re
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest
import tomli_w

from console.errors import ConsoleError
from console.playbook.loader import load_playbook
from console.playbook.model import Windows

DOCS = Path(__file__).resolve().parents[1] / "docs" / "playbooks.md"
EXAMPLE = re.search(r"```toml\n(.*?)```", DOCS.read_text(), re.S).group(1)


def example() -> dict:
    return tomllib.loads(EXAMPLE)


def load(tmp_path: Path, data: dict):
    path = tmp_path / "playbook.toml"
    path.write_text(tomli_w.dumps(data))
    return load_playbook(path)


def problems(tmp_path: Path, data: dict) -> list[str]:
    with pytest.raises(ConsoleError) as caught:
        load(tmp_path, data)
    return caught.value.problems


def node(data: dict, node_id: str) -> dict:
    return next(n for n in data["nodes"] if n["id"] == node_id)


def edge(data: dict, source: str, target: str) -> dict:
    return next(e for e in data["edges"] if e["from"] == source and e["to"] == target)


def test_the_docs_example_sets_every_new_key(tmp_path):
    playbook = load(tmp_path, example())
    amount = playbook.nodes["raw_amount"]
    assert (amount.valid_min, amount.valid_max) == (0.0, 1_000_000.0)
    assert amount.units == "major currency units (not cents)"
    assert amount.sentinels == (0.0,)
    assert playbook.nodes["raw_ip_country"].sentinels == ("", "XX")
    assert playbook.nodes["f_log_amount"].sentinels == ()  # the default
    assert playbook.windows.lookback == timedelta(hours=12)
    assert playbook.producers == ("seg_gateway", "model_version")
    mismatch = playbook.edge("f_country_mismatch", "fraud_score")
    assert mismatch.intervention.type == "null_rate"
    assert mismatch.intervention.params == {"max_increase": 0.01}
    [default_rate] = mismatch.also
    assert (default_rate.type, default_rate.params) == ("default_rate", {"max_increase": 0.05})
    assert [i.type for i in mismatch.planned] == ["null_rate", "default_rate"]
    # An edge with one intervention plans just that one.
    single = playbook.edge("raw_amount", "f_log_amount")
    assert single.also == () and single.planned == (single.intervention,)


def test_left_out_the_new_keys_take_their_documented_defaults(tmp_path):
    data = example()
    del data["windows"]["lookback"], data["evidence"]
    playbook = load(tmp_path, data)
    assert playbook.windows.lookback is None  # from the end of the baseline window
    assert Windows().lookback is None
    assert playbook.producers == ()
    category = playbook.nodes["raw_card_country"]
    assert (category.valid_min, category.valid_max, category.units) == (None, None, "")


def test_lookback_may_be_zero_the_incident_window_only(tmp_path):
    data = example()
    data["windows"]["lookback"] = "0s"
    assert load(tmp_path, data).windows.lookback == timedelta(0)


def test_interventions_may_be_written_as_an_array_of_tables(tmp_path):
    text = EXAMPLE.replace(
        "interventions = [                       # several, run in this order\n"
        '    { type = "null_rate", max_increase = 0.01 },\n'
        '    { type = "default_rate", max_increase = 0.05 },   # 0 when the IP lookup failed\n'
        "]\n",
        '[[edges.interventions]]\ntype = "default_rate"\n'
        '[[edges.interventions]]\ntype = "distribution_shift"\nbins = 4\n',
    )
    assert text != EXAMPLE
    path = tmp_path / "tables.toml"
    path.write_text(text)
    planned = load_playbook(path).edge("f_country_mismatch", "fraud_score").planned
    assert [(i.type, i.params) for i in planned] == [
        ("default_rate", {"max_increase": 0.02}),
        ("distribution_shift", {"psi_threshold": 0.2, "alpha": 0.001, "bins": 4}),
    ]


def test_range_needs_a_numeric_source_and_default_rate_takes_either(tmp_path):
    data = example()
    edge(data, "raw_card_country", "f_country_mismatch")["intervention"] = {"type": "default_rate"}
    edge(data, "raw_amount", "f_log_amount")["intervention"] = {"type": "range"}
    playbook = load(tmp_path, data)
    assert playbook.edge("raw_amount", "f_log_amount").intervention.params == {
        "max_implausible": 0.01
    }
    edge(data, "raw_card_country", "f_country_mismatch")["intervention"] = {"type": "range"}
    assert problems(tmp_path, data) == [
        'edges[4].intervention: range needs a numeric source node, but "raw_card_country" of '
        "the edge raw_card_country -> f_country_mismatch is categorical"
    ]


def _both_keys(d):
    edge(d, "f_country_mismatch", "fraud_score")["intervention"] = {"type": "null_rate"}


def _duplicate_type(d):
    edge(d, "f_country_mismatch", "fraud_score")["interventions"].append({"type": "null_rate"})


def _third_planned(d, intervention):
    edge(d, "f_country_mismatch", "fraud_score")["interventions"].append(intervention)


CASES = {
    "valid_min above valid_max": (
        lambda d: node(d, "raw_amount").update(valid_min=10, valid_max=5),
        "nodes[0].valid_min = 10: must be at most nodes[0].valid_max (5)",
    ),
    "valid_max not a number": (
        lambda d: node(d, "raw_amount").update(valid_max="1e6"),
        'nodes[0].valid_max: expected a number, got a string ("1e6")',
    ),
    "valid_min not finite": (
        lambda d: node(d, "raw_amount").update(valid_min=float("-inf")),
        "nodes[0].valid_min: expected a finite number, got a float (-inf)",
    ),
    "range on a categorical node": (
        lambda d: node(d, "raw_card_country").update(valid_min=0),
        "nodes[2].valid_min: only numeric nodes have valid_min (this node is categorical)",
    ),
    "units on a categorical node": (
        lambda d: node(d, "raw_card_country").update(units="ISO"),
        "nodes[2].units: only numeric nodes have units (this node is categorical)",
    ),
    "units not a string": (
        lambda d: node(d, "raw_amount").update(units=100),
        'nodes[0].units: expected a string, got an integer (100) (write "100")',
    ),
    "string sentinel on a numeric node": (
        lambda d: node(d, "raw_amount").update(sentinels=[0, "none"]),
        'nodes[0].sentinels[1]: expected a number (the node is numeric), got a string ("none")',
    ),
    "boolean sentinel on a numeric node": (
        lambda d: node(d, "raw_amount").update(sentinels=[True]),
        "nodes[0].sentinels[0]: expected a number (the node is numeric), got a boolean (true)",
    ),
    "number sentinel on a categorical node": (
        lambda d: node(d, "raw_ip_country").update(sentinels=["XX", 0]),
        "nodes[4].sentinels[1]: expected a string (the node is categorical), got an integer (0)",
    ),
    "sentinels not an array": (
        lambda d: node(d, "raw_amount").update(sentinels=0),
        "nodes[0].sentinels: expected an array of values, got an integer (0)",
    ),
    "intervention and interventions together": (
        _both_keys,
        "edges[7]: has both intervention and interventions; list every planned intervention "
        "in interventions, in the order they should run",
    ),
    "the same type twice": (
        _duplicate_type,
        'edges[7].interventions[2].type = "null_rate": already planned in '
        "edges[7].interventions[0]; an edge runs each type once",
    ),
    "interventions not an array": (
        lambda d: edge(d, "f_country_mismatch", "fraud_score").update(interventions="null_rate"),
        "edges[7].interventions: expected an array of tables",
    ),
    "interventions empty": (
        lambda d: edge(d, "f_country_mismatch", "fraud_score").update(interventions=[]),
        "edges[7].interventions: empty; leave the key out when no intervention is planned",
    ),
    "a bad parameter is named by its place in the array": (
        lambda d: _third_planned(d, {"type": "distribution_shift", "bins": 1}),
        "edges[7].interventions[2].bins = 1: must be at least 2",
    ),
    "each planned intervention is checked against the nodes": (
        lambda d: _third_planned(d, {"type": "shadow_recompute"}),
        "edges[7].interventions[2]: shadow_recompute needs a reference on the target node "
        '"fraud_score", which has none',
    ),
    "unknown type in the array": (
        lambda d: _third_planned(d, {"type": "ranges"}),
        'edges[7].interventions[2].type = "ranges": unknown intervention type',
    ),
    "max_implausible above 1": (
        lambda d: edge(d, "raw_amount", "f_log_amount").update(
            intervention={"type": "range", "max_implausible": 5}
        ),
        "edges[0].intervention.max_implausible = 5: must be at most 1",
    ),
    "default_rate takes no values parameter": (
        # The defaults it counts are the source node's sentinels, not a parameter.
        lambda d: edge(d, "f_country_mismatch", "fraud_score")["interventions"][1].update(
            values=[0]
        ),
        "edges[7].interventions[1].values: unknown key",
    ),
    "lookback not a duration": (
        lambda d: d["windows"].update(lookback=12),
        "windows.lookback: expected a duration string, got an integer (12)",
    ),
    "producers not a list of strings": (
        lambda d: d["evidence"].update(producers=["seg_site", 3]),
        "evidence.producers[1]: expected a non-empty string, got an integer (3)",
    ),
    "producer listed twice": (
        lambda d: d["evidence"].update(producers=["seg_site", "seg_site"]),
        'evidence.producers[1] = "seg_site": listed twice',
    ),
    "unknown key in [evidence]": (
        lambda d: d["evidence"].update(producer=["x"]),
        'evidence.producer: unknown key; did you mean "producers"?',
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_each_mistake_is_named_with_its_key(tmp_path, case):
    change, expected = CASES[case]
    data = example()
    change(data)
    found = problems(tmp_path, data)
    assert any(expected in p for p in found), found
