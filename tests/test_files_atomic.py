"""console.files: every layer's durable writes leave the old file or the new one, never half."""

import stat

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from console.errors import ConsoleError
from console.files import atomic_path, atomic_write, create_once


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_atomic_write_replaces_the_file_with_text_or_bytes(tmp_path):
    target = tmp_path / "report.md"
    atomic_write(target, "first\n")
    atomic_write(target, b"second\n")
    assert target.read_bytes() == b"second\n"
    # Shared with the team, not private like a bare mkstemp file.
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert leftovers(tmp_path) == []


def test_atomic_path_moves_a_finished_file_into_place(tmp_path):
    target = tmp_path / "rows.parquet"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        with pq.ParquetWriter(tmp, pa.schema([("x", pa.int64())])) as writer:
            writer.write_table(pa.table({"x": [1, 2, 3]}))
        assert not target.exists()
    assert pq.read_table(target).column("x").to_pylist() == [1, 2, 3]
    assert leftovers(tmp_path) == []


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    target = tmp_path / "playbook.toml"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("the writer failed")
    assert target.read_text() == "old\n"
    assert leftovers(tmp_path) == []


def test_both_writers_name_a_missing_folder(tmp_path):
    missing = tmp_path / "nowhere" / "out.csv"
    with (
        pytest.raises(ConsoleError, match="folder .*nowhere.* does not exist"),
        atomic_path(missing),
    ):
        pass
    with pytest.raises(ConsoleError, match="folder .*nowhere.* does not exist"):
        atomic_write(missing, "a,b\n")


def test_create_once_keeps_the_first_content(tmp_path):
    target = tmp_path / "export.salt"
    assert create_once(target, b"first\n") is True
    assert create_once(target, b"second\n") is False
    assert target.read_bytes() == b"first\n"
    assert leftovers(tmp_path) == []
