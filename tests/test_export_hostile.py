"""Trail exports with hostile values (control characters, Markdown, HTML, formulas) in notes,
actors, change-event summaries, category values, column names and prediction ids: JSON Lines
and Parquet keep them exactly, CSV holds no formula, Markdown renders them as written; each
action's summary says what was decided, on what, with readable numbers, uncut."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from markdown_it import MarkdownIt

from console.audit import Trail
from console.audit.export import export, meta_path

HOSTILE = {
    "note": '=HYPERLINK("http://evil","x")\n## Injected\x1b]0;pwned\x07 | <img src=x onerror=alert(1)>',
    "actor": "+cmd|' /C calc'!A0 <b>",
    "summary": "[click](javascript:alert(1)) ## heading",
    "category": "@SUM(1+1) <script>x</script>",
    "column": "-col`name` | x",
    "prediction": "pred-<i>1</i>\u202eevil",
}
LONG = "word " * 80 + "END"


@pytest.fixture
def incident(tmp_path):
    folder = tmp_path / "inc"
    with Trail.open(folder, actor=HOSTILE["actor"]) as trail:
        trail.append(
            "intervene",
            "distribution_shift",
            params={"edge": ["raw_x", "f_x"]},
            result={
                "edge": ["raw_x", "f_x"],
                "type": "distribution_shift",
                "verdict": "broken",
                "reasons": [f"{HOSTILE['column']}: top category {HOSTILE['category']}"],
                "psi": 0.123456789012345,
            },
        )
        trail.append(
            "intervene",
            "mark_edge",
            params={"edge": ["raw_x", "f_x"], "mark": "broken", "note": HOSTILE["note"]},
            result={"intervention_verdict": "broken"},
        )
        trail.append("triage", "decide", params={"verdict": "confirmed", "note": "real"})
        trail.append(
            "counterfactual",
            "explain",
            params={"prediction_id": HOSTILE["prediction"]},
            result={"score": 0.684210526315789, "change": HOSTILE["summary"]},
        )
        trail.note(LONG)
    return folder


def test_jsonl_keeps_every_value_exactly(incident, tmp_path):
    out = tmp_path / "t.jsonl"
    export(incident, "jsonl", out)
    lines = out.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 1 + 5 + 1  # header, 5 entries, final newline
    entries = [json.loads(line) for line in lines[1:-1]]
    assert entries[0]["actor"] == HOSTILE["actor"]
    assert entries[1]["params"]["note"] == HOSTILE["note"]
    assert entries[0]["result"]["psi"] == 0.123456789012345  # data keeps full precision
    assert entries[3]["params"]["prediction_id"] == HOSTILE["prediction"]


def test_parquet_keeps_every_value_exactly(incident, tmp_path):
    out = tmp_path / "t.parquet"
    export(incident, "parquet", out)
    rows = pq.read_table(out).to_pylist()
    assert rows[0]["actor"] == HOSTILE["actor"]
    assert json.loads(rows[1]["params"])["note"] == HOSTILE["note"]
    assert json.loads(rows[3]["params"])["prediction_id"] == HOSTILE["prediction"]
    assert rows[4]["summary"].endswith("END")


def test_csv_is_plain_csv_with_no_formula(incident, tmp_path):
    out = tmp_path / "t.csv"
    done = export(incident, "csv", out)
    text = out.read_text(encoding="utf-8")
    assert text.startswith("seq,ts,actor,")  # the header row first, no comment line
    rows = list(csv.DictReader(text.splitlines(keepends=True)))
    assert [int(r["seq"]) for r in rows] == [1, 2, 3, 4, 5]
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@")), value
    assert rows[0]["actor"] == "'" + HOSTILE["actor"]  # shown, not evaluated
    assert json.loads(rows[1]["params"])["note"] == HOSTILE["note"]
    meta = json.loads(meta_path(out).read_text())["trail_export"]
    assert done.meta == meta_path(out) and meta["head"] == done.head.hash and meta["count"] == 5


def _md(folder: Path, tmp_path: Path) -> str:
    out = tmp_path / "t.md"
    export(folder, "md", out)
    return out.read_text(encoding="utf-8")


def test_markdown_renders_hostile_text_as_written(incident, tmp_path):
    text = _md(incident, tmp_path)
    parser = MarkdownIt("commonmark").enable("table")
    html = parser.render(text)
    assert "<img" not in html and "<script" not in html and "<b>" not in html
    assert "<i>" not in html and 'href="javascript' not in html
    tokens = parser.parse(text)
    headings = [
        b.content for a, b in zip(tokens, tokens[1:], strict=False) if a.type == "heading_open"
    ]
    assert headings == [headings[0]] and "Injected" not in headings[0]
    rows = [line for line in text.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 5  # a newline in a note does not break the table
    assert "\x1b" not in text and "\u202e" not in text  # controls are made visible
    cells = ["".join(c.content for c in t.children or ()) for t in tokens if t.type == "inline"]
    shown = "\n".join(cells)
    assert HOSTILE["actor"] in shown and HOSTILE["category"] in shown
    assert HOSTILE["column"] in shown and "pred-<i>1</i>\\u202eevil" in shown


def test_markdown_summaries_say_what_was_decided(incident, tmp_path):
    text = _md(incident, tmp_path)
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    cells = ["".join(c.content for c in t.children or ()) for t in tokens if t.type == "inline"]
    mark = next(c for c in cells if c.startswith("marked "))
    assert mark.startswith("marked raw_x -> f_x broken: =HYPERLINK(")
    assert "(intervention verdict: broken)" in mark
    assert "decided confirmed: real" in cells
    assert "distribution_shift on raw_x -> f_x: broken; " in "\n".join(cells)
    assert "score=0.6842" in "\n".join(cells) and "0.684210526" not in text  # readable numbers
    assert LONG.split()[-1] in "\n".join(cells) and "…" not in text  # never cut
    assert " ".join(LONG.split()) in cells
