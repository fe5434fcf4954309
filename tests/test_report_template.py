"""report.md is rendered from a template: a team's report.md.j2 beside the playbook replaces the
default layout, and a template error names the template's file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from console.engine.investigation import Investigation
from console.engine.report_template import TEAM_TEMPLATE
from console.errors import ConsoleError
from console.gameday.answers import ANSWER_FILE

SCENARIO = Path(__file__).resolve().parent.parent / "sample_data" / "fraud-friday-noon"


def test_a_team_template_lays_out_the_report_and_its_errors_name_the_line(tmp_path):
    folder = tmp_path / "telemetry"
    shutil.copytree(SCENARIO, folder, ignore=shutil.ignore_patterns(ANSWER_FILE))
    template = folder / TEAM_TEMPLATE
    with Investigation.open(folder / "playbook.toml", folder, tmp_path / "inc") as inv:
        inv.triage()
        inv.note("<script>alert(1)</script> ## not a heading")
        template.write_text("# Our format\n\n{{ sections.summary }}\n\n{% if sections.status %}\n")
        with pytest.raises(ConsoleError, match=rf"{TEAM_TEMPLATE}, line 5: Unexpected end"):
            inv.report()
        template.write_text("# Ours\n\n{{ sections.summary }}\n{{ sections.sumary }}\n")
        with pytest.raises(ConsoleError, match=rf"{TEAM_TEMPLATE}, line 4: .*sumary"):
            inv.report()
        template.write_text(
            "# {{ incident | md }}: {{ sections.title }}\n\n## What we saw\n\n"
            "{{ sections.timeline }}\n"
        )
        text = inv.report().markdown
    assert text.startswith(
        "# inc: Card fraud: declines surge on a Friday at noon\n\n## What we saw\n"
    )
    assert "Status" not in text and "## Timeline" not in text
    assert "\\<script\\>alert(1)\\</script\\> ## not a heading" in text
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert "<script" not in html and html.count("<h2>") == 1
    assert (tmp_path / "inc" / "report.md").read_text(encoding="utf-8") == text
