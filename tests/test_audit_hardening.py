"""Hardening of the trail (issue 12): the lock, all-or-nothing appends, verify's workers, bad
head.json input, evidence files, the head line, and a resume that reads only what it needs."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import console.audit.trail as trail_module
from console.audit import Entry, Tail, Trail, evidence_for, read_entries, verify
from console.cli import main
from console.engine.investigation import Investigation
from console.errors import ConsoleError


def texts(folder):
    return [e.params.get("text") for e in read_entries(folder)]


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "console", *map(str, args)], capture_output=True, text=True
    )


# -- item 5: the lock --------------------------------------------------------------------


def test_deleting_trail_lock_does_not_let_a_second_writer_in(tmp_path):
    with Trail.open(tmp_path, actor="alice@oncall") as trail:
        trail.note("mine")
        (tmp_path / "trail.lock").unlink()
        done = cli("trail", "note", tmp_path, "a second writer")
        assert done.returncode == 2, done.stdout
        assert "is open for writing" in done.stderr
        trail.note("still mine")
    assert texts(tmp_path) == ["mine", "still mine"]
    assert verify(tmp_path).ok


def test_a_writer_whose_folder_was_replaced_stops(tmp_path):
    folder = tmp_path / "inc"
    trail = Trail.open(folder, actor="alice")
    trail.note("one")
    folder.rename(tmp_path / "moved-away")
    folder.mkdir()
    with pytest.raises(ConsoleError, match="was moved or replaced while this session had it open"):
        trail.note("two")
    with pytest.raises(ConsoleError, match="stops writing"):
        trail.note("three")
    trail.close()
    assert texts(tmp_path / "moved-away") == ["one"]
    assert verify(tmp_path / "moved-away").ok
    assert not (folder / "head.json").exists()  # nothing was written into the new folder
    with Trail.open(folder, actor="bob") as fresh:  # the new folder is a new incident
        assert fresh.note("new").seq == 1


# -- item 6: append is all-or-nothing --------------------------------------------------------


def full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def head_on_full_disk(self, head):
    raise ConsoleError("cannot write head.json: No space left on device")


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    """A 64 KiB tmpfs and a function that fills it (after which a new page cannot be had:
    the trail's last page still takes a short line, a long one gets ENOSPC; head.json is
    overwritten in place and needs none). Without the right to mount, head.json's writer is
    made to fail instead, which takes the entry back the same way."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True
        ).returncode
        == 0
    )

    def fill() -> None:
        if not mounted:
            monkeypatch.setattr(trail_module.HeadWriter, "write", head_on_full_disk)
            return
        fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            with pytest.raises(OSError, match="No space left"):
                while True:
                    os.write(fd, b"\0" * 4096)
        finally:
            os.close(fd)

    yield disk, fill
    if mounted:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def test_a_full_disk_takes_the_entry_back(small_disk, monkeypatch):
    disk, fill = small_disk
    folder = disk / "inc"
    with Trail.open(folder, actor="a") as trail:
        trail.note("one")
        fill()
        with pytest.raises(ConsoleError, match="No space left"):
            trail.note("told it failed " * 1000)  # past the last page: needs a new one
        assert trail.count == 1
        (disk / "filler").unlink(missing_ok=True)
        monkeypatch.undo()
        assert trail.note("two").seq == 2
    assert texts(folder) == ["one", "two"]
    assert verify(folder).ok
    with Trail.open(folder, actor="a") as trail:
        assert trail.recovered is None and trail.count == 2


def test_an_entry_that_cannot_be_taken_back_is_moved_aside_on_the_next_open(tmp_path, monkeypatch):
    with Trail.open(tmp_path, actor="a") as trail:
        trail.note("one")
        monkeypatch.setattr(trail_module.HeadWriter, "write", head_on_full_disk)
        monkeypatch.setattr(trail_module, "_truncate", lambda fd, size: full_disk())
        with pytest.raises(ConsoleError, match="the next open moves it aside"):
            trail.note("told it failed")
        monkeypatch.undo()
        with pytest.raises(ConsoleError, match="stops writing"):
            trail.note("after")
    report = verify(tmp_path)
    assert report.ok and report.count == 1
    assert "entry 2 is not counted by head.json" in report.note
    with Trail.open(tmp_path, actor="a") as trail:
        recovered = trail.recovered
    assert recovered.seq == 2 and recovered.result["unacknowledged_seq"] == 2
    side = tmp_path / recovered.result["side_file"]
    assert json.loads(side.read_bytes())["params"] == {"text": "told it failed"}
    assert texts(tmp_path) == ["one", None]  # the failed entry is not in the trail
    assert verify(tmp_path).ok


