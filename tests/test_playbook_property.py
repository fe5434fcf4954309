"""Property: whatever a person (or a corrupted disk) hands the loader, the outcome is a
Playbook or a ConsoleError naming the problems - never another exception."""

import copy
import re
import tomllib
from datetime import UTC
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.errors import ConsoleError
from console.playbook.loader import load_playbook
from console.playbook.model import Playbook

DOCS = Path(__file__).resolve().parents[1] / "docs" / "playbooks.md"
EXAMPLE = re.search(r"```toml\n(.*?)```", DOCS.read_text(), re.S).group(1)
SEED = tomllib.loads(EXAMPLE)
TABLES = [SEED, *SEED.values(), *SEED["nodes"], *SEED["edges"]]
KEY_NAMES = sorted(
    {key for table in TABLES if isinstance(table, dict) for key in table}
    | {"tolerance", "bins", "age_expr", "proven_by", "inputs", "url", "entry_point"}
)

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["6h", "0s", "90x", "raw_amount", "metric", "verified", "shadow_recompute"]),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.booleans(),
    st.datetimes(timezones=st.just(UTC)),
    st.dates(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.one_of(st.sampled_from(KEY_NAMES), st.text(max_size=6)), inner, max_size=3
        ),
    ),
    max_leaves=6,
)


def assert_playbook_or_console_error(path: Path) -> None:
    try:
        outcome = load_playbook(path)
    except ConsoleError as exc:
        assert str(exc)
        assert exc.problems, "a ConsoleError from the loader lists its problems"
    else:
        assert isinstance(outcome, Playbook)


def paths_in(value, prefix=()):
    """Every path (tuple of keys / indexes) to a value inside parsed TOML."""
    found = []
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, child in items:
        found.append((*prefix, key))
        if isinstance(child, dict | list):
            found += paths_in(child, (*prefix, key))
    return found


def mangle(data: dict, draw) -> None:
    path = draw(st.sampled_from(paths_in(data)))
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    operation = draw(st.sampled_from(["delete", "duplicate", "retype", "shuffle", "rename"]))
    if operation == "delete":
        del parent[key]
    elif operation == "duplicate" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))
    elif operation == "duplicate":
        parent[draw(st.sampled_from(KEY_NAMES))] = copy.deepcopy(parent[key])
    elif operation == "retype":
        parent[key] = draw(values)
    elif operation == "shuffle" and isinstance(parent[key], list):
        parent[key] = draw(st.permutations(parent[key]))
    elif operation == "rename" and isinstance(parent, dict):
        parent[draw(st.text(min_size=1, max_size=8))] = parent.pop(key)


@SETTINGS
@given(data=st.data())
def test_mangled_playbooks_load_or_give_console_error(tmp_path, data):
    playbook = copy.deepcopy(SEED)
    for _ in range(data.draw(st.integers(1, 4))):
        if paths_in(playbook):
            mangle(playbook, data.draw)
    path = tmp_path / "mangled.toml"
    path.write_text(tomli_w.dumps(playbook))
    assert_playbook_or_console_error(path)


@SETTINGS
@given(
    edits=st.lists(
        st.tuples(
            st.sampled_from(["insert", "delete", "replace"]), st.floats(0, 1), st.binary(max_size=3)
        ),
        min_size=1,
        max_size=5,
    )
)
def test_corrupted_bytes_load_or_give_console_error(tmp_path, edits):
    raw = bytearray(EXAMPLE.encode())
    for operation, where, chunk in edits:
        at = int(where * (len(raw) - 1))
        if operation == "insert":
            raw[at:at] = chunk
        elif operation == "delete":
            del raw[at : at + max(len(chunk), 1)]
        else:
            raw[at : at + len(chunk)] = chunk
    path = tmp_path / "corrupt.toml"
    path.write_bytes(bytes(raw))
    assert_playbook_or_console_error(path)


@SETTINGS
@given(document=st.dictionaries(st.sampled_from([*SEED, *KEY_NAMES]), values, max_size=6))
def test_random_toml_loads_or_gives_console_error(tmp_path, document):
    path = tmp_path / "random.toml"
    path.write_text(tomli_w.dumps(document))
    assert_playbook_or_console_error(path)


@SETTINGS
@given(
    section=st.sampled_from(["model", "windows", "triage", "scorer", "privacy", "telemetry"]),
    key=st.sampled_from(KEY_NAMES),
    value=values,
)
def test_any_value_under_any_key_loads_or_gives_console_error(tmp_path, section, key, value):
    playbook = copy.deepcopy(SEED)
    playbook[section][key] = value
    path = tmp_path / "retyped.toml"
    path.write_text(tomli_w.dumps(playbook))
    assert_playbook_or_console_error(path)


def test_the_seed_itself_is_valid(tmp_path):
    path = tmp_path / "seed.toml"
    path.write_text(tomli_w.dumps(SEED))
    assert isinstance(load_playbook(path), Playbook)


@pytest.mark.parametrize("text", ["", "x", "[[nodes]]\n[[nodes]]\n", "nodes = 1\nedges = []"])
def test_degenerate_files_give_console_error(tmp_path, text):
    path = tmp_path / "tiny.toml"
    path.write_text(text)
    with pytest.raises(ConsoleError):
        load_playbook(path)
