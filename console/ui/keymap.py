"""The user's keymap: a TOML file that rebinds the console's keys by binding id.

    # $XDG_CONFIG_HOME/incident-console/keymap.toml (or --keymap FILE)
    [keymap]
    "note" = "N"
    "step-locate" = "l,2"

Every binding of the console has an id (listed in docs/console.md and shown by `?`); the
value is a key, or several separated by commas. Unknown ids are an error naming the file, so
a typo does not silently leave a key unbound; so is a key given to two bindings that can apply
at the same time (console.ui.bindings.clashes), naming both ids, since Textual would quietly
let one of them win.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from console.errors import ConsoleError
from console.ui.bindings import clashes


def default_keymap_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "incident-console" / "keymap.toml"


def load_keymap(path: Path | None, known_ids: set[str]) -> dict[str, str]:
    """Binding id -> key string from path (or the default file when it exists; {} otherwise)."""
    explicit = path is not None
    path = path or default_keymap_path()
    if not path.exists():
        if explicit:
            raise ConsoleError(f"keymap file {path} does not exist")
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConsoleError(f"cannot read keymap file {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConsoleError(f"keymap file {path} is not valid TOML: {exc}") from exc
    table = data.get("keymap", {})
    problems = [f"unknown table [{key}]" for key in data if key != "keymap"]
    if not isinstance(table, dict):
        raise ConsoleError(f'keymap file {path}: [keymap] must be a table of id = "key"')
    keymap: dict[str, str] = {}
    for binding_id, keys in table.items():
        if binding_id not in known_ids:
            problems.append(f'keymap."{binding_id}": unknown binding id')
        elif not isinstance(keys, str) or not keys.strip():
            problems.append(f'keymap."{binding_id}": the key must be a non-empty string')
        else:
            keymap[binding_id] = keys.replace(" ", "")
    if problems:
        raise ConsoleError(
            f"keymap file {path} has problems (known ids: {', '.join(sorted(known_ids))})",
            problems=problems,
        )
    collisions = clashes(keymap)
    if collisions:
        raise ConsoleError(f"keymap file {path}: keys collide", problems=collisions)
    return keymap
