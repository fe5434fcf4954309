"""TOML playbook -> typed Playbook, validated; every problem is reported at once.

load_playbook(path) reads and parses the file; playbook_from_data(data, path) validates
already-parsed TOML (the write-back validates its proposal through it before writing).
Both raise ConsoleError(message, problems=[...]) naming each problem with its key path.
Every {name} of the [expressions] table is expanded here (class Expressions), so the typed
Playbook holds runnable SQL and no later layer parses brace references.
"""

from __future__ import annotations

import graphlib
import re
import tomllib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from console.errors import ConsoleError
from console.playbook.impact_config import impact_config
from console.playbook.intake_config import intake_config
from console.playbook.intervention_types import INTERVENTION_TYPES, Param
from console.playbook.model import (
    DIRECTIONS,
    EDGE_STATUSES,
    LIMITED_STEPS,
    NODE_KINDS,
    NODE_TYPES,
    Edge,
    Intervention,
    Limits,
    ModelInfo,
    Node,
    Playbook,
    Scorer,
    ScorerType,
    TelemetryTables,
    Triage,
    Windows,
)
from console.playbook.scorer_http import HTTP_KEYS, http_fields
from console.playbook.telemetry_config import ENGINE_KEYS, table_source, telemetry_engine
from console.playbook.values import ProblemLog, describe, join, quote, suggestion

NODE_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
EXPRESSION_NAME = re.compile(r"[a-z_][a-z0-9_]*")
# One token of SQL text that matters to expansion: a '...' string literal or a "..." quoted
# identifier (kept as written, so braces inside them are data, not references), or a
# reference {name}. Braces around anything else (DuckDB's {'key': value} structs) are left
# alone; an identifier in braces is always a reference, so a misspelt one is reported.
_SQL_TOKEN = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|\{([A-Za-z_][A-Za-z0-9_]*)\}""")
# A playbook is hostile input: chained or doubled references could nest without end or
# expand exponentially ("{b}{b}" in a, "{c}{c}" in b, ...).
MAX_EXPRESSION_DEPTH = 16
MAX_EXPANDED_CHARS = 100_000

TOP_LEVEL = (
    "model",
    "telemetry",
    "windows",
    "nodes",
    "edges",
    "triage",
    "scorer",
    "privacy",
    "limits",
    "expressions",
    "evidence",
    "changes",  # console/playbook/intake_config.py
    "alerts",
    "impact",  # console/playbook/impact_config.py
)
MODEL_KEYS = ("name", "owner", "oncall", "description", "version_column")
TELEMETRY_KEYS = ("decisions", "metrics", "changes")
WINDOW_KEYS = ("incident", "baseline", "baseline_gap", "postfix", "lookback")
NODE_KEYS = (
    "id",
    "kind",
    "type",
    "owner",
    "description",
    "expr",
    "reference",
    "series",
    "valid_min",
    "valid_max",
    "units",
    "sentinels",
)
# Keys that describe plausible values as numbers: meaningless on a categorical node.
NUMERIC_NODE_KEYS = ("valid_min", "valid_max", "units")
EDGE_KEYS = (
    "from",
    "to",
    "mechanism",
    "status",
    "intervention",
    "interventions",
    "feedback",
    "delay",
    "proven_by",
)
PROOF_KEYS = ("incident", "intervention", "at", "result", "evidence")
TRIAGE_KEYS = (
    "metric",
    "direction",
    "bucket",
    "max_gap",
    "max_staleness",
    "max_clock_skew",
    "recompute_tolerance",
    "critical",
    "minor",
    "latency_series",
    "error_series",
)
SCORER_COMMON = ("type", "threshold", "positive", "negative")
SCORER_KEYS: dict[ScorerType, tuple[str, ...]] = {
    "linear": ("intercept", "weights"),
    "logistic": ("intercept", "weights"),
    "python": ("entry_point", "inputs"),
    "http": HTTP_KEYS,  # console/playbook/scorer_http.py
}
# Parameters that are fractions, and the one that is a whole number; the rest are >= 0.
_ENTRY_POINT = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


def load_playbook(path: str | Path) -> Playbook:
    """Read, parse and validate a playbook file; ConsoleError lists every problem."""
    path = Path(path)
    return playbook_from_data(read_toml(path), path)


def read_toml(path: Path) -> dict[str, Any]:
    """The parsed TOML of a file; ConsoleError for a missing file or a syntax error."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConsoleError(f"{path}: no such playbook file") from None
    except IsADirectoryError:
        raise ConsoleError(f"{path}: is a folder, not a playbook file") from None
    except OSError as exc:
        raise ConsoleError(f"{path}: cannot read playbook: {exc.strerror}") from None
    return parse_toml(raw, path)


