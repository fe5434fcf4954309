"""docs/engine.md against the code, and the rule that the engine never reads answer keys."""

from __future__ import annotations

import inspect
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from console.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "engine.md"
SCENARIO = ROOT / "sample_data" / "fraud-friday-noon"
ENGINE_FILES = sorted((ROOT / "console" / "engine").rglob("*.py")) + [
    ROOT / "console" / "commands" / "investigate.py"
]


def _doc_example() -> dict:
    block = re.search(r"```json\n(.*?)\n```", DOC.read_text(), re.S)
    assert block, "docs/engine.md has no json example"
    return json.loads(block.group(1))


def test_the_documented_summary_has_the_keys_of_a_real_one(tmp_path):
    example = _doc_example()
    folder = tmp_path / "t"
    shutil.copytree(SCENARIO, folder, ignore=shutil.ignore_patterns("answer.toml"))
    out = tmp_path / "s.json"
    assert main([
        "investigate", str(folder / "playbook.toml"), "--telemetry", str(folder),
        "--incident-dir", str(tmp_path / "inc"), "--auto", "--json", str(out),
    ]) == 0  # fmt: skip
    real = json.loads(out.read_text())
    assert set(example) == set(real)
    for key in ("triage", "root_cause", "counterfactual", "validation"):
        assert set(example[key]) == set(real[key]), key
    assert set(example["interventions"][0]) == set(real["interventions"][0])
    assert set(example["locate"]) == set(real["locate"])
    assert example["root_cause"] == real["root_cause"]


def test_the_documented_api_exists():
    from console.engine.auto import run_auto
    from console.engine.investigation import Investigation

    text = DOC.read_text()
    documented = re.findall(r"^inv\.(\w+)\(", text, re.M)
    # The doc's API block lists the steps; an empty match would check nothing.
    assert {"triage", "locate", "intervene", "counterfactual", "validate", "report"} <= set(
        documented
    )
    for name in documented:
        assert inspect.isfunction(inspect.getattr_static(Investigation, name, None)), name
    assert "`console.engine.auto.run_auto(inv) -> dict`" in text
    assert list(inspect.signature(run_auto).parameters)[0] == "inv"


def test_engine_modules_never_name_the_answer_key():
    names = {p.relative_to(ROOT / "console").as_posix() for p in ENGINE_FILES}
    # The glob reaches every engine module, the intervention registry's included.
    assert {"engine/investigation.py", "engine/auto.py", "commands/investigate.py"} <= names
    assert any(n.startswith("engine/interventions/") for n in names)
    for path in ENGINE_FILES:
        text = path.read_text()
        for word in ("answer.toml", "ANSWER_FILE", "gameday.answers", "load_answer"):
            assert word not in text, f"{path.name} mentions {word}"


def test_auto_never_opens_answer_toml(tmp_path):
    folder = tmp_path / "t"
    shutil.copytree(SCENARIO, folder)  # answer.toml included, on purpose
    code = (
        "import sys\n"
        "def hook(event, args):\n"
        "    if event == 'open' and str(args[0]).endswith('answer.toml'):\n"
        "        raise RuntimeError('the engine opened ' + str(args[0]))\n"
        "sys.addaudithook(hook)\n"
        "from console.cli import main\n"
        f"sys.exit(main(['investigate', {str(folder / 'playbook.toml')!r}, '--telemetry', "
        f"{str(folder)!r}, '--incident-dir', {str(tmp_path / 'inc')!r}, '--auto']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "root cause: broken_edge raw_card_age_days -> f_card_age" in done.stdout
