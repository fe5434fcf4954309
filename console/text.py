"""Text from data made safe for where it goes: a terminal, Markdown, HTML or a CSV cell.

Data is hostile: a note, a change-event summary, a category value, a column name or a scorer's
error body may hold terminal escapes (ESC ] 0 ; ... retitles the terminal, CSI moves the
cursor), Markdown or HTML (`## heading`, `<img onerror=...>`, `[x](javascript:...)`) or a
spreadsheet formula (`=HYPERLINK(...)`). Every writer passes such text through one of these
functions. None of them drops information: a control character becomes its visible escape
(`\\x1b`) and Markdown punctuation is backslash-escaped, so the rendered document shows the
original characters exactly.

    terminal(text)        control characters (but newline and tab) made visible
    one_line(text)        the same, and newline / tab / carriage return made visible too
    laid_out(text)        control characters dropped from text already laid out in cells
    md_text(text)         inline Markdown: punctuation escaped, one line
    md_cell(text)         a Markdown table cell (md_text; `|` is escaped by it too)
    md_code(text)         an inline code span that no backtick inside can close
    csv_cell(value)       a CSV field that no spreadsheet evaluates as a formula
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls, DEL, C1 controls, the Unicode bidi/format controls that reorder or hide
# what a reader sees (Trojan Source), and lone surrogates (bytes that were not UTF-8, kept by
# Python's surrogateescape or a JSON "\udcff" escape), which no UTF-8 stream can encode.
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
    "\ud800-\udfff]"
)
_CONTROL_AND_LAYOUT = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
    "\ud800-\udfff]"
)
_VISIBLE = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _visible(match: re.Match[str]) -> str:
    ch = match.group(0)
    if ch in _VISIBLE:
        return _VISIBLE[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def terminal(text: Any) -> str:
    """Text for a terminal: every control character except newline and tab made visible."""
    return _CONTROL.sub(_visible, str(text))


def one_line(text: Any) -> str:
    """Text for one terminal line or one table cell: newlines and tabs made visible too."""
    return _CONTROL_AND_LAYOUT.sub(_visible, str(text))


def laid_out(text: str) -> str:
    """Text a terminal UI has already laid out in cells, made safe to draw (its last line of
    defence, behind terminal / one_line where data enters a widget): control characters take
    no cell, so they are dropped; a lone surrogate takes one, so it becomes U+FFFD."""
    return _CONTROL_AND_LAYOUT.sub(_dropped, text)


def _dropped(match: re.Match[str]) -> str:
    return "\ufffd" if "\ud800" <= match.group(0) <= "\udfff" else ""


# Characters that open a CommonMark/GFM inline construct anywhere in a line (emphasis, code,
# link or image brackets, raw HTML and autolinks, entities, table pipes, strikethrough); each is
# backslash-escaped, which CommonMark renders as the character itself. `(`, `)`, `!` and `:`
# need no escape: without an unescaped `]` or `<` they cannot form a link, image or autolink.
_MD_INLINE = re.compile(r"([\\`*_\[\]<>&|~])")
# What opens a block only at the start of a line: a heading, list item, quote, setext rule or
# an ordered list marker.
_MD_BLOCK_START = re.compile(r"^(\s*)([#+=>-]|\d+(?=[.)]))")


def md_text(text: Any) -> str:
    """Inline Markdown text that renders as exactly the characters given: no heading, link,
    image, emphasis or raw HTML can start inside it. Controls and newlines made visible."""
    return _MD_BLOCK_START.sub(_escape_block_start, md_cell(text))


def _escape_block_start(match: re.Match[str]) -> str:
    lead, marker = match.group(1), match.group(2)
    if marker[0].isdigit():  # "1." -> "1\." (the digits themselves cannot be escaped)
        return lead + marker + "\\"
    return lead + "\\" + marker


def md_cell(text: Any) -> str:
    """A Markdown table cell: inline escapes only (`|` among them), since no block can start
    inside a cell; the text is not altered."""
    return _MD_INLINE.sub(r"\\\1", one_line(text))


def md_code(text: Any) -> str:
    """An inline code span holding text; the fence is longer than any backtick run inside."""
    body = one_line(text)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if body.startswith("`") or body.endswith("`") or not body.strip() else ""
    return f"{fence}{pad}{body}{pad}{fence}"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_cell(value: Any) -> Any:
    """A CSV field no spreadsheet evaluates and no terminal obeys: control characters but
    newline and tab made visible (a CSV is also read with cat), and text starting with
    = + - @ or a control gets a leading apostrophe (OWASP's advice). Numbers and None pass
    through as they are."""
    if not isinstance(value, str):
        return value
    value = terminal(value)
    if not value.startswith(_FORMULA_START):
        return value
    try:
        float(value)  # "-0.5" is a number, not a formula
    except ValueError:
        return "'" + value
    return value
