"""Inputs that used to end in a traceback or leave something behind: each is now one line on
stderr, exit status 2, and nothing created before the inputs were checked.

The read-only folder and the full disk are real: a tmpfs mounted read-only, and a 64 KiB tmpfs
filled to the last byte (root can write through chmod 0o555, not through a read-only mount).
Where mounting is not allowed (not root), the same OSError is raised where the file is created.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli_fuzz import BOOK, assert_safe, run

from console.audit import Trail


def _mount(folder: Path, *options: str) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join(["size=64k", *options]), "tmpfs", str(folder)],
        capture_output=True,
    )
    return done.returncode == 0


def _unmount(folder: Path) -> None:
    # Lazy: a writer that failed may still hold a file open on it.
    subprocess.run(["umount", "-l", str(folder)], check=True)


def _fill(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        with pytest.raises(OSError) as full:
            while True:
                os.write(fd, b"\0" * 4096)
        assert full.value.errno == errno.ENOSPC
    finally:
        os.close(fd)


@pytest.fixture(params=[("ro", errno.EROFS), ("full", errno.ENOSPC)], ids=["read-only", "full"])
def unwritable(request, tmp_path, monkeypatch):
    """A folder no file can be written into: (folder, the strerror the user sees)."""
    kind, code = request.param
    folder = tmp_path / kind
    if _mount(folder, *(["ro"] if kind == "ro" else [])):
        try:
            if kind == "full":
                _fill(folder / "filler")
            yield folder, "Read-only file system" if kind == "ro" else "No space left on device"
        finally:
            _unmount(folder)
        return

    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    folder.mkdir()
    monkeypatch.setattr("console.files.tempfile.mkstemp", refuse)
    yield folder, os.strerror(code)


@pytest.fixture
def trail_dir(tmp_path) -> Path:
    folder = tmp_path / "inc"
    with Trail.open(folder, actor="t") as trail:
        trail.note("before the export")
    return folder


@pytest.mark.parametrize("fmt", ["md", "csv", "jsonl", "parquet"])
def test_export_into_an_unwritable_folder_is_one_line(trail_dir, unwritable, fmt):
    folder, reason = unwritable
    out = folder / f"trail.{fmt}"
    code, stdout, stderr = run(
        ["trail", "export", str(trail_dir), "--format", fmt, "--out", str(out)]
    )
    assert_safe(code, stdout, stderr)
    assert code == 2
    assert stderr.startswith(f"incident-console: cannot write {out}") and reason in stderr
    assert [p.name for p in folder.iterdir() if p.name != "filler"] == []  # no temp file left


def test_investigate_refuses_a_read_only_json_folder_before_it_starts(tmp_path):
    folder = tmp_path / "ro"
    if not _mount(folder, "ro"):
        pytest.fail("this test needs a read-only mount (run as root on Linux)")
    try:
        code, stdout, stderr = run([
            "investigate", str(BOOK), "--telemetry", str(BOOK.parent), "--auto",
            "--incident-dir", str(tmp_path / "inc"), "--json", str(folder / "s.json"),
        ])  # fmt: skip
    finally:
        _unmount(folder)
    assert_safe(code, stdout, stderr)
    assert code == 2 and "is not writable" in stderr
    assert not (tmp_path / "inc").exists()  # refused before the trail was started


def test_alert_at_year_one_is_one_line_and_creates_nothing(tmp_path):
    done = subprocess.run(
        [
            sys.executable, "-m", "console", "investigate", str(BOOK),
            "--telemetry", str(BOOK.parent), "--incident-dir", str(tmp_path / "inc"),
            "--auto", "--alert-at", "0001-01-01T03:00:00Z",
        ],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == (
        "incident-console: alert time 0001-01-01T03:00:00Z: the baseline and incident windows "
        "before it would start before year 1\n"
    )
    assert not (tmp_path / "inc").exists()


def test_keymap_with_an_unknown_id_leaves_no_incident_folder(tmp_path):
    keymap = tmp_path / "keymap.toml"
    keymap.write_text('[keymap]\n"nte" = "N"\n', encoding="utf-8")
    incident = tmp_path / "gd"
    done = subprocess.run(
        [
            sys.executable, "-m", "console", "gameday", "start", "recs-weekday-afternoon",
            "--incident-dir", str(incident), "--keymap", str(keymap),
        ],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert 'keymap."nte": unknown binding id' in done.stderr and "Traceback" not in done.stderr
    assert not incident.exists()


def test_a_game_day_that_cannot_open_removes_its_playbook_copy(tmp_path, monkeypatch):
    """The inputs are fine but the investigation does not open (here: made to fail): the
    playbook copy made for it does not stay behind."""

    def no_trail(*args, **kwargs):
        from console.errors import ConsoleError

        raise ConsoleError("cannot open the trail")

    monkeypatch.setattr("console.engine.investigation.Investigation.open", no_trail)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    incident = tmp_path / "gd"
    code, _out, err = run(
        ["gameday", "start", "recs-weekday-afternoon", "--incident-dir", str(incident)]
    )
    assert code == 2 and "cannot open the trail" in err
    assert not incident.exists()


def test_empty_step_is_one_line(trail_dir):
    before = (trail_dir / "trail.jsonl").read_bytes()
    code, _out, err = run(["trail", "note", str(trail_dir), "text", "--step", ""])
    assert code == 2 and err.startswith("incident-console: --step ''")
    assert (trail_dir / "trail.jsonl").read_bytes() == before


def test_a_bug_is_one_line_and_exit_70_not_a_traceback(trail_dir, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom\x1b[2J")

    monkeypatch.setattr("console.audit.verify", broken)
    code, _out, err = run(["trail", "verify", str(trail_dir)])
    assert code == 70
    assert err == (
        "incident-console: internal error (a bug, please report it): RuntimeError: "
        "boom\\x1b[2J (INCIDENT_CONSOLE_TRACEBACK=1 shows where)\n"
    )
