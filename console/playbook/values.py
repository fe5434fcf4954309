"""Reading typed values out of parsed TOML while collecting every problem, not just the first.

The loader reads a whole playbook through one ProblemLog: each reader returns a usable value
(the default when the key is missing or wrong) and records what was wrong, with the key's
full path, so that one run of `playbook check` lists everything a person has to fix.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar, overload

from console.playbook.durations import DURATION_HINT, duration_problem, parse_duration

_MISSING = object()
# A choice among fixed strings; the choices may be a Literal type's values, which it keeps.
Choice = TypeVar("Choice", bound=str)


def quote(value: str) -> str:
    """A string as TOML would write it, for messages."""
    return json.dumps(value, ensure_ascii=False)


def describe(value: Any) -> str:
    """What a TOML value is, in words: 'an integer (6)', 'a table'."""
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({value})" if abs(value) < 10**12 else "an integer"
    if isinstance(value, float):
        return f"a float ({value})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({quote(shown)})"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, datetime):
        return "a date-time"
    if isinstance(value, date):
        return "a date"
    if isinstance(value, time):
        return "a time"
    return type(value).__name__


def suggestion(word: str, choices: Iterable[str]) -> str:
    """'; did you mean "x"?' for the nearest choice, or '' when nothing is near."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {quote(close[0])}?" if close else ""


def join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


class ProblemLog:
    """Typed readers over parsed TOML that record problems instead of raising."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, problem: str) -> None:
        self.problems.append(problem)

    def table(self, value: Any, where: str) -> dict[str, Any] | None:
        if isinstance(value, Mapping):
            return dict(value)
        self.add(f"{where}: expected a table, got {describe(value)}")
        return None

    def known_keys(self, table: Mapping[str, Any], where: str, allowed: Iterable[str]) -> None:
        allowed = list(allowed)
        for key in table:
            if key not in allowed:
                self.add(f"{join(where, key)}: unknown key{suggestion(key, allowed)}")

    def _get(self, table: Mapping[str, Any], key: str, where: str, required: bool) -> Any:
        value = table.get(key, _MISSING)
        if value is _MISSING and required:
            self.add(f"{join(where, key)}: required key is missing")
        return value

    def string(
        self,
        table: Mapping[str, Any],
        key: str,
        where: str,
        *,
        default: str = "",
        required: bool = False,
        non_empty: bool = False,
    ) -> str:
        value = self._get(table, key, where, required)
        if value is _MISSING:
            return default
        if not isinstance(value, str):
            hint = f' (write "{value}")' if isinstance(value, int | float) else ""
            self.add(f"{join(where, key)}: expected a string, got {describe(value)}{hint}")
            return default
        if non_empty and not value.strip():
            self.add(f"{join(where, key)}: must not be empty")
        return value

    @overload
    def choice(
        self,
        table: Mapping[str, Any],
        key: str,
        where: str,
        choices: Iterable[Choice],
        *,
        default: Choice,
        what: str | None = None,
    ) -> Choice: ...

    @overload
    def choice(
        self,
        table: Mapping[str, Any],
        key: str,
        where: str,
        choices: Iterable[Choice],
        *,
        default: None = None,
        what: str | None = None,
    ) -> Choice | None: ...

    def choice(
        self,
        table: Mapping[str, Any],
        key: str,
        where: str,
        choices: Iterable[Choice],
        *,
        default: Choice | None = None,
        what: str | None = None,
    ) -> Choice | None:
        options = list(choices)
        value = self.string(table, key, where, default="", required=default is None)
        if key not in table or not isinstance(table[key], str):
            return default
        for option in options:
            if option == value:
                return option
        self.add(
            f"{join(where, key)} = {quote(value)}: unknown {what or key}; expected one of "
            f"{', '.join(options)}{suggestion(value, options)}"
        )
        return default

    def number(
        self,
        table: Mapping[str, Any],
        key: str,
        where: str,
        default: float,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        integer: bool = False,
    ) -> Any:
        value = self._get(table, key, where, False)
        if value is _MISSING:
            return default
        return self.check_number(value, join(where, key), default, minimum, maximum, integer)

    def check_number(
        self,
        value: Any,
        name: str,
        default: Any,
        minimum: float | None = None,
        maximum: float | None = None,
        integer: bool = False,
    ) -> Any:
        wanted = "a whole number" if integer else "a number"
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(f"{name}: expected {wanted}, got {describe(value)}")
            return default
        if integer and not isinstance(value, int):
            self.add(f"{name}: expected {wanted}, got {describe(value)}")
            return default
        try:
            finite = math.isfinite(float(value))
        except OverflowError:
            finite = False
        if not finite:
            self.add(f"{name}: expected a finite {wanted[2:]}, got {describe(value)}")
            return default
        if minimum is not None and value < minimum:
            self.add(f"{name} = {value}: must be at least {minimum:g}")
            return default
        if maximum is not None and value > maximum:
            self.add(f"{name} = {value}: must be at most {maximum:g}")
            return default
        return value if integer else float(value)

    def boolean(self, table: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
        value = self._get(table, key, where, False)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            self.add(f"{join(where, key)}: expected true or false, got {describe(value)}")
            return default
        return value

    @overload
    def duration(
        self,
        table: Mapping[str, Any],
        key: str,
        where: str,
        default: timedelta,
        *,
        allow_zero: bool = False,
    ) -> timedelta: ...

    @overload
    def duration(
        self,
        table: Mapping[str, Any],
        key: str,
        where: str,
        default: None,
        *,
        allow_zero: bool = False,
    ) -> timedelta | None: ...

    def duration(
        self,
        table: Mapping[str, Any],
        key: str,
        where: str,
        default: timedelta | None,
        *,
        allow_zero: bool = False,
    ) -> timedelta | None:
        value = self._get(table, key, where, False)
        if value is _MISSING:
            return default
        return self.check_duration(value, join(where, key), default, allow_zero=allow_zero)

    def check_duration(
        self, value: Any, name: str, default: timedelta | None, *, allow_zero: bool = False
    ) -> timedelta | None:
        if not isinstance(value, str):
            self.add(f"{name}: expected a duration string, got {describe(value)} ({DURATION_HINT})")
            return default
        problem = duration_problem(value)
        if problem:
            self.add(f"{name} = {quote(value)}: {problem}")
            return default
        parsed = parse_duration(value)
        if not parsed and not allow_zero:
            self.add(f"{name} = {quote(value)}: must be longer than zero")
            return default
        return parsed

    def string_list(self, table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = self._get(table, key, where, False)
        if value is _MISSING:
            return ()
        if not isinstance(value, list):
            self.add(f"{join(where, key)}: expected an array of strings, got {describe(value)}")
            return ()
        items = []
        for index, item in enumerate(value):
            if isinstance(item, str) and item.strip():
                items.append(item)
            else:
                self.add(
                    f"{join(where, key)}[{index}]: expected a non-empty string, got {describe(item)}"
                )
        return tuple(items)
