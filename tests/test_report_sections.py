"""report.md's post-mortem sections, each checked against the trail and the telemetry it names:
key times and durations, people and roles, the human timeline in a chosen zone, trackable
action items (and their CSV/JSON), communications, and readable numbers (times to the second,
a compact interventions table with an appendix).

One bundled game day is played from alert to report by three people: the on-call engineer
investigates, a lead gives roles from the command line, a scribe resumes and writes the report.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest

from console.audit import read_entries
from console.audit.entry import parse_ts
from console.cli import Parser
from console.commands import role as role_command
from console.engine import report as report_step
from console.engine.investigation import Investigation
from console.engine.report_actions import ACTIONS_CSV, ACTIONS_JSON
from console.engine.report_clock import span
from console.errors import ConsoleError
from console.gameday.answers import ANSWER_FILE
from console.playbook.loader import load_playbook

SCENARIO = Path(__file__).resolve().parent.parent / "sample_data" / "fraud-friday-noon"
EDGE = ("raw_card_age_days", "f_card_age")
PARIS = ZoneInfo("Europe/Paris")
IMPACT = """
[impact]
unit = "EUR"
per_flipped_decision = 38.0
flipped_meaning = "a wrong <b>decline</b>"
per_metric_event = 0.5
metric_event = "decline"
"""
COMMS = "told #fraud-ops: declines are wrong for BINs 4147xx-4159xx, fix at 19:00"


def _role(folder: Path, *args: str) -> int:
    parser = Parser(prog="incident-console")
    role_command.register(parser.add_subparsers(dest="command"))
    parsed = parser.parse_args(["role", str(folder), *args])
    return int(parsed.func(parsed))


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    folder = tmp / "telemetry"
    shutil.copytree(SCENARIO, folder, ignore=shutil.ignore_patterns(ANSWER_FILE))
    with open(folder / "playbook.toml", "a") as f:
        f.write(IMPACT)
    incident = tmp / "inc"
    with Investigation.open(folder / "playbook.toml", folder, incident, actor="oncall@a") as inv:
        inv.triage()
        inv.locate()
        inv.intervene(EDGE)
        inv.mark_edge(EDGE, "broken", note="the zero fill")
        inv.counterfactual()
        inv.validate()
    assert _role(incident, "--actor", "oncall@a", "--role", "investigator", "--by", "lead@b") == 0
    assert _role(incident, "--actor", "lead@b", "--role", "incident_lead", "--by", "lead@b") == 0
    assert _role(incident, "--actor", "dana@d", "--role", "incident_lead", "--by", "lead@b") == 0
    with Investigation.open(folder / "playbook.toml", folder, incident, actor="scribe@c") as inv:
        inv.note(COMMS, step="comms")
        inv.note("an ordinary note")
        text = report_step.write_report(inv, "Europe/Paris").markdown
        entries = list(read_entries(incident))
    return incident, folder, text, entries


def _section(text: str, heading: str) -> str:
    start = text.index(f"## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def _paris(ts: datetime) -> str:
    return ts.astimezone(PARIS).replace(microsecond=0).isoformat()


def _rows(section: str) -> list[list[str]]:
    """The body cells of the section's first table."""
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in r.strip("|").split(" | ")] for r in rows[1:]]


def test_key_times_come_from_the_trail_and_the_change_events(played):
    incident, folder, text, entries = played
    section = _section(text, "Key times")
    rows = {r[0]: r for r in _rows(section)}
    changes = pq.read_table(folder / "changes.parquet").to_pylist()
    trigger = min(
        c["ts"] for c in changes if c["node"] == "raw_card_age_days" and c["kind"] == "schema"
    )
    alert = datetime.fromisoformat(
        re.search(r'alert_at = "?([^"\n]+)', (folder / "scenario.toml").read_text()).group(1)
    ).astimezone(UTC)
    opened = next(e for e in entries if e.action == "open")
    mark = [e for e in entries if e.action == "mark_edge"][-1]
    postfix = [e for e in entries if e.action == "postfix"][-1]
    fix = next(c["ts"] for c in changes if c["ts"] > alert and c["node"] == "raw_card_age_days")
    assert rows["started"][1] == _paris(trigger)
    assert rows["detected"][1] == _paris(alert)
    assert rows["acknowledged"][1] == _paris(parse_ts(opened.ts))
    assert rows["identified"][1] == _paris(parse_ts(mark.ts))
    assert rows["mitigated"][1] == _paris(fix)
    assert rows["resolved"][1] == _paris(parse_ts(postfix.ts))
    durations = {r[0]: r[1] for r in _rows(section[section.index("| Duration") :])}
    assert durations["time to detect"] == span(alert - trigger) == "4 h 05 min 00 s"
    assert durations["time to mitigate"] == span(fix - alert)
    whole = timedelta(seconds=int((parse_ts(mark.ts) - alert).total_seconds()))
    assert durations["time to identify"] == span(whole)
    assert "Definitions:" in section


def test_people_lists_every_actor_and_their_roles(played):
    incident, folder, text, entries = played
    rows = {r[0]: r for r in _rows(_section(text, "People and roles"))}
    counted = {a: sum(e.actor == a for e in entries) for a in {e.actor for e in entries}}
    # The report quotes the trail up to its own entry, which write_report does not append.
    assert {name: int(r[2]) for name, r in rows.items()} == {**counted, "dana@d": 0}
    assert "investigator (from" in rows["oncall@a"][1]
    # The lead handed incident lead to dana: lead@b's term ends when dana's starts.
    given = [e for e in entries if e.action == "role" and e.params["role"] == "incident_lead"]
    handover = _paris(parse_ts(given[1].ts))
    assert f"incident lead (from {_paris(parse_ts(given[0].ts))} to {handover}" in rows["lead@b"][1]
    assert f"incident lead (from {handover}, given by lead@b)" in rows["dana@d"][1]


