"""The [scorer] keys of an http scorer: where it is, which protocol it speaks, how features
map to the model's inputs, which output it reads, its headers and TLS (docs/scoring.md)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from console.playbook.model import DATATYPES, HTTP_PROTOCOLS, Node
from console.playbook.values import ProblemLog, quote, suggestion

HTTP_KEYS = (
    "url",
    "batch_size",
    "timeout",
    "retries",
    "deadline",
    "inputs",
    "protocol",
    "output",
    "column",
    "names",
    "datatypes",
    "headers",
    "verify",
    "ca_bundle",
    "concurrency",
)
# ${NAME} in a header value: an environment variable read when the scorer is built.
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")  # shown unquoted in messages
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP token (RFC 9110)


def http_fields(
    log: ProblemLog, table: Mapping[str, Any], nodes: dict[str, Node]
) -> dict[str, Any]:
    """The Scorer fields of an http scorer, read from its [scorer] table."""
    url = log.string(table, "url", "scorer", required=True, non_empty=True)
    if url.strip() and not url.startswith(("http://", "https://")):
        log.add(f"scorer.url = {quote(url)}: expected an http:// or https:// URL")
    column = table.get("column")
    return {
        "url": url,
        "batch_size": log.number(table, "batch_size", "scorer", 500, minimum=1, integer=True),
        "timeout": log.number(table, "timeout", "scorer", 5.0, minimum=0.001),
        "retries": log.number(table, "retries", "scorer", 2, minimum=0, integer=True),
        "deadline": log.number(table, "deadline", "scorer", 120.0, minimum=0.001),
        "protocol": log.choice(
            table, "protocol", "scorer", HTTP_PROTOCOLS, default="rows", what="http protocol"
        ),
        "output": log.string(table, "output", "scorer"),
        "column": None
        if column is None
        else log.check_number(column, "scorer.column", None, integer=True),
        "names": _strings(log, table, "names", nodes, _name_problem),
        "datatypes": _strings(log, table, "datatypes", nodes, _datatype_problem),
        "headers": tuple(_strings(log, table, "headers", None, _header_problem).items()),
        "verify": log.boolean(table, "verify", "scorer", True),
        "ca_bundle": log.string(table, "ca_bundle", "scorer", non_empty=True),
        "concurrency": log.number(
            table, "concurrency", "scorer", 4, minimum=1, maximum=64, integer=True
        ),
    }


def _strings(
    log: ProblemLog,
    table: Mapping[str, Any],
    key: str,
    nodes: dict[str, Node] | None,
    problem: Any,
) -> dict[str, str]:
    """A [scorer.<key>] table of strings; keyed by node ids when `nodes` is given."""
    if key not in table:
        return {}
    raw = log.table(table[key], f"scorer.{key}")
    out: dict[str, str] = {}
    for name, value in (raw or {}).items():
        where = f"scorer.{key}.{name if _PLAIN_KEY.fullmatch(name) else quote(name)}"
        if nodes is not None and name not in nodes:
            log.add(f"{where}: no such node{suggestion(name, nodes)}")
        elif not isinstance(value, str):
            log.add(f'{where}: expected a string, got {type(value).__name__} (write "{value}")')
        elif wrong := problem(name, value):
            # A header value may be a secret written in place: never repeat it.
            shown = "" if key == "headers" else f" = {quote(value)}"
            log.add(f"{where}{shown}: {wrong}")
        else:
            out[name] = value
    return out


def _name_problem(_node: str, value: str) -> str:
    return "" if value.strip() else "must not be empty"


def _datatype_problem(_node: str, value: str) -> str:
    return "" if value in DATATYPES else f"expected one of {', '.join(DATATYPES)}"


def _header_problem(name: str, value: str) -> str:
    if not _HEADER_NAME.fullmatch(name):
        return "the header name is not an HTTP token"
    if any(ch in value for ch in "\r\n\0"):
        return "a header value holds no line breaks"
    if "${" in ENV_REFERENCE.sub("", value):
        return 'write an environment variable as "${NAME}" (letters, digits, _)'
    return ""
