"""The config file (console/config.py): where it is found, what it may hold, and how a bad one
ends (one line on stderr naming the file and key, exit 2, nothing created)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from console.config import Config, load_config, save_theme
from console.errors import ConsoleError
from console.paths import REPO_ROOT


@pytest.fixture
def home(tmp_path, monkeypatch):
    """No config from the machine running the tests: XDG points into tmp_path."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("INCIDENT_CONSOLE_CONFIG", raising=False)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problems(err: pytest.ExceptionInfo[ConsoleError]) -> str:
    """The message as the CLI prints it: the head naming the file, then each problem."""
    return str(err.value)


def test_a_missing_default_file_is_an_empty_config(home):
    config = load_config()
    assert config == Config(home / "xdg" / "incident-console" / "config.toml")


def test_xdg_then_env_then_flag(home, monkeypatch):
    xdg = write(home / "xdg" / "incident-console" / "config.toml", 'actor = "xdg"\n')
    env = write(home / "env.toml", 'actor = "env"\n')
    flag = write(home / "flag.toml", 'actor = "flag"\n')
    assert load_config().actor == "xdg"
    assert load_config().path == xdg
    monkeypatch.setenv("INCIDENT_CONSOLE_CONFIG", str(env))
    assert load_config().actor == "env"
    assert load_config(flag).actor == "flag"


def test_every_key_is_read(home):
    path = write(
        home / "c.toml",
        'theme = "nord"\nactor = "alice"\ntimezone = "Asia/Kolkata"\nkeymap = "keys/k.toml"\n',
    )
    config = load_config(path)
    assert config.theme == "nord" and config.actor == "alice"
    assert config.timezone is not None and config.timezone.key == "Asia/Kolkata"
    # A relative keymap is beside the config file, not in the working directory.
    assert config.keymap == home / "keys" / "k.toml"


def test_the_docs_example_loads(home):
    doc = (REPO_ROOT / "docs" / "console.md").read_text(encoding="utf-8")
    section = doc[doc.index("## Configuration") :]
    example = re.search(r"```\n(# ~/.config/incident-console/config.toml\n.*?)```", section, re.S)
    assert example is not None
    config = load_config(write(home / "config.toml", example.group(1)))
    assert (config.theme, config.actor) == ("nord", "alice")
    assert config.timezone is not None and config.timezone.key == "Europe/Paris"
    assert config.keymap == home / "keymap.toml"


def test_an_explicit_file_that_does_not_exist_is_an_error(home):
    with pytest.raises(ConsoleError, match="config file .*nope.toml does not exist"):
        load_config(home / "nope.toml")


def test_unknown_keys_name_the_key_and_the_file(home):
    path = write(home / "c.toml", 'theme = "nord"\ntimezon = "UTC"\n[keymap]\nnote = "N"\n')
    with pytest.raises(ConsoleError) as err:
        load_config(path)
    text = problems(err)
    assert str(path) in text
    assert "timezon: unknown key" in text
    assert "keymap: must be a non-empty string" in text  # a table where a path belongs


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('timezone = "Mars/Olympus"', "timezone: 'Mars/Olympus' is not an IANA time zone"),
        ('timezone = "../../../etc/passwd"', "is not an IANA time zone"),
        ('timezone = "/etc/localtime"', "is not an IANA time zone"),
        ('timezone = "Europe/Paris\\u0000"', "timezone: must not hold control characters"),
        ('actor = "eve\\u001b[2J"', "actor: must not hold control characters"),
        ('actor = ""', "actor: must be a non-empty string"),
        ("actor = 7", "actor: must be a non-empty string, not 7"),
        ('theme = ["nord"]', "theme: must be a non-empty string"),
        ("keymap = true", "keymap: must be a non-empty string"),
    ],
)
def test_hostile_values_are_errors_naming_the_key(home, line, expected):
    path = write(home / "c.toml", line + "\n")
    with pytest.raises(ConsoleError) as err:
        load_config(path)
    assert expected in problems(err)
    assert str(path) in problems(err)


def test_invalid_toml_names_the_file(home):
    path = write(home / "c.toml", "theme = \n")
    with pytest.raises(ConsoleError, match="is not valid TOML"):
        load_config(path)


def test_save_theme_keeps_the_other_keys_and_creates_the_file(home):
    path = write(home / "c.toml", 'actor = "alice"\ntimezone = "UTC"\ntheme = "nord"\n')
    config = load_config(path)
    write(path, path.read_text(encoding="utf-8") + 'keymap = "k.toml"\n')  # edited since
    saved = save_theme(config, "dracula")
    assert saved.theme == "dracula"
    assert tomllib.loads(path.read_text(encoding="utf-8")) == {
        "actor": "alice",
        "timezone": "UTC",
        "theme": "dracula",
        "keymap": "k.toml",
    }
    fresh = home / "xdg" / "incident-console" / "config.toml"
    save_theme(load_config(), "gruvbox")
    assert tomllib.loads(fresh.read_text(encoding="utf-8")) == {"theme": "gruvbox"}


def test_flags_win_over_the_config_file(home):
    from argparse import Namespace

    from console.commands.open import console_settings

    write(home / "cfg" / "k.toml", '[keymap]\n"note" = "N"\n')
    write(home / "flag-keys.toml", '[keymap]\n"note" = "M"\n')
    path = write(home / "cfg" / "config.toml", 'actor = "alice"\nkeymap = "k.toml"\n')
    _, keymap, actor = console_settings(Namespace(config=path, keymap=None, actor=None))
    assert (keymap, actor) == ({"note": "N"}, "alice")
    flags = Namespace(config=path, keymap=home / "flag-keys.toml", actor="bob")
    _, keymap, actor = console_settings(flags)
    assert (keymap, actor) == ({"note": "M"}, "bob")


def _start(tmp_path: Path, *extra: str, env: dict[str, str] | None = None):
    incident = tmp_path / "gd"
    done = subprocess.run(
        [
            sys.executable, "-m", "console", "gameday", "start", "recs-weekday-afternoon",
            "--incident-dir", str(incident), *extra,
        ],
        capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg"), **(env or {})},
    )  # fmt: skip
    return done, incident


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('timezone = "Nowhere/City"\n', "timezone: 'Nowhere/City' is not an IANA time zone"),
        ('theme = "no-such-theme"\n', "theme 'no-such-theme' is not a theme"),
        ('colour = "red"\n', "colour: unknown key"),
    ],
)
def test_a_bad_config_ends_on_stderr_with_exit_2_and_no_folder(tmp_path, text, expected):
    path = write(tmp_path / "c.toml", text)
    done, incident = _start(tmp_path, "--config", str(path))
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr and str(path) in done.stderr
    assert "Traceback" not in done.stderr
    assert not incident.exists()


def test_the_env_var_names_the_file_and_the_config_keymap_is_checked(tmp_path):
    """INCIDENT_CONSOLE_CONFIG is read; the keymap it names is checked like --keymap."""
    write(tmp_path / "k.toml", '[keymap]\n"nte" = "N"\n')
    path = write(tmp_path / "c.toml", 'keymap = "k.toml"\n')
    done, incident = _start(tmp_path, env={"INCIDENT_CONSOLE_CONFIG": str(path)})
    assert done.returncode == 2
    assert 'keymap."nte": unknown binding id' in done.stderr
    assert not incident.exists()
