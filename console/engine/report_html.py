"""report.html: report.md as one self-contained HTML file that opens offline, with the figures
inlined as SVG.

The Markdown is rendered by markdown-it (CommonMark with GFM tables) with raw HTML turned off,
so any HTML in the text - which console.text already escaped in report.md - is shown as text,
never obeyed. A Content-Security-Policy forbids every fetch (scripts, fonts, images, frames,
connections): the page can make no request, even if a future section carried a link. The
figures' SVGs come from matplotlib (glyphs drawn as paths, no font or image references) and go
in after the figures heading; each SVG's title is escaped.
"""

from __future__ import annotations

import html
import re

from markdown_it import MarkdownIt

from console.engine.report_figures import Figure

HTML_FILE = "report.html"
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = """
body { font-family: sans-serif; max-width: 70em; margin: 2em auto; padding: 0 1em;
       line-height: 1.45; color: #1a1a1a; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.5em; vertical-align: top; }
code { background: #f2f2f2; padding: 0 0.2em; }
figure { margin: 1em 0; } figure svg { max-width: 100%; height: auto; }
"""
_XML_PROLOGUE = re.compile(r"^\s*<\?xml[^>]*>\s*(<!DOCTYPE[^>]*>\s*)?", re.S)


def to_html(markdown: str, title: str, figures: list[Figure]) -> str:
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    shown = "".join(
        f'<figure id="figure-{html.escape(f.name)}">{_XML_PROLOGUE.sub("", f.svg)}'
        f"<figcaption>{html.escape(f.title)}</figcaption></figure>\n"
        for f in figures
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>\n"
        f"{body}<h2>Figures (inline)</h2>\n{shown or '<p>No figure could be drawn.</p>'}"
        "</body></html>\n"
    )
