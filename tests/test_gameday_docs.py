"""docs/gameday.md: its examples are real scenario cards and answer keys."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from console.gameday.answers import load_answer
from console.gameday.scenarios import SCENARIOS
from console.paths import REPO_ROOT, scenario_dir

DOC = (REPO_ROOT / "docs" / "gameday.md").read_text()
BLOCKS = re.findall(r"```toml\n(.*?)```", DOC, flags=re.S)


def test_scenario_card_example_has_the_keys_of_a_generated_card():
    example = tomllib.loads(BLOCKS[0])
    generated = tomllib.loads((scenario_dir(example["name"]) / "scenario.toml").read_text())
    assert example.keys() == generated.keys()
    assert example["alert_at"] == generated["alert_at"]


def test_answer_key_example_loads_with_the_reader(tmp_path: Path):
    (tmp_path / "answer.toml").write_text(BLOCKS[1])
    example = load_answer(tmp_path)
    bundled = load_answer(scenario_dir(example.scenario))
    assert (example.kind, example.node, example.edge) == (bundled.kind, bundled.node, bundled.edge)
    assert example.fixed_at == bundled.fixed_at


def test_every_scenario_is_listed_in_the_doc():
    assert len(SCENARIOS) >= 7  # the loop below checks nothing for an empty registry
    for name in SCENARIOS:
        assert f"| {name} |" in DOC, name
