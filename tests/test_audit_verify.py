"""Tampering with a real trail, each way, is detected and the first bad entry named."""

import json
import subprocess
import sys

import pytest

from console.audit import Trail, verify
from console.audit.head import read_head


def make_trail(folder, n=6, key=None):
    with Trail.open(folder, actor="alice@lab", key=key) as trail:
        for i in range(1, n + 1):
            trail.append("intervene", "shadow_recompute", params={"i": i}, result={"ok": i % 2})
        return trail.head()


def lines(folder):
    return (folder / "trail.jsonl").read_bytes().splitlines(keepends=True)


def write(folder, rows):
    (folder / "trail.jsonl").write_bytes(b"".join(rows))


def test_intact_trail_verifies(tmp_path):
    head = make_trail(tmp_path)
    report = verify(tmp_path)
    assert report.ok and report.count == 6 and report.head == head.hash
    assert report.first_bad_seq is None


def test_modified_entry_is_named(tmp_path):
    make_trail(tmp_path)
    rows = lines(tmp_path)
    rows[2] = rows[2].replace(b'"i":3', b'"i":33')
    write(tmp_path, rows)
    report = verify(tmp_path)
    assert not report.ok and report.first_bad_seq == 3
    assert "modified" in report.problem
    assert report.count == 2


def test_modified_entry_with_recomputed_hash_breaks_the_next_prev(tmp_path):
    make_trail(tmp_path)
    rows = lines(tmp_path)
    d = json.loads(rows[2])
    d["params"]["i"] = 33
    from console.audit.entry import canonical, entry_hash

    d["hash"] = entry_hash(d)
    rows[2] = canonical(d) + b"\n"
    write(tmp_path, rows)
    report = verify(tmp_path)
    assert report.first_bad_seq == 4 and "prev does not match the hash of entry 3" in report.problem


def test_inserted_entry_is_named(tmp_path):
    make_trail(tmp_path)
    rows = lines(tmp_path)
    write(tmp_path, rows[:3] + [rows[2]] + rows[3:])
    report = verify(tmp_path)
    assert report.first_bad_seq == 4
    assert "seq 3 found where seq 4 belongs" in report.problem and "inserted" in report.problem


def test_deleted_entry_is_named(tmp_path):
    make_trail(tmp_path)
    rows = lines(tmp_path)
    write(tmp_path, rows[:2] + rows[3:])
    report = verify(tmp_path)
    assert report.first_bad_seq == 3 and "entry 3 was deleted" in report.problem


def test_reordered_entries_are_named(tmp_path):
    make_trail(tmp_path)
    rows = lines(tmp_path)
    rows[3], rows[4] = rows[4], rows[3]
    write(tmp_path, rows)
    report = verify(tmp_path)
    assert report.first_bad_seq == 4 and "reordered" in report.problem


def test_truncation_against_a_given_head(tmp_path):
    head = make_trail(tmp_path)
    write(tmp_path, lines(tmp_path)[:4])
    (tmp_path / "head.json").unlink()  # a careful tamperer removes the local anchor too
    assert verify(tmp_path).ok  # without an outside head, a clean cut cannot be seen
    report = verify(tmp_path, head_hash=head.hash)
    assert not report.ok and report.first_bad_seq == 5
    assert "truncated" in report.problem and head.hash in report.problem


def test_truncation_against_head_json(tmp_path):
    make_trail(tmp_path)
    write(tmp_path, lines(tmp_path)[:4])
    report = verify(tmp_path)
    assert report.first_bad_seq == 5
    assert "head.json records 6 entries" in report.problem and "5..6" in report.problem


def test_an_older_head_is_still_found(tmp_path):
    with Trail.open(tmp_path, actor="a") as trail:
        trail.note("one")
        older = trail.head()
        trail.note("two")
    assert verify(tmp_path, head_hash=older.hash).ok


def test_bad_signature(tmp_path):
    make_trail(tmp_path, key=b"secret-1")
    assert read_head(tmp_path).signature
    assert verify(tmp_path, key=b"secret-1").ok
    # Every entry carries a MAC now: a wrong key fails at the first entry, not at the head.
    report = verify(tmp_path, key=b"another key")
    assert not report.ok and "MAC does not match the key" in report.problem
    assert report.first_bad_seq == 1


def test_altered_signed_head(tmp_path):
    make_trail(tmp_path, key=b"k")
    head = json.loads((tmp_path / "head.json").read_text())
    write(tmp_path, lines(tmp_path)[:5])
    rows = lines(tmp_path)
    head["count"], head["hash"] = 5, json.loads(rows[4])["hash"]
    (tmp_path / "head.json").write_text(json.dumps(head))
    report = verify(tmp_path, key=b"k")
    assert "bad signature" in report.problem


