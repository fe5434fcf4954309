"""The audit as JUnit XML and as a table for the terminal.

JUnit XML is what CI systems read (GitHub Actions test reporters, GitLab's `artifacts:
reports: junit`, Jenkins): one <testsuite> named after the playbook's model with tests,
failures, errors and skipped counts, one <testcase> per edge (classname: the playbook's
model, name: "source -> target"), a <failure message=...> for a broken edge, an <error> for an
edge whose test could not run, <skipped> for one whose test shares another edge's verdict. The
reasons go into the element's text and <system-out>, escaped by ElementTree; characters XML 1.0
cannot carry (control characters from hostile data) are replaced first.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from console.engine.audit_run import AuditResult, EdgeCheck
from console.numbers import signed_pct
from console.text import one_line

# XML 1.0 forbids these code points even escaped: a reason quoting a data value may carry one.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


GATE_CASE = "model-version gate"


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def junit_xml(result: AuditResult, suite: str) -> str:
    """The JUnit XML document (UTF-8 declaration included)."""
    root = ET.Element("testsuites")
    gate_failed = result.gate is not None and not result.gate.passed
    counts = {
        "tests": len(result.checks) + (result.gate is not None),
        "failures": sum(c.verdict == "broken" for c in result.checks) + gate_failed,
        "errors": sum(c.verdict == "error" for c in result.checks),
        "skipped": sum(c.verdict == "covered" for c in result.checks),
    }
    root.attrib.update({k: str(v) for k, v in counts.items()})
    node = ET.SubElement(root, "testsuite", {"name": _xml_text(suite)})
    node.attrib.update({k: str(v) for k, v in counts.items()})
    props = ET.SubElement(node, "properties")
    windows = {w.name: f"{w.start.isoformat()}/{w.end.isoformat()}" for w in result.windows}
    for name, value in [("tier", result.tier), ("scope", result.scope), *windows.items()]:
        ET.SubElement(props, "property", {"name": name, "value": _xml_text(value)})
    for check in result.checks:
        node.append(_testcase(check, suite))
    if result.gate is not None:
        gate = ET.SubElement(node, "testcase", {"classname": _xml_text(suite), "name": GATE_CASE})
        if not result.gate.passed:
            message = _xml_text(result.gate.reason())
            ET.SubElement(gate, "failure", {"message": message, "type": "model_version_gate"})
        ET.SubElement(gate, "system-out").text = _xml_text(result.gate.reason())
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def _testcase(check: EdgeCheck, suite: str) -> ET.Element:
    case = ET.Element("testcase", {"classname": _xml_text(suite), "name": _xml_text(check.name)})
    text = _xml_text("\n".join(check.reasons))
    head = _xml_text(one_line(check.reasons[0])) if check.reasons else check.verdict
    if check.verdict == "broken":
        failure = ET.SubElement(case, "failure", {"message": head, "type": check.type})
        failure.text = text
    elif check.verdict == "error":
        error = ET.SubElement(case, "error", {"message": head, "type": "intervention_failed"})
        error.text = text
    elif check.verdict == "covered":
        ET.SubElement(case, "skipped", {"message": head})
    ET.SubElement(case, "system-out").text = f"verdict: {check.verdict}\n{text}"
    return case


def table(result: AuditResult) -> str:
    """The edges with verdicts and the numbers behind them, then freshness and the outcome."""
    windows = ", ".join(
        f"{w.name} {w.start:%Y-%m-%d %H:%M} .. {w.end:%Y-%m-%d %H:%M}Z" for w in result.windows
    )
    lines = [
        f"audit of {one_line(result.playbook)}: {windows}",
        f"triage: {result.metric} {signed_pct(result.relative_change)}, tier {result.tier}",
        f"scope: {one_line(result.scope)}",
    ]
    rows = [("edge", "verdict", "test", "status", "why")] + [
        (c.name, c.verdict, c.type or "-", c.status, one_line(c.reasons[0]) if c.reasons else "")
        for c in result.checks
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        cells = [one_line(v).ljust(w) for v, w in zip(row[:4], widths, strict=True)]
        lines.append("  " + "  ".join(cells) + "  " + row[4])
    if result.findings:
        lines.append(f"freshness: {len(result.findings)} findings" + (
            " (--strict: each one fails the audit)" if result.strict else ""
        ))  # fmt: skip
        lines += [
            f"  {f.kind}: {one_line(f.subject)}: {one_line(f.detail)}" for f in result.findings
        ]
    if result.gate is not None:
        g = result.gate
        lines.append(f"{GATE_CASE}: {'passed' if g.passed else 'FAILED'}: {g.reason()}")
        lines += [
            f"  {one_line(s.column)}={one_line(s.value)}: {s.changed} of {s.total} changed"
            for s in g.segments
            if s.changed
        ]
    broken = ", ".join(c.name for c in result.broken)
    outcome = "FAILED" if result.failed else "passed"
    lines.append(f"audit {outcome}" + (f": {one_line(broken)}" if broken else ""))
    return "\n".join(lines) + "\n"
