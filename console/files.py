"""Durable file writes: a file is either its old content or its new content, never half.

Every layer writes through here (temp file in the same folder, fsync, os.replace, fsync the
folder). Temp files are named ".<target name>.<random>.tmp", so a crash leaves only dot-files
that a reader can recognise and remove.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from console.errors import ConsoleError

# mkstemp creates files readable by the owner only; playbooks, trails, reports and evidence
# are for the whole team.
SHARED_MODE = 0o644


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """fsync a folder so a file created or renamed in it survives a crash."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _cannot_write(target: Path, exc: OSError) -> ConsoleError:
    """A read-only folder (EROFS, EACCES) or a full disk (ENOSPC), said with the file's name."""
    return ConsoleError(f"cannot write {target}: {exc.strerror or exc}")


def _temp_beside(target: Path) -> tuple[int, Path]:
    if not target.parent.is_dir():
        raise ConsoleError(f"cannot write {target}: folder {target.parent} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _cannot_write(target, exc) from exc
    return fd, Path(tmp)


def atomic_write(path: str | os.PathLike[str], data: bytes | str, *, sync_dir: bool = True) -> None:
    """Write data (str as UTF-8) to a temp file beside path, fsync it, os.replace it over path.

    sync_dir=False skips the folder fsync, for a file rewritten often whose name already exists.
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = _temp_beside(target)
    try:
        os.fchmod(fd, SHARED_MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _cannot_write(target, exc) from exc
        raise
    if sync_dir:
        fsync_dir(target.parent)


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temp path beside path for a writer that wants a file name (e.g. pyarrow's
    ParquetWriter); when the block ends without an error the file is fsynced and replaces
    path, otherwise it is removed and path is untouched."""
    target = Path(path)
    fd, tmp = _temp_beside(target)
    os.fchmod(fd, SHARED_MODE)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as exc:  # the writer's too: a full disk shows while it writes
        raise _cannot_write(target, exc) from exc
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(target.parent)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a file's bytes, read in blocks (evidence can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def create_once(path: str | os.PathLike[str], data: bytes) -> bool:
    """Create path with data unless it exists (then keep it); True when this call created it.

    The file is readable by its owner only (it holds secrets such as the export salt).

    os.replace would let a second process overwrite a value the first one already used (two
    different export salts), and O_EXCL alone would let a racing reader see a half-written
    file. So the content is written and fsynced in a temp file and then hard-linked into
    place, which fails when the name exists.
    """
    target = Path(path)
    fd, tmp = _temp_beside(target)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, target)
        except FileExistsError:
            return False
        fsync_dir(target.parent)
        return True
    finally:
        tmp.unlink(missing_ok=True)
