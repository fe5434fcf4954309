"""The append and verify fast paths (issue 21) write and accept exactly what the definitions
say: each line is canonical(entry) with the hash spliced in once, head.json is overwritten in
place, and verify's faster parser gives json's verdicts on lines it refuses."""

from __future__ import annotations

import json

import pytest

from console.audit import Trail, verify
from console.audit.entry import canonical, entry_hash
from console.audit.head import HEAD_SIZE, read_head

HOSTILE = ',"params":{"x":1},"mac":"' + "a" * 64 + '","hash":"\\"\u2028é'


@pytest.mark.parametrize("key", [None, b"secret"])
def test_lines_are_canonical_with_hostile_text_everywhere(tmp_path, key):
    with Trail.open(tmp_path, actor=HOSTILE, session=HOSTILE, key=key) as trail:
        trail.append(
            HOSTILE, HOSTILE, params={HOSTILE: HOSTILE}, result={"r": [HOSTILE, 2**70]},
            evidence=[{"path": HOSTILE, "sha256": "0" * 64}],
        )  # fmt: skip
        trail.note(HOSTILE)
        head = trail.head()
    lines = (tmp_path / "trail.jsonl").read_bytes().splitlines(keepends=True)
    for line in lines:
        entry = json.loads(line)
        assert line == canonical(entry) + b"\n"
        assert entry["hash"] == entry_hash(entry)
    # head.json's time is the last entry's, and it anchors that entry.
    assert read_head(tmp_path) == head and head.updated_at == json.loads(lines[-1])["ts"]
    assert not list(tmp_path.glob(".head.json.*.tmp"))
    report = verify(tmp_path, key=key)
    # The evidence path does not exist: everything before it verified.
    assert report.first_bad_seq == 1 and "evidence" in report.problem


def test_an_integer_past_64_bits_verifies_and_trailing_text_does_not(tmp_path):
    with Trail.open(tmp_path, actor="a") as trail:
        trail.append("locate", "probe", params={"big": 2**80, "neg": -(2**70)})
        trail.note("two")
    assert verify(tmp_path).ok
    path = tmp_path / "trail.jsonl"
    first, second = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(first[:-1] + b" x\n" + second)
    report = verify(tmp_path)
    assert report.first_bad_seq == 1 and report.problem == "is not valid JSON"


def test_each_append_overwrites_head_json_in_place(tmp_path):
    # One pwrite per append, not a temp file, an fsync and a rename (docs/trail.md, "Why
    # head.json is not fsynced"): the file keeps its inode and its fixed size.
    with Trail.open(tmp_path, actor="a") as trail:
        before = (tmp_path / "head.json").stat()
        for i in range(5):
            trail.note(f"n{i}")
            after = (tmp_path / "head.json").stat()
            assert (after.st_ino, after.st_size) == (before.st_ino, HEAD_SIZE)
            assert read_head(tmp_path) == trail.head()
    record = (tmp_path / "head.json").read_bytes()
    assert record == canonical(trail.head().to_dict()).ljust(HEAD_SIZE - 1) + b"\n"


def test_a_head_json_replaced_under_the_writer_is_written_anew(tmp_path):
    # A head.json that another tool rewrote (its own layout, a new inode) is not patched in
    # place: the next append replaces it atomically with the writer's record.
    with Trail.open(tmp_path, actor="a") as trail:
        trail.note("one")
        pretty = json.dumps(trail.head().to_dict(), indent=2)
        (tmp_path / "head.json").unlink()
        (tmp_path / "head.json").write_text(pretty)
        trail.note("two")
        assert read_head(tmp_path) == trail.head()
        assert (tmp_path / "head.json").stat().st_size == HEAD_SIZE
    assert verify(tmp_path).ok
