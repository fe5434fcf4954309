"""The writer lock of an incident folder: one process appends at a time.

fcntl.flock on the incident folder itself (an open directory handle), not on a file in it: a
lock file can be deleted or replaced while it is held, and the next writer would lock a new
file and fork the trail. The folder cannot be deleted while it holds the trail; if it is
renamed away and replaced, the holder notices (still_here() compares the inode the name
points at with the one it locked) and stops writing. After locking, the holder writes its pid,
host, actor and session into trail.lock so a second writer is told who holds it. The kernel
drops the lock when the holder dies (even on SIGKILL), so a stale lock never blocks anyone.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from pathlib import Path

from console.audit.entry import utc_now
from console.errors import ConsoleError

LOCK_FILE = "trail.lock"


def _ident(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


class TrailLock:
    def __init__(self, dir_fd: int, info_fd: int, folder: Path) -> None:
        self._dir_fd = dir_fd
        self._info_fd = info_fd
        self.folder = folder
        self.path = folder / LOCK_FILE

    @classmethod
    def acquire(cls, incident_dir: Path, actor: str, session: str) -> TrailLock:
        dir_fd = os.open(incident_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(dir_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(dir_fd)
            raise ConsoleError(
                f"incident {incident_dir} is open for writing by "
                f"{_describe_holder(incident_dir / LOCK_FILE)}; "
                "close it there first (or append from that session)"
            ) from None
        except BaseException:
            os.close(dir_fd)
            raise
        lock = cls(dir_fd, -1, incident_dir)
        if not lock.still_here():
            lock.release()
            raise ConsoleError(
                f"incident folder {incident_dir} was moved or replaced while it was being "
                "opened; open it again"
            )
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "actor": actor,
            "session": session,
            "since": utc_now(),
        }
        try:
            lock._info_fd = os.open(lock.path, os.O_RDWR | os.O_CREAT, 0o644)
            os.ftruncate(lock._info_fd, 0)
            os.pwrite(lock._info_fd, json.dumps(info).encode() + b"\n", 0)
        except BaseException:
            lock.release()
            raise
        return lock

    def still_here(self) -> bool:
        """Whether the folder's name still points at the folder this lock holds."""
        try:
            return _ident(os.stat(self.folder)) == _ident(os.fstat(self._dir_fd))
        except FileNotFoundError:
            return False

    def release(self) -> None:
        if self._dir_fd < 0:
            return
        if self._info_fd >= 0:
            os.ftruncate(self._info_fd, 0)
            os.close(self._info_fd)
            self._info_fd = -1
        fcntl.flock(self._dir_fd, fcntl.LOCK_UN)
        os.close(self._dir_fd)
        self._dir_fd = -1


def _describe_holder(path: Path) -> str:
    try:
        info = json.loads(path.read_bytes())
        return (
            f"{info['actor']} (pid {info['pid']} on {info['host']}, "
            f"session {info['session']}, since {info['since']})"
        )
    except (OSError, ValueError, KeyError, TypeError):
        # The holder has locked but not yet written its details (or they were removed).
        return "another process"
