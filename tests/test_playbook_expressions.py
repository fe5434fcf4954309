"""[expressions]: named SQL written once and used as {name}; the loader expands every use, so
the engine never sees a brace, and refuses bad names, unknown names and cycles by name.

Every test here fails on the code before [expressions] existed: the loader reported
`expressions: unknown key` and left `{name}` in the SQL."""

import re
import tomllib
from pathlib import Path

import pytest
import tomli_w

from console.errors import ConsoleError
from console.playbook.loader import load_playbook

DOCS = Path(__file__).resolve().parents[1] / "docs" / "playbooks.md"
BLOCKS = re.findall(r"```toml\n(.*?)```", DOCS.read_text(), re.S)
EXAMPLE = BLOCKS[0]
# A reference as the loader would expand it: an identifier in braces.
BRACE_REFERENCE = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "playbook.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def example(expressions: dict | None = None) -> dict:
    """The docs example, with more expressions beside its own."""
    data = tomllib.loads(EXAMPLE)
    data["expressions"].update(expressions or {})
    return data


def node(data: dict, node_id: str) -> dict:
    return next(n for n in data["nodes"] if n["id"] == node_id)


def problems(tmp_path: Path, data: dict) -> list[str]:
    with pytest.raises(ConsoleError) as caught:
        load_playbook(write(tmp_path, data))
    return caught.value.problems


def test_the_docs_example_expands_its_expressions_and_keeps_the_table(tmp_path):
    playbook = load_playbook(write(tmp_path, example()))
    assert playbook.nodes["f_log_amount"].reference == "(ln(1 + raw_amount))"
    assert playbook.nodes["f_country_mismatch"].reference == (
        "(CASE WHEN raw_ip_country <> raw_card_country THEN 1.0 ELSE 0.0 END)"
    )
    # The table as written, braces and all, for rendering and write-back.
    assert playbook.expressions == tomllib.loads(EXAMPLE)["expressions"]
    for item in playbook.nodes.values():
        assert not BRACE_REFERENCE.search(item.expr + item.reference), item.id


def test_the_docs_claims_example_loads_with_nested_expressions(tmp_path):
    """The second toml block of docs/playbooks.md, added to the complete example."""
    claims = tomllib.loads(BLOCKS[1])
    data = example()
    data["expressions"].update(claims["expressions"])
    data["nodes"] += claims["nodes"]
    data["edges"] += claims["edges"]
    playbook = load_playbook(write(tmp_path, data))
    assert playbook.nodes["f_claim_ratio"].reference == (
        "(least((raw_claim_amount / nullif(raw_insured_value, 0)), 10))"
    )
    amount = playbook.nodes["raw_claim_amount"]
    assert (amount.valid_min, amount.valid_max, amount.units) == (0.0, 5e6, "EUR")
    assert amount.sentinels == (0.0, -1.0)
    edge = playbook.edge("raw_claim_amount", "f_claim_ratio")
    assert [i.type for i in edge.planned] == ["range", "default_rate", "shadow_recompute"]
    assert edge.intervention.params == {"max_implausible": 0.005}


def test_expressions_are_expanded_in_expr_reference_and_sql_parameters(tmp_path):
    data = example(
        {
            "amount": "raw_amount * 1.0",
            "lookup_age": "epoch(ts) - epoch(raw_ip_lookup_ts)",
            "log_amount": "ln(1 + {amount})",
        }
    )
    node(data, "raw_amount")["expr"] = "{amount}"
    node(data, "f_log_amount")["reference"] = "{log_amount}"
    data["edges"][2]["intervention"]["age_expr"] = "{lookup_age} + 0"
    playbook = load_playbook(write(tmp_path, data))
    assert playbook.nodes["raw_amount"].expr == "(raw_amount * 1.0)"
    # Parenthesised at each level: `ln(1 + a * 1.0)` would be the same here, but `{a} * 2`
    # with a = "x + 1" must not become x + 1 * 2.
    assert playbook.nodes["f_log_amount"].reference == "(ln(1 + (raw_amount * 1.0)))"
    freshness = playbook.edge("geoip_vendor", "raw_ip_country").intervention
    assert freshness.params["age_expr"] == "(epoch(ts) - epoch(raw_ip_lookup_ts)) + 0"
    assert playbook.expressions["log_amount"] == "ln(1 + {amount})"


