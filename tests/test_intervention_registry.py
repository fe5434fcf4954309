"""The intervention registry is the one home of each intervention type: the playbook schema
(console.playbook.intervention_types) and the engine modules (console.engine.interventions)
name the same types, docs/playbooks.md documents every parameter with its default, the loader
validates from the schema, and no other source file matches a type by its name."""

import ast
import re
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest
import tomli_w

from console.engine import interventions
from console.errors import ConsoleError
from console.playbook import intervention_types
from console.playbook.intervention_types import INTERVENTION_TYPES, Param, TypeSpec
from console.playbook.loader import load_playbook

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "playbooks.md"
REGISTRY = {
    Path("console/playbook/intervention_types.py"),
    *(p.relative_to(ROOT) for p in (ROOT / "console/engine/interventions").glob("*.py")),
}
# "model_version" is also the decisions table's default version column, not the type.
VERSION_COLUMN = {
    Path("console/playbook/model.py"),
    Path("console/playbook/loader.py"),
    Path("console/telemetry/schema.py"),
}


def test_every_schema_type_has_one_engine_module_and_back():
    engine = {kind.name: kind for kind in interventions.KINDS}
    assert list(engine) == list(INTERVENTION_TYPES)
    for name, kind in engine.items():
        assert type(kind).__module__ == f"console.engine.interventions.{name}"
        assert kind.spec is INTERVENTION_TYPES[name]
    # Ranks run from 0 without a gap (an unplanned edge comes right after the last); types
    # whose evidence is as direct share one (null_rate, range, default_rate: what the
    # pipeline sent in place of a value).
    ranks = {kind.locate_rank for kind in interventions.KINDS}
    assert ranks == set(range(len(ranks)))
    assert {k.name for k in interventions.KINDS if k.locate_rank == 1} == {
        "null_rate",
        "range",
        "default_rate",
    }


def _doc_rows() -> dict[tuple[str, str], dict[str, str]]:
    text = DOCS.read_text()
    head = "| type | parameter | kind | default | bounds | units | meaning |"
    assert head in text
    rows = {}
    for line in text.split(head, 1)[1].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[(cells[0], cells[1])] = dict(
            zip(head.strip("|").replace(" ", "").split("|"), cells, strict=True)
        )
    return rows


def _documented_default(param: Param, text: str) -> object:
    if text == "required":
        return None
    if param.kind == "duration":
        return tomllib.loads(f"v = {text}")["v"]
    return float(text)


def test_docs_document_every_parameter_with_its_kind_and_default():
    rows = _doc_rows()
    schema = {(t, p.name): p for t, spec in INTERVENTION_TYPES.items() for p in spec.params}
    assert set(rows) == set(schema)
    for key, param in schema.items():
        assert rows[key]["kind"] == param.kind, key
        assert _documented_default(param, rows[key]["default"]) == param.default, key
    listed = re.findall(r"^\| (\w+) \| [^|]+ \|$", DOCS.read_text(), re.M)
    assert [t for t in listed if t in INTERVENTION_TYPES] == list(INTERVENTION_TYPES)


def test_no_source_file_outside_the_registry_names_a_type():
    names = set(INTERVENTION_TYPES) | {"unplanned"}
    found = []
    for path in sorted((ROOT / "console").rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel in REGISTRY or rel.parts[:2] == ("console", "gameday"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(rel))):
            if isinstance(node, ast.Constant) and node.value in names:
                if node.value == "model_version" and rel in VERSION_COLUMN:
                    continue
                found.append(f"{rel}:{node.lineno}: {node.value!r}")
    assert found == []


def _playbook_with(tmp_path: Path, intervention: dict) -> Path:
    """The docs example with its first edge's intervention replaced."""
    example = re.search(r"```toml\n(.*?)```", DOCS.read_text(), re.S).group(1)
    data = tomllib.loads(example)
    data["edges"][0]["intervention"] = intervention
    path = tmp_path / "playbook.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def test_the_loader_validates_a_new_type_from_its_schema_alone(tmp_path, monkeypatch):
    spec = TypeSpec(
        "range_check",
        "share of values outside bounds",
        (
            Param("low", "number", None, "value", "smallest valid value"),
            Param("max_outside", "number", 0.01, "share of rows", "broken above", 0, 1),
            Param("window", "duration", "30m", "duration", "how far back"),
        ),
    )
    monkeypatch.setitem(intervention_types.INTERVENTION_TYPES, "range_check", spec)

    # The required number has no default: the loader says so (a number, not a SQL string).
    path = _playbook_with(tmp_path, {"type": "range_check", "max_outside": 2})
    with pytest.raises(ConsoleError) as caught:
        load_playbook(path)
    assert "edges[0].intervention.low: required key is missing" in caught.value.problems
    assert "edges[0].intervention.max_outside = 2: must be at most 1" in caught.value.problems
    path = _playbook_with(tmp_path, {"type": "range_check", "low": -1, "span": 3})
    with pytest.raises(ConsoleError) as caught:
        load_playbook(path)
    assert caught.value.problems == ["edges[0].intervention.span: unknown key"]

    playbook = load_playbook(_playbook_with(tmp_path, {"type": "range_check", "low": -1}))
    params = playbook.edges[0].intervention.params
    assert params == {"low": -1.0, "max_outside": 0.01, "window": timedelta(minutes=30)}