def test_unsigned_trail_fails_when_a_key_is_given(tmp_path):
    make_trail(tmp_path)
    report = verify(tmp_path, key=b"k")
    assert report.first_bad_seq == 1 and "has no MAC" in report.problem


def test_tampered_trail_is_not_resumed(tmp_path):
    from console.errors import ConsoleError

    make_trail(tmp_path)
    rows = lines(tmp_path)
    rows[1] = rows[1].replace(b'"i":2', b'"i":9')
    write(tmp_path, rows)
    with pytest.raises(ConsoleError, match="entry 2: modified"):
        Trail.open(tmp_path, actor="bob")
    # The lock was released: a later (fixed) open is not blocked by the failed one.
    write(tmp_path, lines(tmp_path)[:1])
    (tmp_path / "head.json").unlink()
    with Trail.open(tmp_path, actor="bob") as trail:
        assert trail.count == 1


def cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "console", "trail", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
    )


def test_cli_verify_exit_codes(tmp_path):
    head = make_trail(tmp_path)
    done = cli("verify", tmp_path)
    assert done.returncode == 0, done.stderr
    assert "6 entries" in done.stdout and head.hash in done.stdout

    rows = lines(tmp_path)
    write(tmp_path, rows[:2] + rows[3:])
    done = cli("verify", tmp_path)
    assert done.returncode == 1
    assert "entry 3" in done.stderr and "deleted" in done.stderr

    done = cli("verify", tmp_path / "nowhere")
    assert done.returncode == 2 and "no trail" in done.stderr


def test_cli_verify_against_head_and_key(tmp_path, monkeypatch):
    import os

    head = make_trail(tmp_path, key=b"file-key")
    key_file = tmp_path / "key"
    key_file.write_text("file-key\n")
    env = {**os.environ, "INCIDENT_CONSOLE_HMAC_KEY_FILE": str(key_file)}
    env.pop("INCIDENT_CONSOLE_HMAC_KEY", None)
    done = cli("verify", tmp_path, "--head", head.hash, env=env)
    assert done.returncode == 0 and "signature ok" in done.stdout
    env = {**env, "INCIDENT_CONSOLE_HMAC_KEY": "wrong"}
    done = cli("verify", tmp_path, env=env)
    assert done.returncode == 1 and "MAC does not match the key" in done.stderr


def test_non_ascii_and_non_canonical_lines_verify_by_the_definition(tmp_path):
    with Trail.open(tmp_path, actor="zoë@lab") as trail:
        trail.note("café ☕ — débit 20 % plus bas")
        trail.note("second")
    assert verify(tmp_path).ok
    rows = lines(tmp_path)
    # Another tool may write the same entry with spaces and escapes: the hash is defined
    # over the canonical encoding, so the entry still verifies.
    rows[0] = json.dumps(json.loads(rows[0]), indent=None, ensure_ascii=True).encode() + b"\n"
    write(tmp_path, rows)
    assert verify(tmp_path).ok


def test_a_line_that_is_not_an_entry_is_named(tmp_path):
    make_trail(tmp_path, n=3)
    rows = lines(tmp_path)
    write(tmp_path, rows[:1] + [b'{"seq": 2}\n'] + rows[2:])
    report = verify(tmp_path)
    assert report.first_bad_seq == 2 and "wrong fields" in report.problem
    write(tmp_path, rows[:1] + [b"not json\n"] + rows[2:])
    assert "not valid JSON" in verify(tmp_path).problem


def test_split_verification_agrees_with_the_sequential_one(tmp_path, monkeypatch):
    import console.audit.verification as verify_module

    with Trail.open(tmp_path, actor="a") as trail:
        for i in range(300):
            trail.append("locate", "rank", result={"i": i})
            if i == 120:
                middle = trail.head()
        head = trail.head()
    monkeypatch.setattr(verify_module, "PARALLEL_BYTES", 1)
    monkeypatch.setattr(verify_module.os, "cpu_count", lambda: 3)
    report = verify(tmp_path, head_hash=middle.hash)
    assert report.ok and report.count == 300 and report.head == head.hash
    assert "truncated" in verify(tmp_path, head_hash="ab" * 32).problem
    rows = lines(tmp_path)
    write(tmp_path, rows[:200] + rows[201:])
    report = verify(tmp_path)
    assert report.first_bad_seq == 201 and "entry 201 was deleted" in report.problem