def parse_toml(raw: bytes, path: Path) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        problem = f"{path}: not UTF-8 text (byte {exc.start}, line {line}, column {column})"
        raise ConsoleError(f"{path}: cannot read playbook", problems=[problem]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends with "(at line L, column C)".
        raise ConsoleError(f"{path}: not valid TOML", problems=[f"{path}: {exc}"]) from None
    except RecursionError:
        raise ConsoleError(
            f"{path}: not valid TOML", problems=[f"{path}: arrays or tables nested too deeply"]
        ) from None


def playbook_from_data(data: Mapping[str, Any], path: Path) -> Playbook:
    """Validate parsed TOML and build the typed Playbook."""
    log = ProblemLog()
    log.known_keys(data, "", TOP_LEVEL)
    for required in ("model", "nodes", "triage", "scorer"):
        if required not in data:
            log.add(f"[{required}]: required table is missing")

    # A missing required table is one problem, not one per key it should have held.
    model = _model(log, data["model"]) if "model" in data else ModelInfo("", "", "")
    tables = _telemetry(log, data.get("telemetry", {}), path.parent)
    windows = _windows(log, data.get("windows", {}))
    expressions = Expressions(log, data.get("expressions", {}))
    nodes, declared = _nodes(log, data["nodes"], expressions) if "nodes" in data else ({}, [])
    expressions.check_names(declared)
    edges = _edges(log, data.get("edges", []), nodes, declared, expressions)
    triage = _triage(log, data["triage"], nodes, declared) if "triage" in data else Triage("")
    scorer = _scorer(log, data["scorer"], nodes) if "scorer" in data else Scorer("linear")
    sensitive = _privacy(log, data.get("privacy", {}))
    limits = _limits(log, data.get("limits", {}))
    producers = _producers(log, data.get("evidence", {}))
    intake = intake_config(log, data, nodes)
    impact = impact_config(log, data)

    if log.problems:
        count = len(log.problems)
        raise ConsoleError(
            f"{path}: playbook is not valid ({count} problem{'s' if count > 1 else ''})",
            problems=log.problems,
        )
    return Playbook(
        path=path,
        model=model,
        tables=tables,
        windows=windows,
        nodes=nodes,
        edges=edges,
        triage=triage,
        scorer=scorer,
        sensitive=sensitive,
        limits=limits,
        expressions=dict(expressions.authored),
        producers=producers,
        intake=intake,
        impact=impact,
    )


def _model(log: ProblemLog, value: Any) -> ModelInfo:
    table = log.table(value, "model") or {}
    log.known_keys(table, "model", MODEL_KEYS)
    return ModelInfo(
        name=log.string(table, "name", "model", required=True, non_empty=True),
        owner=log.string(table, "owner", "model", required=True, non_empty=True),
        oncall=log.string(table, "oncall", "model", required=True, non_empty=True),
        description=log.string(table, "description", "model"),
        version_column=log.string(
            table, "version_column", "model", default="model_version", non_empty=True
        ),
    )


def _telemetry(log: ProblemLog, value: Any, base: Path) -> TelemetryTables:
    table = log.table(value, "telemetry") or {}
    log.known_keys(table, "telemetry", TELEMETRY_KEYS + ENGINE_KEYS)
    defaults = TelemetryTables()
    names = {}
    sources = []
    for key in TELEMETRY_KEYS:
        # [telemetry.<key>] source = ...: console/playbook/telemetry_config.py
        if isinstance(table.get(key), Mapping):
            source = table_source(log, key, table[key], base)
            sources += [source] if source is not None else []
            names[key] = getattr(defaults, key)
            continue
        name = log.string(table, key, "telemetry", default=getattr(defaults, key), non_empty=True)
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if name.strip() and (not parts or parts[0] == "/" or ".." in parts):
            log.add(
                f"telemetry.{key} = {quote(name)}: must be a file name inside the telemetry "
                "folder (no absolute path, no ..)"
            )
        names[key] = name
    return TelemetryTables(**names, sources=tuple(sources), **telemetry_engine(log, table))


def _windows(log: ProblemLog, value: Any) -> Windows:
    table = log.table(value, "windows") or {}
    log.known_keys(table, "windows", WINDOW_KEYS)
    defaults = Windows()
    return Windows(
        **{
            key: log.duration(
                table, key, "windows", getattr(defaults, key), allow_zero=key == "baseline_gap"
            )
            for key in WINDOW_KEYS
            if key != "lookback"
        },
        # None (left out): the engine counts change events from the end of the baseline.
        # "0s" is allowed: only events inside the incident window count.
        lookback=log.duration(table, "lookback", "windows", None, allow_zero=True),
    )


class Expressions:
    """The [expressions] table: named SQL sub-expressions, each with every {name} it uses
    expanded, and the expansion of node and parameter SQL that refers to them.

    A reference {name} becomes "(<the expression's SQL>)", so that operator precedence in
    the expression cannot leak into the text around it. Problems (bad names, unknown
    references, cycles) go to the ProblemLog; what cannot be expanded is left as written.
    """

    def __init__(self, log: ProblemLog, value: Any) -> None:
        self.log = log
        self.authored: dict[str, str] = {}  # name -> SQL as written (braces kept)
        self.expanded: dict[str, str] = {}  # name -> SQL with no braces left
        self._failed: set[str] = set()  # names whose problem is already reported
        table = log.table(value, "expressions") or {}
        for name, sql in table.items():
            if not EXPRESSION_NAME.fullmatch(name):
                log.add(
                    f"expressions.{quote(name)}: an expression name starts with a lower-case "
                    "letter or _ and holds only lower-case letters, digits and _"
                )
                self._failed.add(name)  # a {reference} to it is not reported a second time
                continue
            text = log.string(table, name, "expressions", non_empty=True)
            if isinstance(sql, str) and text.strip():
                self.authored[name] = text
            else:
                self._failed.add(name)
        for name in self.authored:
            self._resolve(name, [])

    def expand(self, text: str, where: str) -> str:
        """text with every {name} replaced by its expression; problems named at `where`."""
        return self._substitute(text, where, []) or text

    def check_names(self, node_ids: list[str]) -> None:
        """A name shared with a node would read as the node in messages and in the graph."""
        for name in self.authored:
            if name in node_ids:
                self.log.add(
                    f"expressions.{name}: same name as the node {quote(name)}; rename the "
                    "expression"
                )

    def _resolve(self, name: str, stack: list[str]) -> str | None:
        if name in self.expanded:
            return self.expanded[name]
        if name in self._failed:
            return None
        if name in stack:
            cycle = [*stack[stack.index(name) :], name]
            chain = " -> ".join(f"{{{n}}}" for n in cycle)
            self.log.add(f"expressions.{cycle[0]}: cycle {chain}: an expression cannot use itself")
            self._failed.update(cycle)
            return None
        if len(stack) >= MAX_EXPRESSION_DEPTH:
            chain = " -> ".join(f"{{{n}}}" for n in [*stack, name])
            self.log.add(
                f"expressions.{stack[0]}: nests more than {MAX_EXPRESSION_DEPTH} expressions "
                f"deep ({chain})"
            )
            self._failed.update([*stack, name])
            return None
        text = self._substitute(self.authored[name], f"expressions.{name}", [*stack, name])
        if text is None:
            self._failed.add(name)
            return None
        self.expanded[name] = text
        return text

    def _substitute(self, text: str, where: str, stack: list[str]) -> str | None:
        """text expanded, or None when a reference in it cannot be (already reported)."""
        complete = True

        def replace(match: re.Match[str]) -> str:
            nonlocal complete
            name = match.group(1)
            if name is None:  # a string literal or quoted identifier: kept as written
                return match.group(0)
            if name not in self.authored:
                if name not in self._failed:  # a badly named expression was reported already
                    self.log.add(
                        f"{where}: unknown expression {{{name}}}"
                        f"{suggestion(name, self.authored) or _no_table(self.authored)}"
                    )
                complete = False
                return match.group(0)
            sql = self._resolve(name, stack)
            if sql is None:
                complete = False
                return match.group(0)
            return f"({sql})"

        expanded = _SQL_TOKEN.sub(replace, text)
        if not complete:
            return None
        if len(expanded) > MAX_EXPANDED_CHARS:
            self.log.add(f"{where}: expands to more than {MAX_EXPANDED_CHARS:,} characters")
            return None
        return expanded


def _no_table(names: Mapping[str, str]) -> str:
    return "" if names else " (the playbook has no [expressions] table)"


def _array_of_tables(log: ProblemLog, value: Any, name: str) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(value, list):
        log.add(f"{name}: expected an array of tables ([[{name}]]), got {describe(value)}")
        return []
    items = []
    for index, item in enumerate(value):
        where = f"{name}[{index}]"
        table = log.table(item, where)
        if table is not None:
            items.append((where, table))
    return items


def _nodes(
    log: ProblemLog, value: Any, expressions: Expressions
) -> tuple[dict[str, Node], list[str]]:
    """The valid nodes, and every declared id (an edge naming a node whose kind is wrong
    should not be reported as naming an unknown node as well)."""
    nodes: dict[str, Node] = {}
    first_seen: dict[str, str] = {}
    items = _array_of_tables(log, value, "nodes")
    if isinstance(value, list) and not value:
        log.add("nodes: a playbook needs at least one node")
    for where, table in items:
        log.known_keys(table, where, NODE_KEYS)
        node_id = log.string(table, "id", where, required=True, non_empty=True)
        kind = log.choice(table, "kind", where, NODE_KINDS, what="node kind")
        node_type = log.choice(table, "type", where, NODE_TYPES, what="node type")
        owner = log.string(table, "owner", where, required=True, non_empty=True)
        description = log.string(table, "description", where, required=True, non_empty=True)
        expr = log.string(table, "expr", where, required=kind not in (None, "external"))
        if kind not in (None, "external") and "expr" in table and not expr.strip():
            log.add(f"{where}.expr: must not be empty for a {kind} node")
        reference = log.string(table, "reference", where, non_empty=True)
        if "reference" in table and kind not in (None, "feature"):
            log.add(f"{where}.reference: only feature nodes have a reference (this is a {kind})")
        series = log.string(table, "series", where, required=kind == "metric", non_empty=True)
        if "series" in table and kind not in (None, "metric"):
            log.add(f"{where}.series: only metric nodes have a series (this is a {kind})")
        values = _plausible_values(log, table, where, node_type)
        expr = expressions.expand(expr, f"{where}.expr")
        reference = expressions.expand(reference, f"{where}.reference")
        if not node_id:
            continue
        if not NODE_ID.fullmatch(node_id):
            log.add(
                f"{where}.id = {quote(node_id)}: a node id starts with a letter or _ and holds "
                "only letters, digits and _"
            )
            continue
        if node_id in first_seen:
            log.add(f"{where}.id = {quote(node_id)}: duplicate of {first_seen[node_id]}")
            continue
        first_seen[node_id] = where
        if kind is not None and node_type is not None:
            nodes[node_id] = Node(
                id=node_id,
                kind=kind,
                type=node_type,
                owner=owner,
                description=description,
                expr=expr,
                reference=reference,
                series=series,
                **values,
            )
    return nodes, list(first_seen)


def _plausible_values(
    log: ProblemLog, table: Mapping[str, Any], where: str, node_type: str | None
) -> dict[str, Any]:
    """valid_min, valid_max, units and sentinels of a node, checked against its type."""
    if node_type == "categorical":
        for key in NUMERIC_NODE_KEYS:
            if key in table:
                log.add(f"{where}.{key}: only numeric nodes have {key} (this node is categorical)")
    bounds: dict[str, float | None] = {}
    for key in ("valid_min", "valid_max"):
        given = table.get(key)
        bounds[key] = None if given is None else log.check_number(given, f"{where}.{key}", None)
    low, high = bounds["valid_min"], bounds["valid_max"]
    if low is not None and high is not None and low > high:
        log.add(f"{where}.valid_min = {low:g}: must be at most {where}.valid_max ({high:g})")
    return {
        **bounds,
        "units": log.string(table, "units", where, non_empty=True),
        "sentinels": _sentinels(log, table.get("sentinels", []), f"{where}.sentinels", node_type),
    }


def _sentinels(
    log: ProblemLog, value: Any, where: str, node_type: str | None
) -> tuple[float | str, ...]:
    """Numbers for a numeric node, strings for a categorical one: the values the engine
    compares the node's values with, so they must be of the node's type."""
    wanted = "a number" if node_type == "numeric" else "a string"
    if not isinstance(value, list):
        log.add(f"{where}: expected an array of values, got {describe(value)}")
        return ()
    found: list[float | str] = []
    for index, item in enumerate(value):
        at = f"{where}[{index}]"
        is_number = isinstance(item, int | float) and not isinstance(item, bool)
        if node_type == "categorical" and isinstance(item, str):
            found.append(item)
        elif node_type == "numeric" and is_number:
            number = log.check_number(item, at, None)  # also refuses nan and inf
            if number is not None:
                found.append(number)
        elif node_type is not None:
            log.add(f"{at}: expected {wanted} (the node is {node_type}), got {describe(item)}")
    return tuple(found)


def _node_ref(
    log: ProblemLog,
    table: Mapping[str, Any],
    key: str,
    where: str,
    nodes: dict[str, Node],
    declared: list[str],
) -> str | None:
    """The node id a key names when that node is valid; unknown ids get a suggestion."""
    name = log.string(table, key, where, required=True, non_empty=True)
    if name not in nodes:
        if name and name not in declared:
            suggest = suggestion(name, declared)
            log.add(f"{join(where, key)} = {quote(name)}: no such node{suggest}")
        return None
    return name


def _edges(
    log: ProblemLog,
    value: Any,
    nodes: dict[str, Node],
    declared: list[str],
    expressions: Expressions,
) -> list[Edge]:
    edges: list[Edge] = []
    first_seen: dict[tuple[str, str], str] = {}
    for where, table in _array_of_tables(log, value, "edges"):
        log.known_keys(table, where, EDGE_KEYS)
        source = _node_ref(log, table, "from", where, nodes, declared)
        target = _node_ref(log, table, "to", where, nodes, declared)
        mechanism = log.string(table, "mechanism", where, required=True, non_empty=True)
        status = log.choice(
            table, "status", where, EDGE_STATUSES, default="unverified", what="edge status"
        )
        feedback = log.boolean(table, "feedback", where, False)
        delay = log.duration(table, "delay", where, None)
        if "delay" in table and table.get("feedback", False) is False:
            log.add(f"{where}.delay: only feedback edges have a delay (set feedback = true)")
        planned = _planned(log, table, where, expressions)
        if "proven_by" in table:
            _proofs(log, table["proven_by"], f"{where}.proven_by")
        if source is None or target is None or status is None:
            continue
        pair = (source, target)
        if pair in first_seen:
            log.add(f"{where}: duplicate of {first_seen[pair]} ({source} -> {target})")
            continue
        first_seen[pair] = where
        for at, intervention in planned:
            _check_intervention_nodes(log, intervention, nodes[source], nodes[target], at)
        edges.append(
            Edge(
                source=source,
                target=target,
                mechanism=mechanism,
                status=status,
                intervention=planned[0][1] if planned else None,
                feedback=feedback,
                delay=delay,
                also=tuple(intervention for _, intervention in planned[1:]),
            )
        )
    _check_cycles(log, edges, nodes)
    return edges


def _planned(
    log: ProblemLog, table: Mapping[str, Any], where: str, expressions: Expressions
) -> list[tuple[str, Intervention]]:
    """The edge's planned interventions in priority order, each with its key path:
    `intervention = {...}` (one) or `interventions = [{...}, ...]` (several)."""
    if "intervention" in table and "interventions" in table:
        log.add(
            f"{where}: has both intervention and interventions; list every planned "
            "intervention in interventions, in the order they should run"
        )
        return []
    if "intervention" in table:
        at = f"{where}.intervention"
        one = _intervention(log, table["intervention"], at, expressions)
        return [(at, one)] if one else []
    value = table.get("interventions", [])
    if not isinstance(value, list):
        log.add(
            f"{where}.interventions: expected an array of tables ([{{type = ...}}, ...] or "
            f"[[edges.interventions]]), got {describe(value)}"
        )
        return []
    if "interventions" in table and not value:
        log.add(f"{where}.interventions: empty; leave the key out when no intervention is planned")
    planned: list[tuple[str, Intervention]] = []
    seen: dict[str, str] = {}
    for index, item in enumerate(value):
        at = f"{where}.interventions[{index}]"
        found = _intervention(log, item, at, expressions)
        if found is None:
            continue
        if found.type in seen:
            # Results are kept per edge and type (trail, proven_by): a second run of the same
            # type could only overwrite the first.
            log.add(
                f"{at}.type = {quote(found.type)}: already planned in {seen[found.type]}; "
                "an edge runs each type once"
            )
            continue
        seen[found.type] = at
        planned.append((at, found))
    return planned


def _intervention(
    log: ProblemLog, value: Any, where: str, expressions: Expressions
) -> Intervention | None:
    table = log.table(value, where)
    if table is None:
        return None
    kind = log.choice(table, "type", where, INTERVENTION_TYPES, what="intervention type")
    if kind is None:
        return None
    spec = INTERVENTION_TYPES[kind]
    # Required parameters first, then the optional ones, each in declared order.
    ordered = sorted(spec.params, key=lambda p: not p.required)
    log.known_keys(table, where, ("type", *(p.name for p in ordered)))
    params = {p.name: _intervention_param(log, table, p, where, expressions) for p in ordered}
    return Intervention(type=kind, params=params)


def _intervention_param(
    log: ProblemLog, table: dict[str, Any], param: Param, where: str, expressions: Expressions
) -> Any:
    """One parameter checked against its schema (console.playbook.intervention_types)."""
    if param.kind == "sql":
        sql = log.string(table, param.name, where, required=True, non_empty=True)
        return expressions.expand(sql, join(where, param.name))
    full = join(where, param.name)
    if param.required and param.name not in table:
        log.add(f"{full}: required key is missing")
        return None
    given = table.get(param.name, param.default)
    if param.kind == "duration":
        return log.check_duration(given, full, None)
    return log.check_number(
        given,
        full,
        param.default,
        minimum=param.minimum,
        maximum=param.maximum,
        integer=param.kind == "integer",
    )


def _check_intervention_nodes(
    log: ProblemLog, intervention: Intervention, source: Node, target: Node, where: str
) -> None:
    """The node fields the type reads exist; `where` is the intervention's key path."""
    kind = intervention.type
    spec = INTERVENTION_TYPES[kind]
    if spec.requires == "target_reference" and not target.reference:
        log.add(
            f"{where}: {kind} needs a reference on the target node "
            f"{quote(target.id)}, which has none"
        )
    if spec.requires == "source_expr" and not source.expr:
        log.add(f"{where}: {kind} reads the source node {quote(source.id)}, which has no expr")
    if spec.numeric_source and source.type != "numeric":
        log.add(
            f"{where}: {kind} needs a numeric source node, but {quote(source.id)} of the edge "
            f"{source.id} -> {target.id} is {source.type}"
        )


def _proofs(log: ProblemLog, value: Any, where: str) -> None:
    if not isinstance(value, list):
        log.add(f"{where}: expected an array of tables, got {describe(value)}")
        return
    for index, item in enumerate(value):
        at = f"{where}[{index}]"
        table = log.table(item, at)
        if table is None:
            continue
        log.known_keys(table, at, PROOF_KEYS)
        for key in ("incident", "result"):
            log.string(table, key, at, required=True, non_empty=True)
        log.choice(table, "intervention", at, INTERVENTION_TYPES, what="intervention type")
        when = table.get("at")
        if when is None:
            log.add(f"{at}.at: required key is missing")
        elif not isinstance(when, datetime) or when.tzinfo is None:
            log.add(
                f"{at}.at: expected an offset date-time such as 2026-11-22T21:04:00Z, got {describe(when)}"
            )
        log.string_list(table, "evidence", at)


def _check_cycles(log: ProblemLog, edges: list[Edge], nodes: dict[str, Node]) -> None:
    # Most playbooks have no cycle: the standard library says so without networkx, whose
    # import (0.17 s) would come before the console's first frame. A cycle is described
    # with networkx.
    graph: dict[str, set[str]] = {node_id: set() for node_id in nodes}
    for e in edges:
        if not e.feedback:
            graph.setdefault(e.target, set()).add(e.source)
    try:
        graphlib.TopologicalSorter(graph).prepare()
        return
    except graphlib.CycleError:
        pass
    import networkx as nx

    from console.playbook.graph import causal_digraph

    causal = causal_digraph(nodes, edges)
    order = {node_id: index for index, node_id in enumerate(nodes)}
    components = [c for c in nx.strongly_connected_components(causal) if len(c) > 1]
    components += [{n} for n in nodes if causal.has_edge(n, n)]
    for component in sorted(components, key=lambda c: min(order[n] for n in c)):
        start = min(component, key=order.__getitem__)
        inside = causal.subgraph(component)
        # The shortest way round from the first-declared node of the cycle back to itself.
        loops = [nx.shortest_path(inside, start, before) for before in inside.predecessors(start)]
        cycle = [*min(loops, key=len), start]
        log.add(f"cycle {' -> '.join(cycle)} is not marked as feedback")


def _triage(log: ProblemLog, value: Any, nodes: dict[str, Node], declared: list[str]) -> Triage:
    table = log.table(value, "triage") or {}
    log.known_keys(table, "triage", TRIAGE_KEYS)
    defaults = Triage(metric="")
    metric = _node_ref(log, table, "metric", "triage", nodes, declared) or ""
    if metric and nodes[metric].kind != "metric":
        log.add(
            f"triage.metric = {quote(metric)}: must name a node of kind metric, "
            f"not {nodes[metric].kind}"
        )
    durations = {
        key: log.duration(table, key, "triage", getattr(defaults, key))
        for key in ("bucket", "max_gap", "max_staleness", "max_clock_skew")
    }
    numbers = {
        key: log.number(table, key, "triage", getattr(defaults, key), minimum=0)
        for key in ("recompute_tolerance", "critical", "minor")
    }
    if numbers["minor"] >= numbers["critical"] and ("minor" in table or "critical" in table):
        log.add(
            f"triage.minor = {numbers['minor']:g}: must be below triage.critical "
            f"({numbers['critical']:g})"
        )
    return Triage(
        metric=metric,
        direction=log.choice(table, "direction", "triage", DIRECTIONS, default="both"),
        latency_series=log.string(table, "latency_series", "triage"),
        error_series=log.string(table, "error_series", "triage"),
        **durations,
        **numbers,
    )


def _scorer(log: ProblemLog, value: Any, nodes: dict[str, Node]) -> Scorer:
    table = log.table(value, "scorer") or {}
    kind = log.choice(table, "type", "scorer", SCORER_KEYS, what="scorer type")
    if kind is None:
        log.known_keys(
            table, "scorer", SCORER_COMMON + tuple(k for v in SCORER_KEYS.values() for k in v)
        )
        return Scorer(type="linear")
    own = SCORER_KEYS[kind]
    others = {k for v in SCORER_KEYS.values() for k in v} - set(own)
    for key in table:
        if key in others:
            log.add(f"scorer.{key}: not used by a {kind} scorer")
    log.known_keys(
        {k: v for k, v in table.items() if k not in others}, "scorer", SCORER_COMMON + own
    )
    defaults = Scorer(type=kind)
    fields: dict[str, Any] = {
        "type": kind,
        "threshold": log.number(table, "threshold", "scorer", defaults.threshold),
        "positive": log.string(table, "positive", "scorer", default="1", non_empty=True),
        "negative": log.string(table, "negative", "scorer", default="0", non_empty=True),
    }
    if kind in ("linear", "logistic"):
        fields["intercept"] = log.number(table, "intercept", "scorer", 0.0)
        fields["weights"] = _weights(log, table, nodes)
    if kind == "python":
        entry = log.string(table, "entry_point", "scorer", required=True, non_empty=True)
        if entry.strip() and not _ENTRY_POINT.fullmatch(entry):
            log.add(f'scorer.entry_point = {quote(entry)}: expected "package.module:function"')
        fields["entry_point"] = entry
    if kind == "http":
        fields.update(http_fields(log, table, nodes))
    if kind in ("python", "http"):
        fields["inputs"] = _inputs(log, table, nodes)
    return Scorer(**fields)


def _weights(log: ProblemLog, table: Mapping[str, Any], nodes: dict[str, Node]) -> dict[str, float]:
    if "weights" not in table:
        log.add("scorer.weights: required key is missing (a table: node id -> weight)")
        return {}
    raw = log.table(table["weights"], "scorer.weights")
    if raw is None:
        return {}
    if not raw:
        log.add("scorer.weights: must name at least one node")
    weights: dict[str, float] = {}
    for key, value in raw.items():
        where = f"scorer.weights.{quote(key) if '=' in key else key}"
        weight = log.check_number(value, where, None)
        node_id, one_hot, category = key.partition("=")
        if node_id not in nodes:
            log.add(f"{where}: no such node {quote(node_id)}{suggestion(node_id, nodes)}")
            continue
        node = nodes[node_id]
        if one_hot and node.type != "categorical":
            log.add(f'{where}: {node_id} is numeric; only categorical nodes take "node=value"')
        elif one_hot and not category:
            log.add(f'{where}: expected "{node_id}=value", the value is missing')
        elif not one_hot and node.type == "categorical":
            log.add(f'{where}: {node_id} is categorical; weight its values as "{node_id}=value"')
        if weight is not None:
            weights[key] = weight
    return weights


def _inputs(log: ProblemLog, table: Mapping[str, Any], nodes: dict[str, Node]) -> tuple[str, ...]:
    if "inputs" not in table:
        return tuple(n.id for n in nodes.values() if n.kind == "feature")
    inputs = log.string_list(table, "inputs", "scorer")
    for index, node_id in enumerate(inputs):
        if node_id not in nodes:
            log.add(
                f"scorer.inputs[{index}] = {quote(node_id)}: no such node"
                f"{suggestion(node_id, nodes)}"
            )
    return inputs


def _producers(log: ProblemLog, value: Any) -> tuple[str, ...]:
    """[evidence] producers: decisions columns; whether they exist is checked against the
    telemetry (`playbook check --telemetry`), as the file alone cannot tell."""
    table = log.table(value, "evidence") or {}
    log.known_keys(table, "evidence", ("producers",))
    producers = log.string_list(table, "producers", "evidence")
    for index, column in enumerate(producers):
        if column in producers[:index]:
            log.add(f"evidence.producers[{index}] = {quote(column)}: listed twice")
    return producers


def _privacy(log: ProblemLog, value: Any) -> tuple[str, ...]:
    table = log.table(value, "privacy") or {}
    log.known_keys(table, "privacy", ("sensitive",))
    return log.string_list(table, "sensitive", "privacy")


def _limits(log: ProblemLog, value: Any) -> Limits:
    table = log.table(value, "limits") or {}
    log.known_keys(table, "limits", ("query_seconds", "check_seconds", "steps"))
    defaults = Limits()
    steps_table = log.table(table.get("steps", {}), "limits.steps") or {}
    log.known_keys(steps_table, "limits.steps", LIMITED_STEPS)
    return Limits(
        query_seconds=log.number(
            table, "query_seconds", "limits", defaults.query_seconds, minimum=0.1
        ),
        check_seconds=log.number(
            table, "check_seconds", "limits", defaults.check_seconds, minimum=0.1
        ),
        steps={
            step: log.number(steps_table, step, "limits.steps", defaults.query_seconds, minimum=0.1)
            for step in LIMITED_STEPS
            if step in steps_table
        },
    )
