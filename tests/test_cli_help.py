"""Every command's --help says what it does and shows an example."""

import argparse

import pytest

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
