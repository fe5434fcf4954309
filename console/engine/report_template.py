"""report.md rendered from a Jinja2 template, so a team can lay the post-mortem out its own way.

The default, console/templates/report.md.j2, reproduces the sections of docs/report.md. A team
replaces it by putting its own `report.md.j2` beside the playbook. The template receives the
sections as Markdown already escaped (data cannot inject Markdown or HTML through them), so it
is plain text around `{{ sections.<name> }}`; `{{ x | md }}` escapes anything else it adds.
Undefined names are errors (StrictUndefined): a misspelt section fails instead of vanishing.
A template that does not parse or fails to render is a ConsoleError naming its file and line.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from console.errors import ConsoleError
from console.text import md_text

DEFAULT_TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "report.md.j2"
TEAM_TEMPLATE = "report.md.j2"  # beside the playbook


def template_for(playbook_path: Path) -> Path:
    """The team's template beside the playbook, else the default."""
    team = playbook_path.parent / TEAM_TEMPLATE
    return team if team.is_file() else DEFAULT_TEMPLATE


def render_template(path: Path, context: Mapping[str, Any]) -> str:
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
    )
    env.filters["md"] = md_text
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConsoleError(f"{path}: cannot read the report template: {exc}") from None
    try:
        template = env.from_string(source)
        return template.render(**context)
    except jinja2.TemplateSyntaxError as exc:
        raise ConsoleError(f"{path}, line {exc.lineno}: {exc.message}") from None
    except Exception as exc:  # what the template's own expressions raise, with its line
        raise ConsoleError(f"{path}, line {_line(exc)}: {exc}") from None


def _line(exc: BaseException) -> str:
    """The template line the error was raised at: Jinja2 rewrites the traceback so that the
    template's frames carry its name and line numbers."""
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return "?" if line is None else str(line)
