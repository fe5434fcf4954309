"""Every command's --help says what it does and shows an example."""

import argparse

import pytest
from loaded_modules import loaded_by

from console.cli import build_parser, main


def leaf_commands(parser=None, path=()):
    parser = parser or build_parser()
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
    for action in subs:
        for name, sub in action.choices.items():
            yield from leaf_commands(sub, (*path, name))


COMMANDS = list(leaf_commands())


def test_every_group_is_reachable():
    names = {path[0] for path, _ in COMMANDS}
    assert {"open", "investigate", "playbook", "telemetry", "trail", "gameday"} <= names


@pytest.mark.parametrize(("path", "parser"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_help_describes_and_shows_an_example(path, parser):
    text = parser.format_help()
    assert parser.description, f"{' '.join(path)} has no description"
    assert "example" in text.lower()
    assert "incident-console " + " ".join(path) in text


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "COMMAND" in capsys.readouterr().out


def test_a_run_builds_only_its_own_group_and_the_same_parser_for_it():
    # `open` must not pay for the trail group's imports (its export formats load the exporter
    # and the verifier) before the console's first frame.
    code = (
        "from console.cli import build_parser\nbuild_parser('open').parse_args(['open', 'p.toml'])"
    )
    assert loaded_by(code, ["console.audit.export"]) == []
    # Each group's commands parse and read the same whether built alone or with the others.
    whole = {path: sub.format_help() for path, sub in COMMANDS}
    for group in {path[0] for path in whole}:
        alone = {path: sub.format_help() for path, sub in leaf_commands(build_parser(group))}
        assert alone == {path: text for path, text in whole.items() if path[0] == group}


def test_an_unknown_command_names_every_group(capsys):
    assert main(["no-such-command"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice" in err and "gameday" in err and "trail" in err