def test_tail_shows_only_entries_head_json_counts(tmp_path):
    with Trail.open(tmp_path, actor="a") as trail:
        trail.note("one")
        behind = (tmp_path / "head.json").read_bytes()
        trail.note("two")
    (tmp_path / "head.json").write_bytes(behind)  # as while "two" is being appended
    tail = Tail(tmp_path)
    assert [e.params["text"] for e in tail.poll()] == ["one"]
    with Trail.open(tmp_path, actor="a") as trail:  # "two" kept, recovery recorded
        trail.note("three")
    assert [e.action for e in tail.poll()] == ["note", "recovered", "note"]


# -- item 14: verify's workers die with it -----------------------------------------------

VERIFY_FOREVER = textwrap.dedent(
    """
    import sys
    import console.audit.verification as v
    v.PARALLEL_BYTES = 1  # split even this small trail over worker processes
    v.os.cpu_count = lambda: 3
    while True:
        v.verify(sys.argv[1])
    """
)


def _processes() -> dict[int, tuple[int, str, bytes]]:
    """pid -> (parent pid, state, command line) of every process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(entry.name)] = (int(fields[1]), fields[0], cmdline)
    return found


def _descendants(pid: int, table: dict | None = None) -> set[int]:
    table = table if table is not None else _processes()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, (ppid, _, _) in table.items() if ppid in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    info = _processes().get(pid)
    return info is not None and info[1] != "Z"


def test_verify_workers_die_when_verify_is_killed(tmp_path):
    with Trail.open(tmp_path, actor="a") as trail:
        for i in range(30):
            trail.append("locate", "rank", result={"i": i})
    proc = subprocess.Popen([sys.executable, "-c", VERIFY_FOREVER, str(tmp_path)])
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(workers) < 2:
            table = _processes()
            workers = {p for p in _descendants(proc.pid, table) if b"spawn_main" in table[p][2]}
            time.sleep(0.01)
        assert len(workers) >= 2, "verify never started its workers"
        family = _descendants(proc.pid)
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in family):
            time.sleep(0.05)
        assert not [p for p in family if _alive(p)], "verify's workers outlived it"
    finally:
        proc.kill()
        for pid in workers | _descendants(proc.pid):
            if _alive(pid):
                os.kill(pid, 9)


# -- item 16: bad head.json input is a verification failure --------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"garbage\n",
        b"[]",
        b'{"count": "4", "hash": "x", "signature": null, "updated_at": ""}',
        b'{"count": 2, "hash": "' + b"0" * 63 + b'", "signature": null, "updated_at": ""}',
        b"\xff\xfe",
    ],
)
def test_a_garbage_head_json_fails_verification(tmp_path, capsys, content):
    with Trail.open(tmp_path, actor="a") as trail:
        trail.note("one")
        trail.note("two")
    (tmp_path / "head.json").write_bytes(content)
    assert main(["trail", "verify", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "fails verification" in err and "head.json is not a valid trail head" in err
    with pytest.raises(ConsoleError, match="not a valid trail head"):
        Trail.open(tmp_path, actor="a")


def test_a_missing_trail_beside_a_head_fails_verification(tmp_path, capsys):
    with Trail.open(tmp_path, actor="a") as trail:
        trail.note("one")
    (tmp_path / "trail.jsonl").unlink()
    assert main(["trail", "verify", str(tmp_path)]) == 1
    assert "trail.jsonl is missing beside" in capsys.readouterr().err
    (tmp_path / "head.json").unlink()
    assert main(["trail", "verify", str(tmp_path)]) == 2  # nothing there: a usage error
    assert "no trail" in capsys.readouterr().err


# -- item 4: the files the entries point at -----------------------------------------------


def test_verify_checks_evidence_files_and_the_report(tmp_path):
    snap = tmp_path / "evidence" / "0001-snap.parquet"
    snap.parent.mkdir()
    snap.write_bytes(b"PAR1 rows PAR1")
    report_md = tmp_path / "report.md"
    with Trail.open(tmp_path, actor="a") as trail:
        trail.append("intervene", "probe", evidence=[evidence_for(snap, tmp_path)])
        report_md.write_text("# draft 1\n")
        trail.append("report", "write", evidence=[evidence_for(report_md, tmp_path)])
        report_md.write_text("# draft 2\n")  # a later report replaces the file ...
        trail.append("report", "write", evidence=[evidence_for(report_md, tmp_path)])
    assert verify(tmp_path).ok  # ... and the later entry is the one it must match
    report_md.write_text("# draft 2, edited by hand\n")
    report = verify(tmp_path)
    assert report.first_bad_seq == 3 and "evidence report.md was changed" in report.problem
    report_md.write_text("# draft 2\n")
    snap.unlink()
    report = verify(tmp_path)
    assert report.first_bad_seq == 1 and "evidence evidence/0001-snap.parquet is missing" in (
        report.problem
    )


# -- item 2: the head kept outside the folder -----------------------------------------------


def test_trail_head_prints_a_line_verify_head_takes(tmp_path, capsys):
    with Trail.open(tmp_path, actor="a") as trail:
        for i in range(4):
            trail.note(f"n{i}")
        head = trail.head()
    assert main(["trail", "head", str(tmp_path)]) == 0
    line = capsys.readouterr().out.strip()
    assert line == f"count=4 hash={head.hash} updated_at={head.updated_at} signature=none"
    assert main(["trail", "verify", str(tmp_path), "--head", line]) == 0
    assert main(["trail", "verify", str(tmp_path), "--head", head.hash.upper()]) == 0
    capsys.readouterr()
    assert main(["trail", "verify", str(tmp_path), "--head", "count=4 hash=abc"]) == 2
    assert "neither a sha256 hash" in capsys.readouterr().err
    # A head line whose count no longer holds its hash: rewritten.
    other = line.replace(head.hash, "ab" * 32)
    assert main(["trail", "verify", str(tmp_path), "--head", other]) == 1
    assert "rewritten: the given head records hash" in capsys.readouterr().err


def test_a_head_line_with_a_signature_must_match_the_key(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("INCIDENT_CONSOLE_HMAC_KEY", "k1")
    with Trail.open(tmp_path, actor="a") as trail:
        trail.note("one")
    assert main(["trail", "head", str(tmp_path)]) == 0
    line = capsys.readouterr().out.strip()
    assert "signature=none" not in line
    assert main(["trail", "verify", str(tmp_path), "--head", line]) == 0
    capsys.readouterr()
    forged = line[: line.rindex("=") + 1] + "cd" * 32
    assert main(["trail", "verify", str(tmp_path), "--head", forged]) == 1
    assert "the given head's signature does not match the key" in capsys.readouterr().err


def test_one_entry_beyond_a_signed_head_is_reported_as_the_crash_window(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("INCIDENT_CONSOLE_HMAC_KEY", "k1")
    with Trail.open(tmp_path, actor="a") as trail:
        trail.note("one")
        behind = (tmp_path / "head.json").read_bytes()
        trail.note("two")
    (tmp_path / "head.json").write_bytes(behind)
    assert main(["trail", "verify", str(tmp_path)]) == 0
    out = capsys.readouterr()
    assert "ok, 1 entries" in out.out and "entry 2 is not counted by head.json" in out.err


# -- item 15: resume reads what it needs -------------------------------------------------


def test_resume_parses_only_the_entries_it_restores(tmp_path, monkeypatch):
    with monkeypatch.context() as fast, Trail.open(tmp_path, actor="a") as trail:
        fast.setattr(os, "fsync", lambda fd: None)  # durability is not what this test is about
        trail.append("triage", "decide", params={"verdict": "confirmed", "note": ""})
        for i in range(1000):
            trail.append("note", "note", params={"text": f"step {i}: still looking"})
        trail.append("intervene", "mark_edge", params={"edge": ["a", "b"], "mark": "broken"})
    calls = []
    real = Entry.from_dict.__func__
    monkeypatch.setattr(
        Entry, "from_dict", classmethod(lambda cls, d: calls.append(d["seq"]) or real(cls, d))
    )
    with Trail.open(tmp_path, actor="a") as trail:
        inv = Investigation(None, trail, Path("."))
        inv._resume()
    assert inv.triage_decision == "confirmed" and inv.marks == {("a", "b"): ("broken", "")}
    assert calls == [1, 1002]


def test_resume_restores_the_failures_of_steps(tmp_path):
    def failed(trail, step, error, action="failed"):
        trail.append(step, action, {"node": None, "key": None}, {"error": error})

    with Trail.open(tmp_path, actor="a") as trail:
        failed(trail, "locate", "no parents of node decline_rate")
        failed(trail, "triage", "the metric series is empty")
        trail.append("triage", "triage", result={"verdict": "real"})  # a later success
        failed(trail, "counterfactual", "no such prediction", action="explain_failed")
        trail.append("report", "write", result={"path": "report.md"})
        failed(trail, "report", "cannot write report.md: No space left on device")
        inv = Investigation(None, trail, Path("."))
        inv._resume()
    assert inv.failures == {
        "locate": "no parents of node decline_rate",
        "report": "cannot write report.md: No space left on device",
    }


def _tested(edge, verdict):
    return {
        "edge": edge,
        "node": edge[0],
        "type": "distribution_shift",
        "verdict": verdict,
        "statistics": {"psi": 2.29},
        "reasons": ["shifted"],
        "sql": ["SELECT 1"],
        "rows": {"baseline": 10, "incident": 5},
        "windows": [],
        "evidence": [],
        "histogram": None,
    }


def test_resume_from_the_latest_entries_equals_resume_from_all(tmp_path):
    from console.audit.trail import read_latest
    from console.engine.revive import STATE_STEPS, resume_state

    ab, cd = ["a", "b"], ["c", "d"]
    with Trail.open(tmp_path, actor="a") as trail:
        trail.append("intervene", "distribution_shift", {"edge": ab}, _tested(ab, "broken"))
        trail.append("intervene", "distribution_shift", {"edge": cd}, _tested(cd, "ok"))
        trail.append("intervene", "mark_edge", {"edge": cd, "mark": "broken", "note": "x"})
        trail.append("intervene", "mark_edge", {"edge": ab, "mark": "cleared", "note": ""})
        trail.append(
            "intervene", "failed", {"edge": ab, "node": None, "key": None}, {"error": "e1"}
        )
        trail.append("intervene", "distribution_shift", {"edge": ab}, _tested(ab, "inconclusive"))
        trail.append("intervene", "mark_edge", {"edge": cd, "mark": "cleared", "note": "y"})
        trail.append("triage", "decide", {"verdict": "false_alarm", "note": ""})
        trail.note("between")
        trail.append("triage", "decide", {"verdict": "confirmed", "note": ""})
        trail.append("locate", "failed", {"node": None, "key": None}, {"error": "e2"})
        for name in ("x]y", 'q"1', "x]y", 'q"1'):  # names the byte reader must not misread
            trail.append("intervene", "mark_edge", {"edge": [name, "z"], "mark": "broken"})
    lines = (tmp_path / "trail.jsonl").read_bytes().splitlines(keepends=True)
    # A line another tool wrote with spaces is still read (parsed to find its kind).
    lines[6] = json.dumps(json.loads(lines[6]), indent=1).replace("\n", "").encode() + b"\n"
    (tmp_path / "trail.jsonl").write_bytes(b"".join(lines))
    assert verify(tmp_path).ok
    every = resume_state((e, e.seq) for e in read_entries(tmp_path, steps=STATE_STEPS))
    latest = read_latest(tmp_path, STATE_STEPS)
    assert resume_state(latest) == every
    assert len(latest) < len(lines) - 1
    assert list(every.interventions) == [("a", "b"), ("c", "d")]  # first tested first
    assert every.interventions[("a", "b")].verdict == "inconclusive"
    assert list(every.marks)[:2] == [("a", "b"), ("c", "d")]
    assert every.marks[("c", "d")] == ("cleared", "y") and ("x]y", "z") in every.marks
    assert every.failures == {"locate": "e2"} and every.triage_decision == "confirmed"


def test_a_session_with_the_key_refuses_to_sign_forged_entries(tmp_path):
    # Before, the next honest append re-signed head.json over the forgery.
    from console.audit.entry import canonical, entry_hash, utc_now

    with Trail.open(tmp_path, actor="alice", key=b"k") as trail:
        last = trail.note("one")
    forged = {
        "action": "note",
        "actor": "mallory",
        "evidence": [],
        "params": {"text": "forged"},
        "prev": last.hash,
        "result": {},
        "seq": 2,
        "session": "x",
        "step": "note",
        "ts": utc_now(),
    }
    forged["hash"] = entry_hash(forged)
    with open(tmp_path / "trail.jsonl", "ab") as f:
        f.write(canonical(forged) + b"\n")
    with pytest.raises(ConsoleError, match="entry 2: has no MAC"):
        Trail.open(tmp_path, actor="alice", key=b"k")
    assert json.loads((tmp_path / "head.json").read_text())["count"] == 1


def test_evidence_that_is_not_a_regular_file_is_named_not_read(tmp_path):
    with Trail.open(tmp_path, actor="a") as trail:
        trail.append("note", "note", evidence=[{"path": "/dev/zero", "sha256": "ab" * 32}])
    report = verify(tmp_path)  # returns: /dev/zero is never hashed
    assert (
        report.first_bad_seq == 1 and "evidence /dev/zero is not a regular file" in report.problem
    )
