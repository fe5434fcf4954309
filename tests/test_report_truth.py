"""report.md tells what happened: the engineer's decisions, failed steps with their errors,
data text escaped (never altered, never injected), and a log summarised past LOG_LIMIT."""

from __future__ import annotations

import re
import shutil
import socket
import tomllib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tomli_w
from markdown_it import MarkdownIt

from console.engine.investigation import Investigation
from console.engine.report import LOG_LIMIT
from console.errors import ConsoleError
from console.gameday.answers import ANSWER_FILE

SCENARIO = Path(__file__).resolve().parent.parent / "sample_data" / "fraud-friday-noon"
EDGE = ("raw_card_age_days", "f_card_age")
HOSTILE = "<img src=x onerror=alert(1)> [x](javascript:alert(1)) | pipe\n## Injected heading"


def _copy(tmp_path: Path, scorer_url: str | None = None, hostile: bool = False) -> Path:
    folder = tmp_path / "telemetry"
    shutil.copytree(SCENARIO, folder, ignore=shutil.ignore_patterns(ANSWER_FILE))
    if scorer_url is not None:
        path = folder / "playbook.toml"
        data = tomllib.loads(path.read_text())
        data["scorer"] = {
            "type": "http", "url": scorer_url, "threshold": data["scorer"]["threshold"],
            "positive": data["scorer"]["positive"], "negative": data["scorer"]["negative"],
            "timeout": 2.0, "retries": 0, "batch_size": 200,
        }  # fmt: skip
        path.write_text(tomli_w.dumps(data))
    if hostile:
        # Every change event's summary and actor, and one segment value, are hostile text.
        changes = pq.read_table(folder / "changes.parquet")
        n = changes.num_rows
        changes = changes.set_column(
            changes.schema.get_field_index("summary"), "summary", pa.array([HOSTILE] * n)
        )
        changes = changes.set_column(
            changes.schema.get_field_index("actor"), "actor", pa.array(["=HYPERLINK(x) <b>"] * n)
        )
        pq.write_table(changes, folder / "changes.parquet")
        decisions = pq.read_table(folder / "decisions.parquet")
        i = decisions.schema.get_field_index("seg_channel")
        values = [
            "<script>x</script>" if v == "ecommerce" else v for v in decisions.column(i).to_pylist()
        ]
        decisions = decisions.set_column(i, "seg_channel", pa.array(values))
        pq.write_table(decisions, folder / "decisions.parquet")
    return folder


def _rendered(markdown: str):
    return MarkdownIt("commonmark").enable("table").parse(markdown)


def _html(markdown: str) -> str:
    return MarkdownIt("commonmark").enable("table").render(markdown)


def _investigate(folder: Path, incident: Path) -> Investigation:
    inv = Investigation.open(folder / "playbook.toml", folder, incident)
    inv.triage()
    inv.locate()
    inv.intervene(EDGE)
    return inv


def _section(text: str, heading: str) -> str:
    start = text.index(f"## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def test_a_rejected_proposal_is_not_an_action_item(tmp_path):
    folder = _copy(tmp_path)
    with _investigate(folder, tmp_path / "inc") as inv:
        inv.mark_edge(EDGE, "broken")
        inv.counterfactual()
        inv.validate()
        before = inv.report().markdown
        inv.decide_proposal(False)
        after = inv.report().markdown
    assert "Review `playbook.proposed.toml`" in _section(before, "Action items")
    items = _section(after, "Action items")
    assert "playbook.proposed.toml" not in items and "merge" not in items
    assert "`playbook.proposed.toml` was rejected by" in _section(after, "Resolution")
    log = _section(after, "Investigation log (audit trail)")
    assert "rejected the playbook update playbook.proposed.toml" in log


def test_an_accepted_proposal_is_done_not_open(tmp_path):
    folder = _copy(tmp_path)
    with _investigate(folder, tmp_path / "inc") as inv:
        inv.mark_edge(EDGE, "broken")
        inv.validate()
        inv.decide_proposal(True)
        text = inv.report().markdown
    items = _section(text, "Action items")
    assert "Review" not in items
    assert re.search(
        r"\| Playbook update `playbook.proposed.toml` merged into .* \| done \|", items
    )


def test_a_failed_counterfactual_says_failed_with_its_error(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = _copy(tmp_path, scorer_url=f"http://127.0.0.1:{port}/score")
    with _investigate(folder, tmp_path / "inc") as inv:
        inv.mark_edge(EDGE, "broken")
        with pytest.raises(ConsoleError):
            inv.counterfactual()
        text = inv.report().markdown
    assert "no counterfactual was run" not in text
    assert "counterfactual re-scoring was not run" not in text
    for heading in ("Impact", "Blast radius", "Lessons learned", "Action items"):
        section = _section(text, heading)
        assert "the counterfactual step failed" in section or "counterfactual step fail" in section
        assert f"127.0.0.1:{port}" in section, heading
    assert "Failed steps: counterfactual" in _section(text, "Status")


def test_hostile_text_is_escaped_not_altered(tmp_path):
    folder = _copy(tmp_path, hostile=True)
    note = "raw | piped `tick` <b>bold</b> ## not a heading"
    with _investigate(folder, tmp_path / "inc") as inv:
        inv.mark_edge(EDGE, "broken", note=note)
        inv.counterfactual()
        inv.note(HOSTILE)
        text = inv.report().markdown
    html = _html(text)
    assert "<img" not in html and "<script" not in html and "<b>" not in html
    assert 'href="javascript' not in html
    assert not any("Injected" in h for h in _headings(text))
    shown = _plain_text(text)
    # The note reads exactly as written: its | is not turned into /.
    assert note in shown
    assert "<img src=x onerror=alert(1)> [x](javascript:alert(1)) | pipe\\n## Injected heading" in (
        shown
    )
    assert "=HYPERLINK(x) <b>" in shown and "<script>x</script>" in shown


def _headings(markdown: str) -> list[str]:
    tokens = _rendered(markdown)
    return [b.content for a, b in zip(tokens, tokens[1:], strict=False) if a.type == "heading_open"]


def _plain_text(markdown: str) -> str:
    """The text a reader sees: every inline token's rendered children, unescaped."""
    parts = []
    for token in _rendered(markdown):
        if token.type == "inline":
            parts.append("".join(child.content for child in token.children or ()))
    return "\n".join(parts)


def test_a_long_trail_is_summarised_and_points_at_the_full_log(tmp_path):
    folder = _copy(tmp_path)
    with _investigate(folder, tmp_path / "inc") as inv:
        inv.mark_edge(EDGE, "broken", note="the decisive mark")
        for i in range(LOG_LIMIT + 50):
            inv.record("intervene", "shadow_recompute", {"i": i}, {"mismatch_rate": 0.5})
        inv.note("a note after the noise")
        head = inv.trail.head()
        text = inv.report().markdown
    log = _section(text, "Investigation log (audit trail)")
    rows = [line for line in log.splitlines() if re.match(r"\| \d+ \|", line)]
    assert len(rows) < 20  # the decisions, marks, notes: not 250 noise rows
    assert any("the decisive mark" in r for r in rows)
    assert any("a note after the noise" in r for r in rows)
    assert f"The trail holds {head.count} entries" in log
    assert f"shadow\\_recompute {LOG_LIMIT + 50}" in log
    assert "[trail.jsonl](trail.jsonl)" in log
