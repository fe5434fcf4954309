"""The writer lock of an incident folder: one process appends at a time.

fcntl.flock on trail.lock; the holder writes its pid, host, actor and session into the file so
a second writer is told who holds it. The kernel drops the lock when the holder dies (even on
SIGKILL), so a stale lock file never blocks anyone.
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


class TrailLock:
    def __init__(self, fd: int, path: Path) -> None:
        self._fd = fd
        self.path = path

    @classmethod
    def acquire(cls, incident_dir: Path, actor: str, session: str) -> TrailLock:
        path = incident_dir / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe_holder(fd)
            os.close(fd)
            raise ConsoleError(
                f"incident {incident_dir} is open for writing by {holder}; "
                "close it there first (or append from that session)"
            ) from None
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "actor": actor,
            "session": session,
            "since": utc_now(),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode() + b"\n", 0)
        return cls(fd, path)

    def release(self) -> None:
        if self._fd < 0:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = -1


def _describe_holder(fd: int) -> str:
    raw = os.pread(fd, 4096, 0)
    try:
        info = json.loads(raw)
        return (
            f"{info['actor']} (pid {info['pid']} on {info['host']}, "
            f"session {info['session']}, since {info['since']})"
        )
    except (ValueError, KeyError, TypeError):
        # The holder has locked but not yet written its details.
        return "another process"
