"""The example in docs/trail.md is a real trail: it verifies, signature included."""

import re
from pathlib import Path

from console.audit import read_entries, verify

DOC = Path(__file__).resolve().parent.parent / "docs" / "trail.md"


def blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_documented_example_verifies(tmp_path):
    (tmp_path / "trail.jsonl").write_text(blocks("jsonl")[0], encoding="utf-8")
    head = next(b for b in blocks("json") if '"signature":"' in b)
    (tmp_path / "head.json").write_text(head, encoding="utf-8")
    report = verify(tmp_path, key=b"example-key")
    assert report.ok, report.describe()
    assert report.count == 4
    entries = list(read_entries(tmp_path))
    assert entries[3].action == "correct" and entries[3].params["corrects"] == 2
    assert not verify(tmp_path, key=b"other-key").ok


def test_documented_hand_check_matches(tmp_path):
    snippet = blocks("python")[0].replace("inc/trail.jsonl", str(tmp_path / "trail.jsonl"))
    (tmp_path / "trail.jsonl").write_text(blocks("jsonl")[0], encoding="utf-8")
    exec(compile(snippet, "docs/trail.md", "exec"), {})
