"""The trail's vocabulary has one home (console/audit/vocabulary.py): no other module spells a
step or action name, the docs' table lists exactly its actions, the one reader gives a resume
from the latest entries the same facts as a full read, and an export format is one row."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from console.audit import Trail, read_entries
from console.audit.export import FORMATS, ExportFormat, export
from console.audit.trail import read_latest
from console.audit.vocabulary import ACTIONS, ANY_STEP, Action, Facts, Step, summary

ROOT = Path(__file__).resolve().parent.parent
HOME = ROOT / "console" / "audit" / "vocabulary.py"
NAMES = frozenset(
    v for cls in (Step, Action) for k, v in vars(cls).items() if not k.startswith("_")
)
# Calls that name a trail entry: (step, action, ...) positionally or by keyword.
NAMING_CALLS = {"record", "append", "note", "_step", "_record_failure"}
NAMING_KEYWORDS = {"step", "action", "failed"}


def _trail_member(node: ast.AST, variables: bool) -> bool:
    """entry.step / entry.action / record["step"], and with `variables` a variable step or
    action. In console/ui a variable `step` is the pane shown and `action` a key binding's
    Textual action, and the UI's own `self.step` is the pane shown, not an entry."""
    if isinstance(node, ast.Name):
        return variables and node.id in ("step", "action")
    if isinstance(node, ast.Attribute) and node.attr in ("step", "action"):
        return not (isinstance(node.value, ast.Name) and node.value.id == "self")
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return node.slice.value in ("step", "action")
    if isinstance(node, ast.Tuple):
        return any(_trail_member(e, variables) for e in node.elts)
    return False


def _strings(node: ast.AST) -> list[ast.Constant]:
    return [n for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _spelled_names(tree: ast.AST, variables: bool = True) -> list[tuple[int, str]]:
    found: list[ast.Constant] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_trail_member(s, variables) for s in sides):
                found += [c for s in sides if not _trail_member(s, variables) for c in _strings(s)]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in NAMING_CALLS and (name != "append" or len(node.args) >= 2):
                found += [a for a in node.args[:2] if isinstance(a, ast.Constant)]
            found += [
                k.value
                for k in node.keywords
                if k.arg in NAMING_KEYWORDS and isinstance(k.value, ast.Constant)
            ]
        elif isinstance(node, ast.Tuple | ast.List | ast.Set):
            names = [c for c in node.elts if isinstance(c, ast.Constant) and c.value in NAMES]
            if len(names) >= 2 and len(names) == len(node.elts):
                found += names  # a list of trail names (steps in order, a set of actions)
        elif isinstance(node, ast.FunctionDef):
            args = node.args.args[len(node.args.args) - len(node.args.defaults) :]
            found += [
                d
                for a, d in zip(args, node.args.defaults, strict=True)
                if a.arg in NAMING_KEYWORDS and isinstance(d, ast.Constant)
            ]
    return [(c.lineno, c.value) for c in found if c.value in NAMES]


def test_no_module_but_the_vocabulary_spells_a_trail_name():
    spelled = []
    for path in sorted((ROOT / "console").rglob("*.py")):
        if path == HOME:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        variables = "ui" not in path.relative_to(ROOT).parts
        spelled += [
            f"{path.relative_to(ROOT)}:{n}: {v!r}" for n, v in _spelled_names(tree, variables)
        ]
    assert spelled == []


def test_the_check_sees_a_spelled_name():
    code = (
        "def f(inv, e, r, step='note'):\n"
        "    inv.record('triage', 'decide', {})\n"
        "    if e.action == 'mark_edge' or (e.step, e.action) == ('validate', 'postfix'):\n"
        "        return r['action'] in ('failed', 'explain_failed')\n"
        "    if action == 'correct':\n"
        "        return STEPS\n"
        "    return self.step == 'triage'\n"
        "STEPS = ('locate', 'report')\n"
    )
    assert {v for _, v in _spelled_names(ast.parse(code))} == {
        "note", "triage", "decide", "mark_edge", "validate", "postfix", "failed",
        "explain_failed", "correct", "locate", "report"
    }  # fmt: skip
    assert {v for _, v in _spelled_names(ast.parse(code), variables=False)} == {
        "note", "triage", "decide", "mark_edge", "validate", "postfix", "failed",
        "explain_failed", "locate", "report"
    }  # fmt: skip


