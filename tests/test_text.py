"""console.text: hostile text made safe for a terminal, Markdown, HTML and CSV, never altered."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

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


def _rendered_text(markdown: str) -> str:
    """The text a CommonMark renderer shows for a paragraph, and whether any markup formed."""
    tokens = MarkdownIt("commonmark").enable("table").enable("strikethrough").parse(markdown)
    kinds = {t.type for t in tokens}
    assert kinds <= {"paragraph_open", "inline", "paragraph_close"}, kinds
    (inline,) = [t for t in tokens if t.type == "inline"]
    assert {c.type for c in inline.children or []} <= {"text"}, inline.children
    return "".join(c.content for c in inline.children or [])


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"])))
def test_markdown_shows_the_text_unaltered(text):
    shown = one_line(text)
    if shown.strip() != shown or not shown.strip():
        return  # a paragraph's outer spaces are not content in any renderer
    assert _rendered_text(md_text(text)) == shown


@pytest.mark.parametrize(
    "hostile",
    [
        "## Owned",
        "<img src=x onerror=alert(1)>",
        "[click](javascript:alert(1))",
        "![x](http://evil/x.png)",
        "<javascript:alert(1)>",
        "- item",
        "1. first",
        "> quoted",
        "**bold** _em_ ~~gone~~ `code`",
        "&lt; &#x3C;",
        "a|b",
    ],
)
def test_markdown_injection_is_inert(hostile):
    assert _rendered_text(md_text(hostile)) == hostile


def test_cells_escape_pipes_and_keep_numbers_plain():
    assert md_cell("a|b") == "a\\|b"
    assert md_cell("0.2052") == "0.2052" and md_text("0.2052") == "0\\.2052"


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
    assert csv_cell("x\x1b]0;t\x07y") == "x\\x1b]0;t\\x07y"  # cat trail.csv is safe too
