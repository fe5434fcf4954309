"""The verifier's fast path decodes each line straight into EntryShape (msgspec); the slow path
parses with json and tests the dict with shape_ok. The two must give the same verdict on every
line, or a trail would verify differently depending on which path read it."""

import json

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from console.audit import Trail, verify
from console.audit.entry import EntryShape, canonical, entry_hash, shape_ok

DECODE = msgspec.json.Decoder(EntryShape).decode

ENTRY = {
    "action": "shadow_recompute",
    "actor": "alice@lab",
    "evidence": [{"path": "evidence/a.parquet", "sha256": "0" * 64}],
    "hash": "1" * 64,
    "params": {"edge": "raw_amount -> f_log_amount"},
    "prev": "2" * 64,
    "result": {"broken": True},
    "seq": 3,
    "session": "s",
    "step": "intervene",
    "ts": "2026-11-22T22:14:37.000412Z",
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
field_names = st.sampled_from([*ENTRY, "mac", "path", "sha256", "extra"])


@st.composite
def mutated_entries(draw):
    d = json.loads(json.dumps(ENTRY))
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["set", "drop", "evidence"]))
        name = draw(field_names)
        if kind == "set":
            d[name] = draw(json_values | st.text(max_size=3))
        elif kind == "drop":
            d.pop(name, None)
        elif isinstance(d.get("evidence"), list):
            e = {"path": "p", "sha256": "h"}
            e[draw(st.sampled_from(["path", "sha256", "other"]))] = draw(json_values)
            if draw(st.booleans()):
                e.pop(draw(st.sampled_from(["path", "sha256"])))
            d["evidence"] = [*d["evidence"], e]
    return d


@settings(max_examples=400, deadline=None)
@given(mutated_entries())
def test_the_fast_path_and_shape_ok_agree(d):
    line = json.dumps(d).encode() + b"\n"
    expected = shape_ok(json.loads(line))
    try:
        e = DECODE(line)
    except msgspec.DecodeError:
        assert not expected
        return
    assert expected
    for name in ("seq", "prev", "hash", "params", "result"):
        assert getattr(e, name) == d[name]
    assert [(x.path, x.sha256) for x in e.evidence] == [
        (x["path"], x["sha256"]) for x in d["evidence"]
    ]
    assert (e.mac is msgspec.UNSET) == ("mac" not in d)


def test_an_intact_entry_decodes_with_and_without_a_mac():
    line = json.dumps(ENTRY).encode() + b"\n"
    assert DECODE(line).mac is msgspec.UNSET
    assert DECODE(json.dumps({**ENTRY, "mac": "m"}).encode()).mac == "m"


def _trail(folder):
    with Trail.open(folder, actor="alice@lab") as trail:
        for i in range(3):
            trail.append("intervene", "shadow_recompute", params={"i": i}, result={})


def test_evidence_with_a_path_that_is_not_text_is_named_not_a_crash(tmp_path):
    # Before, shape_ok let {"path": [1]} through, and collecting the evidence raised
    # TypeError (unhashable list) out of verify.
    _trail(tmp_path)
    rows = (tmp_path / "trail.jsonl").read_bytes().splitlines(keepends=True)
    d = json.loads(rows[1])
    d["evidence"] = [{"path": [1], "sha256": "0" * 64}]
    d["hash"] = entry_hash(d)
    rows[1] = canonical(d) + b"\n"
    (tmp_path / "trail.jsonl").write_bytes(b"".join(rows))
    report = verify(tmp_path)
    assert not report.ok and report.first_bad_seq == 2
    assert "evidence that is not a list of" in report.problem


def test_a_line_nested_too_deep_to_parse_is_named_not_a_crash(tmp_path):
    _trail(tmp_path)
    rows = (tmp_path / "trail.jsonl").read_bytes().splitlines(keepends=True)
    rows[2] = b'{"params":{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}}\n"
    (tmp_path / "trail.jsonl").write_bytes(b"".join(rows))
    report = verify(tmp_path)
    assert not report.ok and report.first_bad_seq == 3
    assert "nested too deep" in report.problem
