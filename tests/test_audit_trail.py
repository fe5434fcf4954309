"""Appending, reading back, notes, corrections, resume, tailing and the writer lock."""

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import pytest

from console.audit import GENESIS, Tail, Trail, default_actor, evidence_for, read_entries, verify
from console.audit.entry import canonical
from console.errors import ConsoleError


def test_entries_are_chained_and_read_back(tmp_path):
    folder = tmp_path / "inc"
    evidence_file = tmp_path / "snap.parquet"
    evidence_file.write_bytes(b"rows")
    with Trail.open(folder, actor="alice@lab") as trail:
        first = trail.append(
            "triage",
            "check_gaps",
            params={"metric": "ctr"},
            result={"gaps": 0},
            evidence=[evidence_for(evidence_file)],
        )
        second = trail.append("locate", "rank_parents", result={"top": "f_log_amount"})
    assert first.seq == 1 and first.prev == GENESIS
    assert second.prev == first.hash
    assert first.ts.endswith("Z") and len(first.ts) == len("2026-11-22T22:10:01.123456Z")
    assert first.evidence[0].sha256 == __import__("hashlib").sha256(b"rows").hexdigest()
    back = list(read_entries(folder))
    assert back == [first, second]
    assert json.loads((folder / "trail.jsonl").read_text().splitlines()[0]) == first.to_dict()


def test_default_actor_and_session(tmp_path):
    with Trail.open(tmp_path) as trail:
        entry = trail.note("looking")
    assert entry.actor == default_actor() and "@" in entry.actor
    with Trail.open(tmp_path) as again:
        other = again.note("still looking")
    assert other.session != entry.session


def test_note_and_correction_are_new_entries(tmp_path):
    with Trail.open(tmp_path, actor="a") as trail:
        trail.append("intervene", "null_rate", params={"max_increase": 0.02})
        note = trail.note("paged the feature-store owner")
        fix = trail.correct(1, "threshold was 0.05", max_increase=0.05)
        with pytest.raises(ConsoleError, match="cannot correct entry 9"):
            trail.correct(9, "nope")
        entries = list(trail.entries())
    assert note.step == "note" and note.params == {"text": "paged the feature-store owner"}
    assert fix.step == "intervene" and fix.action == "correct"
    assert fix.params == {
        "corrects": 1,
        "text": "threshold was 0.05",
        "changes": {"max_increase": 0.05},
    }
    assert entries[0].params == {"max_increase": 0.02}  # nothing edited in place
    assert len(entries) == 3


def test_resume_continues_the_chain(tmp_path):
    with Trail.open(tmp_path, actor="a") as trail:
        last = trail.note("one")
    with Trail.open(tmp_path, actor="b") as trail:
        assert trail.head().count == 1 and trail.head().hash == last.hash
        nxt = trail.note("two")
    assert nxt.seq == 2 and nxt.prev == last.hash
    assert verify(tmp_path).ok


def test_params_must_be_json(tmp_path):
    with Trail.open(tmp_path, actor="a") as trail:
        with pytest.raises(ValueError, match="NaN"):
            trail.append("validate", "recover", result={"psi": float("nan")})
        with pytest.raises(TypeError):
            trail.append("validate", "recover", result={"x": object()})
        assert trail.count == 0


def test_tail_returns_only_new_entries(tmp_path):
    with Trail.open(tmp_path, actor="a") as trail:
        trail.note("one")
        trail.note("two")
        tail = Tail(tmp_path, after=1)
        assert [e.seq for e in tail.poll()] == [2]
        assert tail.poll() == []
        trail.note("three")
        assert [e.params["text"] for e in tail.poll()] == ["three"]
        assert [e.seq for e in trail.entries(after=2)] == [3]


def test_head_json_follows_each_append(tmp_path):
    with Trail.open(tmp_path, actor="a", key=b"k") as trail:
        entry = trail.note("x")
        on_disk = json.loads((tmp_path / "head.json").read_text())
        assert on_disk["count"] == 1 and on_disk["hash"] == entry.hash
        assert on_disk["signature"] == trail.head().signature


def test_a_second_writer_gets_the_lock_error(tmp_path):
    code = textwrap.dedent(
        """
        import sys
        from console.audit import Trail
        from console.errors import ConsoleError
        try:
            Trail.open(sys.argv[1], actor="bob")
        except ConsoleError as exc:
            print(exc)
            sys.exit(3)
        """
    )
    with Trail.open(tmp_path, actor="alice@oncall") as trail:
        trail.note("mine")
        done = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True
        )
        assert done.returncode == 3, done.stderr
        assert "open for writing by alice@oncall" in done.stdout
        assert f"pid {os.getpid()}" in done.stdout
        cli = subprocess.run(
            [sys.executable, "-m", "console", "trail", "note", str(tmp_path), "hi"],
            capture_output=True,
            text=True,
        )
        assert cli.returncode == 2 and "alice@oncall" in cli.stderr
    assert [e.params["text"] for e in read_entries(tmp_path)] == ["mine"]
    # Closed: the next writer gets in.
    with Trail.open(tmp_path, actor="bob") as trail:
        assert trail.note("mine now").seq == 2