def test_the_role_command_refuses_what_is_not_a_role(played, capsys):
    incident = played[0]
    with pytest.raises(SystemExit) as exit_:
        _role(incident, "--actor", "eve", "--role", "boss")
    assert exit_.value.code == 2
    with pytest.raises(ConsoleError, match="name the person"):
        _role(incident, "--actor", " ", "--role", "scribe")


def test_the_timeline_merges_people_and_changes_in_the_chosen_zone(played):
    incident, folder, text, entries = played
    section = _section(text, "Timeline (Europe/Paris)")
    rows = _rows(section)
    times = [datetime.fromisoformat(r[0]) for r in rows]
    assert times == sorted(times)
    assert all(r[0].endswith("+01:00") for r in rows)  # November in Paris, to the second
    mark = [e for e in entries if e.action == "mark_edge"][-1]
    assert [_paris(parse_ts(mark.ts)), "oncall@a"] == [
        r[:2] for r in rows if "marked raw\\_card\\_age\\_days" in r[2]
    ][0]
    assert any(r[1] == "lead@b" and "dana@d is incident lead" in r[2] for r in rows)
    assert any(r[1] == "scribe@c" and "an ordinary note" in r[2] for r in rows)
    assert any("alert on `decline_rate`" in r[2] for r in rows)
    assert any(r[1] == "coreissue (vendor)" for r in rows)  # the trigger's change event


def test_action_items_are_trackable_and_exported(played):
    incident, folder, text, entries = played
    rows = _rows(_section(text, "Action items"))
    assert [r[0] for r in rows] == [f"A{i}" for i in range(1, len(rows) + 1)]
    with open(incident / ACTIONS_CSV, newline="") as f:
        exported = list(csv.DictReader(f))
    assert json.loads((incident / ACTIONS_JSON).read_text()) == exported
    assert [(r[0], r[1], r[3], r[4], r[5]) for r in rows] == [
        (e["id"], e["priority"], e["type"], e["owner"], e["status"]) for e in exported
    ]
    monitor = next(e for e in exported if e["type"] == "prevent")
    # null_rate blames the source: owner of raw_card_age_days in the playbook.
    assert monitor["owner"] == "card-platform" and monitor["priority"] == "P2"
    assert monitor["action"] == "Alert on the missing-value rate of raw_card_age_days"
    assert monitor["edge"] == "raw_card_age_days -> f_card_age" and monitor["ticket"] == ""


def test_communications_lists_the_comms_notes_only(played):
    text = played[2]
    section = _section(text, "Communications")
    assert "scribe@c: told #fraud-ops: declines are wrong for BINs 4147xx-4159xx" in section
    assert "an ordinary note" not in section


def test_numbers_read_to_the_second_and_the_table_stays_compact(played):
    text = played[2]
    assert not re.search(r"\d\d:\d\d:\d\d\.\d", text)  # no microseconds anywhere
    table = _rows(_section(text, "Interventions"))
    assert table[0][:4] == ["I1", "`raw_card_age_days` -> `f_card_age`", "null\\_rate", "broken"]
    assert "missing rate" not in _section(text, "Interventions")
    appendix = _section(text, "Appendix: intervention details")
    assert "**I1**: null\\_rate on" in appendix and "missing rate 0.00% -\\> 25.97%" in appendix
    mean = re.search(r"Score change: mean ([^,]+),", text)
    assert mean is not None and f"{float(mean.group(1)):+.3g}" == mean.group(1)  # 3 digits


def test_impact_in_business_terms_shows_its_formula(played):
    incident, folder, text, entries = played
    section = _section(text, "Impact")
    blast = [e for e in entries if e.action == "blast_radius"][-1].result
    triage = [e for e in entries if e.action == "triage"][-1].result
    cost = blast["flipped"] * 38.0
    assert (
        f"Cost of the changed decisions: {cost:,.2f} EUR = {blast['flipped']} decisions changed "
        "x 38 EUR (a wrong \\<b\\>decline\\</b\\>)." in section
    )
    change = triage["incident_value"] - triage["baseline_value"]
    events = abs(change) * blast["total"]
    assert f"Value of the declines gained: {events * 0.5:,.2f} EUR = abs(" in section
    assert f"x {blast['total']} decisions x 0.5 EUR per decline ({events:.4g} declines" in section


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('unit = "EUR"\nper_flipped_decision = -1', "impact.per_flipped_decision = -1"),
        ("per_flipped_decision = 3", "impact.unit: required key is missing"),
        ('unit = "EUR"', "give per_flipped_decision, per_metric_event or both"),
        ('unit = "EUR"\nper_flip = 3', "impact.per_flip: unknown key"),
    ],
)
def test_a_bad_impact_table_names_its_key(tmp_path, table, problem):
    path = tmp_path / "playbook.toml"
    path.write_text((SCENARIO / "playbook.toml").read_text() + f"\n[impact]\n{table}\n")
    with pytest.raises(ConsoleError) as error:
        load_playbook(path)
    assert any(problem in p for p in error.value.problems)
