"""Reading one JSON document a tool emitted (a file, or stdin for `-`) and the small typed
accessors the parsers share, each failing with a ConsoleError that names the file and key.

Payloads are hostile: a parser reads only the keys it needs, with the type it needs, and
keeps text as data (never interpreted, never printed raw: the CLI's streams escape it).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from console.errors import ConsoleError

# Webhooks and API responses are small; a bigger file is not one of them.
MAX_BYTES = 64 * 1024 * 1024
# RFC 3339 with nanoseconds (Go's time.RFC3339Nano): Python keeps microseconds.
_FRACTION = re.compile(r"(\.\d{6})\d+")


@dataclass(frozen=True)
class Payload:
    source: str  # the file name as given, or "stdin"
    raw: bytes
    data: Any


def read_payload(name: str, option: str) -> Payload:
    """The JSON document in file `name` (`-`: stdin); option names the flag for messages."""
    source = "stdin" if name == "-" else name
    try:
        if name == "-":
            raw = sys.stdin.buffer.read(MAX_BYTES + 1)
        else:
            with Path(name).open("rb") as f:
                raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ConsoleError(f"{option} {source}: no such file") from None
    except IsADirectoryError:
        raise ConsoleError(f"{option} {source}: is a folder, not a JSON file") from None
    except OSError as exc:
        raise ConsoleError(f"{option} {source}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise ConsoleError(f"{option} {source}: larger than {MAX_BYTES // 2**20} MiB")
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise ConsoleError(f"{option} {source}: not UTF-8 (byte {exc.start})") from None
    except (json.JSONDecodeError, ValueError) as exc:
        raise ConsoleError(f"{option} {source}: not valid JSON: {exc}") from None
    except RecursionError:
        raise ConsoleError(f"{option} {source}: not valid JSON: nested too deeply") from None
    return Payload(source, raw, data)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class Reader:
    """Typed reads from one payload; every problem names the source and the key path."""

    def __init__(self, source: str, what: str) -> None:
        self.source = source
        self.what = what  # "a kubectl events list", for messages

    def fail(self, key: str, problem: str) -> ConsoleError:
        return ConsoleError(f"{self.source}: {key}: {problem} (reading it as {self.what})")

    def obj(self, value: Any, key: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(key, f"expected a JSON object, got {_kind(value)}")
        return value

    def items(self, value: Any, key: str) -> list[Mapping[str, Any]]:
        if not isinstance(value, list):
            raise self.fail(key, f"expected a JSON array, got {_kind(value)}")
        return [self.obj(item, f"{key}[{i}]") for i, item in enumerate(value)]

    def text(self, obj: Mapping[str, Any], name: str, key: str, default: str = "") -> str:
        """A string member; absent or null gives default; any other type is an error."""
        value = obj.get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(f"{key}.{name}", f"expected a string, got {_kind(value)}")
        return str(value)

    def time(self, obj: Mapping[str, Any], names: tuple[str, ...], key: str) -> datetime:
        """The first of names that holds a time (RFC 3339 text), as UTC."""
        for name in names:
            text = self.text(obj, name, key)
            if text and not text.startswith("0001-01-01"):  # Go's zero time: not set
                return self.parse_time(text, f"{key}.{name}")
        raise self.fail(key, f"no time in {' / '.join(names)}")

    def parse_time(self, text: str, key: str) -> datetime:
        try:
            value = datetime.fromisoformat(_FRACTION.sub(r"\1", text.strip()))
        except ValueError:
            raise self.fail(key, f"{text!r} is not an RFC 3339 time") from None
        if value.tzinfo is None:
            raise self.fail(key, f"{text!r} has no time zone")
        return value.astimezone(UTC)

    def epoch_ms(self, obj: Mapping[str, Any], name: str, key: str) -> datetime:
        value = obj.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{key}.{name}", f"expected epoch milliseconds, got {_kind(value)}")
        try:
            return datetime.fromtimestamp(value / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            raise self.fail(f"{key}.{name}", f"{value!r} is not a time") from None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
