"""console.text: hostile text made safe for a terminal, Markdown, HTML and CSV, never altered."""

from __future__ import annotations

import html
import re

from hypothesis import given
from hypothesis import strategies as st

from console.text import csv_cell, md_cell, md_code, md_text, one_line, terminal

CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def test_terminal_escapes_become_visible():
    hostile = "ok\x1b]0;pwned\x07 \x1b[2J\x9b31m\u202egnp.exe"
    shown = terminal(hostile)
    assert not CONTROL.search(shown)
    assert shown == "ok\\x1b]0;pwned\\x07 \\x1b[2J\\x9b31m\\u202egnp.exe"


def test_terminal_keeps_newlines_one_line_does_not():
    assert terminal("a\nb\tc") == "a\nb\tc"
    assert one_line("a\nb\tc\rd") == "a\\nb\\tc\\rd"


@given(st.text())
def test_no_control_character_survives(text):
    assert not CONTROL.search(terminal(text))
    assert not CONTROL.search(one_line(text)) and "\n" not in one_line(text)


def _unescape_markdown(text: str) -> str:
    """What a CommonMark renderer shows for md_text's output (backslash escapes, entities)."""
    return html.unescape(re.sub(r"\\(.)", r"\1", text))


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"])))
def test_markdown_shows_the_text_unaltered(text):
    text = text.replace("\u2028", "").replace("\u2029", "")
    escaped = md_text(text)
    assert _unescape_markdown(escaped) == one_line(text)


def test_markdown_injection_is_inert():
    hostile = "## Owned\n<img src=x onerror=alert(1)> [click](javascript:alert(1)) a|b"
    cell = md_cell(hostile)
    assert "<img" not in cell and "\n" not in cell
    assert "](" not in cell and "|" not in cell.replace("\\|", "")
    assert cell.startswith("\\#\\#")


def test_code_span_cannot_be_closed_from_inside():
    span = md_code("a ``b` c")
    assert span.startswith("```") and span.endswith("```")


def test_csv_formulas_are_quoted_numbers_are_not():
    assert csv_cell('=HYPERLINK("http://x","y")').startswith("'=")
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell("-0.25") == "-0.25"
    assert csv_cell("+cmd|' /C calc'!A0") == "'+cmd|' /C calc'!A0"
    assert csv_cell(3.5) == 3.5 and csv_cell(None) is None
    assert csv_cell("plain") == "plain"