def test_braces_in_string_literals_quoted_names_and_structs_are_left_alone(tmp_path):
    data = example({"ratio": "raw_amount / 100"})
    node(data, "raw_amount")["expr"] = (
        "CASE WHEN raw_merchant_category = '{ratio}' THEN {ratio} "
        "WHEN raw_card_country = 'it''s {ratio}' THEN \"{ratio}\" "
        "ELSE struct_extract({'k': {ratio}}, 'k') END"
    )
    playbook = load_playbook(write(tmp_path, data))
    assert playbook.nodes["raw_amount"].expr == (
        "CASE WHEN raw_merchant_category = '{ratio}' THEN (raw_amount / 100) "
        "WHEN raw_card_country = 'it''s {ratio}' THEN \"{ratio}\" "
        "ELSE struct_extract({'k': (raw_amount / 100)}, 'k') END"
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["expressions"].update(Claim="1"),
            'expressions."Claim": an expression name starts with a lower-case letter or _ and '
            "holds only lower-case letters, digits and _",
        ),
        (
            lambda d: d["expressions"].update({"claim-ratio": "1"}),
            'expressions."claim-ratio": an expression name starts with a lower-case letter',
        ),
        (
            lambda d: d["expressions"].update(raw_amount="1"),
            'expressions.raw_amount: same name as the node "raw_amount"; rename the expression',
        ),
        (
            lambda d: d["expressions"].update(a="{b} + 1", b="{a} * 2"),
            "expressions.a: cycle {a} -> {b} -> {a}: an expression cannot use itself",
        ),
        (
            lambda d: d["expressions"].update(a="{a} + 1"),
            "expressions.a: cycle {a} -> {a}: an expression cannot use itself",
        ),
        (
            lambda d: d["expressions"].update(a="{claim_ratoi}", claim_ratio="1"),
            'expressions.a: unknown expression {claim_ratoi}; did you mean "claim_ratio"?',
        ),
        (
            lambda d: node(d, "raw_amount").update(expr="{log_amout}"),
            'nodes[0].expr: unknown expression {log_amout}; did you mean "log_amount"?',
        ),
        (
            lambda d: d.pop("expressions") and node(d, "raw_amount").update(expr="{x}"),
            "nodes[0].expr: unknown expression {x} (the playbook has no [expressions] table)",
        ),
        (
            lambda d: d["edges"][2]["intervention"].update(age_expr="{age}"),
            "edges[2].intervention.age_expr: unknown expression {age}",
        ),
        (
            lambda d: d["expressions"].update(blank=" "),
            "expressions.blank: must not be empty",
        ),
        (
            lambda d: d["expressions"].update(n=3),
            'expressions.n: expected a string, got an integer (3) (write "3")',
        ),
        (
            lambda d: d.update(expressions=["x"]),
            "expressions: expected a table, got an array",
        ),
    ],
    ids=[
        "upper-case name",
        "name with a dash",
        "name of a node",
        "cycle",
        "self reference",
        "unknown in an expression",
        "unknown in a node expr",
        "no table",
        "unknown in a sql parameter",
        "empty",
        "not a string",
        "not a table",
    ],
)
def test_each_expression_mistake_is_named(tmp_path, change, expected):
    data = example()
    change(data)
    found = problems(tmp_path, data)
    assert any(expected in p for p in found), found


def test_a_cycle_is_reported_once_and_its_users_are_not_blamed_again(tmp_path):
    data = example({"a": "{b}", "b": "{c}", "c": "{a}", "user": "{a} + 1"})
    node(data, "raw_amount")["expr"] = "{user}"
    assert problems(tmp_path, data) == [
        "expressions.a: cycle {a} -> {b} -> {c} -> {a}: an expression cannot use itself"
    ]


def test_a_badly_named_expression_is_reported_once_not_again_where_it_is_used(tmp_path):
    data = example({"Amount": "raw_amount"})
    node(data, "raw_amount")["expr"] = "{Amount}"
    [problem] = problems(tmp_path, data)
    assert problem.startswith('expressions."Amount": an expression name')


def test_hostile_nesting_is_refused_not_followed(tmp_path):
    deep = {f"e{i}": f"{{e{i + 1}}}" for i in range(40)} | {"e40": "1"}
    found = problems(tmp_path, example(deep))
    assert found[0].startswith("expressions.e0: nests more than 16 expressions deep ({e0} -> ")
    # 15 levels of doubling: 2**15 copies of the innermost text, refused before it is built
    # a second time into every node that uses it.
    doubling = {f"d{i}": f"{{d{i + 1}}} + {{d{i + 1}}}" for i in range(15)} | {"d15": "raw"}
    found = problems(tmp_path, example(doubling))
    assert any("expands to more than 100,000 characters" in p for p in found), found
