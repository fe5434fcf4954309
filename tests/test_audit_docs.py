"""The examples in docs/trail.md are real: the trail verifies (MACs and signature included),
the head line `trail head` prints is the documented one, and verify --head accepts it."""

import re
from pathlib import Path

from console.audit import read_entries, verify
from console.audit.head import read_head
from console.audit.verification import check
from console.cli import main

DOC = Path(__file__).resolve().parent.parent / "docs" / "trail.md"


def blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def example(folder):
    (folder / "trail.jsonl").write_text(blocks("jsonl")[0], encoding="utf-8")
    head = next(b for b in blocks("json") if '"signature":"' in b)
    (folder / "head.json").write_text(head, encoding="utf-8")


def test_documented_example_verifies(tmp_path):
    example(tmp_path)
    report, _ = check(tmp_path, key=b"example-key")
    assert report.ok, report.describe()
    assert report.count == 4
    entries = list(read_entries(tmp_path))
    assert all(e.mac for e in entries)
    assert entries[3].action == "correct" and entries[3].params["corrects"] == 2
    assert not check(tmp_path, key=b"other-key")[0].ok
    # As the page says: verify also checks the evidence file, which the example lacks.
    report = verify(tmp_path, key=b"example-key")
    assert report.first_bad_seq == 2
    assert "evidence evidence/shadow-f_log_amount.parquet is missing" in report.problem


def test_documented_hand_check_matches(tmp_path):
    snippet = blocks("python")[0].replace("inc/trail.jsonl", str(tmp_path / "trail.jsonl"))
    (tmp_path / "trail.jsonl").write_text(blocks("jsonl")[0], encoding="utf-8")
    exec(compile(snippet, "docs/trail.md", "exec"), {})


def test_documented_head_line_is_what_trail_head_prints(tmp_path, capsys, monkeypatch):
    example(tmp_path)
    monkeypatch.setenv("INCIDENT_CONSOLE_HMAC_KEY", "example-key")
    session = blocks("console")[0].splitlines()
    assert main(["trail", "head", str(tmp_path)]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == session[1] == read_head(tmp_path).line()
    given = re.search(r'--head "(.*)"', session[2])[1]
    assert given == printed
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "shadow-f_log_amount.parquet").write_bytes(b"not the recorded bytes")
    assert main(["trail", "verify", str(tmp_path), "--head", given]) == 1
    assert "was changed" in capsys.readouterr().err