def test_cli_note(tmp_path):
    with Trail.open(tmp_path, actor="a") as trail:
        trail.note("first")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "console",
            "trail",
            "note",
            str(tmp_path),
            "root cause found",
            "--actor",
            "pm-author",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    last = list(read_entries(tmp_path))[-1]
    assert last.actor == "pm-author" and last.params["text"] == "root cause found"
    assert verify(tmp_path).ok


def test_a_deleted_trail_is_not_started_afresh(tmp_path):
    with Trail.open(tmp_path, actor="a") as trail:
        trail.note("one")
    (tmp_path / "trail.jsonl").unlink()
    with pytest.raises(ConsoleError, match="records 1 entries"):
        Trail.open(tmp_path, actor="a")


def test_an_entry_beyond_head_json_is_reported_then_kept_and_recorded(tmp_path):
    # A kill between the fsynced line and the head.json write leaves the head one behind. The
    # entry is durable and verifies: verify reports it, the next open keeps it and says so.
    with Trail.open(tmp_path, actor="a") as trail:
        trail.note("one")
        behind = (tmp_path / "head.json").read_bytes()
        two = trail.note("two")
    (tmp_path / "head.json").write_bytes(behind)
    report = verify(tmp_path)
    assert report.ok and report.count == 1 and "entry 2 is not counted by head.json" in report.note
    with Trail.open(tmp_path, actor="a") as trail:
        recovered = trail.recovered
        assert recovered.seq == 3 and trail.head().count == 3
    assert recovered.result["kept_beyond_head"] == [2, 2]
    assert recovered.result["moved_bytes"] == 0 and recovered.result["side_file"] is None
    assert "entry 2 was past head.json, verified and kept" in recovered.params["reason"]
    assert [e.hash for e in read_entries(tmp_path)][1] == two.hash
    assert not list(tmp_path.glob("trail.torn-*"))
    assert json.loads((tmp_path / "head.json").read_text())["count"] == 3


def test_a_head_json_a_power_loss_left_behind_keeps_every_verified_entry(tmp_path, monkeypatch):
    # head.json is overwritten in place without an fsync: after a power loss it can lag the
    # fsynced trail by several entries. verify reports more than one as a failure (it cannot
    # tell a lag from a rolled-back head); opening for writing keeps them and records that.
    monkeypatch.setenv("INCIDENT_CONSOLE_HMAC_KEY", "k")
    with Trail.open(tmp_path, actor="a") as trail:
        trail.note("one")
        behind = (tmp_path / "head.json").read_bytes()
        hashes = [trail.note(text).hash for text in ("two", "three", "four")]
    (tmp_path / "head.json").write_bytes(behind)
    report = verify(tmp_path, key=b"k")
    assert not report.ok and "entries 2..4 are beyond it" in report.problem
    assert "power loss" in report.problem
    with Trail.open(tmp_path, actor="a") as trail:
        assert trail.recovered.result["kept_beyond_head"] == [2, 4]
        assert trail.count == 5
    assert [e.hash for e in read_entries(tmp_path)][1:4] == hashes
    assert verify(tmp_path, key=b"k").ok


def test_entries_past_a_lagging_head_without_a_valid_mac_are_not_kept(tmp_path, monkeypatch):
    # With a key, what follows head.json must carry the key's MAC: a forged entry appended
    # past it is named, and the trail is not resumed.
    monkeypatch.setenv("INCIDENT_CONSOLE_HMAC_KEY", "k")
    with Trail.open(tmp_path, actor="a") as trail:
        trail.note("one")
    monkeypatch.setenv("INCIDENT_CONSOLE_HMAC_KEY", "not the key")
    with Trail.open(tmp_path / "other", actor="a") as other:
        other.note("one")
        forged = (tmp_path / "other" / "trail.jsonl").read_bytes().splitlines()[0]
    head = (tmp_path / "head.json").read_bytes()
    lines = (tmp_path / "trail.jsonl").read_bytes()
    entry = json.loads(forged)  # MACed with another key, chained after entry 1
    del entry["hash"]
    entry.update(seq=2, prev=next(read_entries(tmp_path)).hash)
    entry["hash"] = hashlib.sha256(canonical(entry)).hexdigest()
    (tmp_path / "trail.jsonl").write_bytes(lines + canonical(entry) + b"\n")
    (tmp_path / "head.json").write_bytes(head)
    monkeypatch.setenv("INCIDENT_CONSOLE_HMAC_KEY", "k")
    with pytest.raises(ConsoleError, match="entry 2: .*MAC"):
        Trail.open(tmp_path, actor="a")


def test_appends_from_worker_threads_keep_one_chain(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    with Trail.open(tmp_path, actor="ui") as trail, ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: trail.append("locate", "probe", params={"i": i}), range(80)))
    assert verify(tmp_path).count == 80
    assert sorted(e.params["i"] for e in read_entries(tmp_path)) == list(range(80))