def test_docs_action_table_is_the_vocabulary():
    text = (ROOT / "docs" / "trail.md").read_text(encoding="utf-8")
    section = text[text.index("**Steps and actions.**") :]
    rows = re.findall(r"^\| `(\w+)` \| (`.*`) \|$", section, re.M)
    documented = {step: tuple(re.findall(r"`(\w+)`", names)) for step, names in rows}
    assert documented == dict(ACTIONS)
    assert ANY_STEP == (Action.NOTE, Action.CORRECT)
    assert "`note` and `correct` (any step)" in section


def _trail(folder: Path) -> None:
    with Trail.open(folder, actor="t") as trail:
        trail.append(Step.SESSION, Action.OPEN, {"sensitive": []})
        trail.append(Step.TRIAGE, Action.TRIAGE, {}, {"verdict": "real"})
        trail.append(Step.TRIAGE, Action.DECIDE, {"verdict": "confirmed", "note": ""})
        for _ in range(3):
            trail.append(Step.LOCATE, Action.FAILED, {"node": None}, {"error": "slow"})
        for edge in (["a", "b"], ["c", "d"], ["a", "b"]):
            trail.append(Step.INTERVENE, "shadow_recompute", {"edge": edge}, {"edge": edge})
        trail.append(Step.INTERVENE, Action.MARK_EDGE, {"edge": ["a", "b"], "mark": "broken"})
        trail.append(Step.INTERVENE, Action.MARK_EDGE, {"edge": ["c", "d"], "mark": "external"})
        trail.append(Step.COUNTERFACTUAL, Action.EXPLAIN_FAILED, {}, {"error": "no id"})
        trail.append(Step.VALIDATE, Action.POSTFIX, {}, {})
        trail.append(Step.VALIDATE, Action.REJECT_PROPOSAL, {"proposed": "p.toml"})
        trail.note("hello", step=Step.LOCATE)


def test_one_reader_gives_resume_and_full_read_the_same_facts(tmp_path):
    _trail(tmp_path)
    full = Facts.read(read_entries(tmp_path))
    latest = Facts.read_latest(read_latest(tmp_path, list(ACTIONS)))
    for facts in (full, latest):
        assert facts.triage is not None and facts.triage.verdict == "confirmed"
        assert [(m.edge, m.mark) for m in facts.marks.values()] == [
            (("a", "b"), "broken"),
            (("c", "d"), "external"),
        ]
        assert {s: f.error for s, f in facts.failures.items()} == {"locate": "slow"}
        assert facts.proposal is not None and not facts.proposal.accepted
        assert [e.result["edge"] for e in facts.interventions()] == [["a", "b"], ["c", "d"]]
        assert facts.root_edge() == ("c", "d")
    assert [(n.step, n.text) for n in full.notes] == [("locate", "hello")]


def test_one_summariser_for_exports_report_log_and_tail(tmp_path):
    _trail(tmp_path)
    out = tmp_path / "t.csv"
    export(tmp_path, "csv", out)
    rows = out.read_text(encoding="utf-8").splitlines()
    entries = list(read_entries(tmp_path))
    mark = entries[9]
    assert f",{summary(mark)}," in rows[mark.seq]
    assert summary(mark) == "marked a -> b broken"
    assert summary(mark, short=True) == "a -> b marked broken"  # the tail's narrow form
    stored = json.loads((tmp_path / "trail.jsonl").read_text().splitlines()[mark.seq - 1])
    assert summary(stored) == summary(mark)


def test_an_export_format_is_one_row_that_the_cli_offers(tmp_path, monkeypatch):
    from console.cli import build_parser

    def _seqs(path, entries, meta, zone):
        path.write_text(" ".join(str(e["seq"]) for e in entries) + "\n")

    monkeypatch.setitem(FORMATS, "seqs", ExportFormat(_seqs))
    _trail(tmp_path)
    args = build_parser().parse_args(
        ["trail", "export", str(tmp_path), "--format", "seqs", "--out", str(tmp_path / "s")]
    )
    assert args.format == "seqs"
    export(tmp_path, "seqs", tmp_path / "s")
    assert (tmp_path / "s").read_text() == " ".join(str(n) for n in range(1, 16)) + "\n"
