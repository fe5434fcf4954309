"""The README is the new user's contract: its commands must be the ones that work."""

import re
import shlex
from pathlib import Path

import pytest

from console.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def quickstart_commands() -> list[str]:
    section = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)\n```", section, flags=re.S)


def test_quickstart_has_exactly_two_commands():
    commands = quickstart_commands()
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)
    assert "gameday start" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command():
    assert quickstart_commands()[1] in (ROOT / ".ci" / "run").read_text()


def test_quickstart_scenario_is_bundled():
    scenario = quickstart_commands()[0].rsplit(" ", 1)[1]
    assert (ROOT / "sample_data" / scenario / "scenario.toml").is_file()


def cli_examples() -> list[list[str]]:
    section = README.split("## The command line", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)\n```", section, flags=re.S).group(1)
    return [shlex.split(line)[1:] for line in block.splitlines() if line.strip()]


def test_the_parametrized_checks_below_have_something_to_check():
    # An empty list would leave the parametrized tests with nothing to run.
    assert len(cli_examples()) >= 5
    assert {"docs/trail.md", "docs/architecture.md"} <= set(
        re.findall(r"\]\((docs/[^)]+)\)", README)
    )


@pytest.mark.parametrize("argv", cli_examples(), ids=lambda a: " ".join(a[:2]))
def test_readme_cli_examples_parse(argv):
    args = build_parser().parse_args(argv)
    # The example reaches a command's handler, not a group's help.
    assert args.func.__module__.startswith("console.commands.")
    assert args.func.__name__ != "<lambda>"


@pytest.mark.parametrize("link", re.findall(r"\]\((docs/[^)]+)\)", README))
def test_readme_links_exist(link):
    assert (ROOT / link).is_file()


def test_the_own_data_example_is_a_playbook_section_that_loads(tmp_path):
    """The README's "own data" TOML, in place of playbooks/fraud.toml's [telemetry] table."""
    from console.playbook.loader import load_playbook

    section = README.split("## An incident on your own data", 1)[1].split("\n## ", 1)[0]
    example = re.search(r"```toml\n(.*?)```", section, flags=re.S).group(1)
    text = (ROOT / "playbooks" / "fraud.toml").read_text()
    head, rest = text.split("[telemetry]\n", 1)
    rest = rest.split("\n\n", 1)[1]  # the file-name keys up to the next blank line
    path = tmp_path / "fraud.toml"
    path.write_text(head + rest + "\n" + example)
    playbook = load_playbook(path)
    kinds = {source.table: source.kind for source in playbook.tables.sources}
    assert kinds == {"decisions": "parquet", "metrics": "prometheus", "changes": "parquet"}
    assert playbook.intake.alert_routes[0].metric == "decline_rate"
