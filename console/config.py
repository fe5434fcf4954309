"""The user's config file: defaults for the commands that open the console.

    # $XDG_CONFIG_HOME/incident-console/config.toml (or INCIDENT_CONSOLE_CONFIG, or --config)
    theme = "nord"                 # a Textual theme; written back when chosen in the palette
    actor = "alice"                # the default actor (--actor wins)
    timezone = "Europe/Paris"      # the zone the console shows times in (the trail stays UTC)
    keymap = "keymap.toml"         # the default keymap file (--keymap wins), relative to here

Every key is optional and a missing file is no config at all; an unknown key or a value of the
wrong kind is an error naming the file and the key, as the keymap loader does, so a typo never
silently leaves a default in place. The theme name is checked against Textual's themes by the
UI (this module must not import textual: the CLI reads it for the actor and the keymap).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tomli_w

from console.errors import ConsoleError
from console.files import atomic_write

ENV_VAR = "INCIDENT_CONSOLE_CONFIG"
KEYS = ("theme", "actor", "timezone", "keymap")


@dataclass(frozen=True)
class Config:
    """The settings read from `path` (which may not exist yet: the theme is saved there)."""

    path: Path
    theme: str | None = None
    actor: str | None = None
    timezone: ZoneInfo | None = None
    keymap: Path | None = None


def default_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "incident-console" / "config.toml"


def config_path(explicit: Path | None) -> Path:
    """--config, else $INCIDENT_CONSOLE_CONFIG, else the XDG default."""
    if explicit is not None:
        return explicit
    return Path(os.environ[ENV_VAR]) if os.environ.get(ENV_VAR) else default_config_path()


def load_config(explicit: Path | None = None) -> Config:
    """The config file's settings, checked. A --config file that does not exist is an error
    (a typo in the flag); a missing file found through the environment or the default is an
    empty config, saved to when a theme is chosen."""
    path = config_path(explicit)
    data = _read(path, must_exist=explicit is not None)
    problems = [
        f"{key}: unknown key (known keys: {', '.join(KEYS)})" for key in data if key not in KEYS
    ]
    text: dict[str, str] = {}
    for key in KEYS:
        if key not in data:
            continue
        value = data[key]
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{key}: must be a non-empty string, not {value!r}")
        elif any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            # An actor or path with a control character would reach the trail and the screen.
            problems.append(f"{key}: must not hold control characters ({value!r})")
        else:
            text[key] = value.strip()
    zone = None
    if "timezone" in text:
        zone = _zone(text["timezone"])
        if zone is None:
            problems.append(
                f"timezone: {text['timezone']!r} is not an IANA time zone (e.g. Europe/Paris, UTC)"
            )
    if problems:
        raise ConsoleError(f"config file {path} has problems", problems=problems)
    keymap = Path(text["keymap"]).expanduser() if "keymap" in text else None
    if keymap is not None and not keymap.is_absolute():
        # A relative keymap is read beside the config, not from wherever the console starts.
        keymap = path.parent / keymap
    return Config(path, text.get("theme"), text.get("actor"), zone, keymap)


def save_theme(config: Config, theme: str) -> Config:
    """Write `theme` into the config file atomically, keeping every other key as the file
    holds it now (it may have been edited since it was read)."""
    data = _read(config.path, must_exist=False)
    data["theme"] = theme
    try:
        config.path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConsoleError(f"cannot create the folder of config file {config.path}: {exc}") from exc
    atomic_write(config.path, tomli_w.dumps(data))
    return replace(config, theme=theme)


def _read(path: Path, *, must_exist: bool) -> dict[str, Any]:
    if not path.exists():
        if must_exist:
            raise ConsoleError(f"config file {path} does not exist")
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConsoleError(f"cannot read config file {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConsoleError(f"config file {path} is not valid TOML: {exc}") from exc


def _zone(name: str) -> ZoneInfo | None:
    """The zone named `name`, or None when there is none. ZoneInfo refuses absolute and `..`
    paths itself (ValueError); a name it cannot find, or a file that is not a zone, is None."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
