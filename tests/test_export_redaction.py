"""A real investigation on a bundled scenario with sensitive columns (fraud: raw_card_token,
raw_billing_country, raw_ip_country): no export format, and not report.md, holds any value of
those columns, with or without --playbook (the trail records the columns when it opens)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from console.engine.investigation import Investigation

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "sample_data" / "fraud-friday-noon"
SENSITIVE = ("raw_card_token", "raw_billing_country", "raw_ip_country")
FORMATS = ("jsonl", "parquet", "csv", "md")


@pytest.fixture(scope="module")
def incident(tmp_path_factory):
    folder = tmp_path_factory.mktemp("redaction") / "inc"
    with Investigation.open(SCENARIO / "playbook.toml", SCENARIO, folder) as inv:
        inv.triage()
        inv.locate()
        inv.intervene(("raw_ip_country", "f_geo_mismatch"))
        inv.intervene(("raw_billing_country", "f_geo_mismatch"))
        inv.mark_edge(("raw_ip_country", "f_geo_mismatch"), "cleared", note="US share is flat")
        inv.intervene(("raw_card_age_days", "f_card_age"))
        inv.mark_edge(("raw_card_age_days", "f_card_age"), "broken")
        blast = inv.counterfactual()
        inv.explain(blast.flipped_ids[0])
        inv.validate()
        inv.note("customers in DE and GB called support")
        inv.report()
    return folder


@pytest.fixture(scope="module")
def values():
    """Every value of the sensitive columns in the scenario's decisions."""
    out = {}
    with duckdb.connect() as con:
        for column in SENSITIVE:
            rows = con.execute(
                f"SELECT DISTINCT {column} FROM read_parquet(?) WHERE {column} IS NOT NULL",
                [str(SCENARIO / "decisions.parquet")],
            ).fetchall()
            out[column] = {str(r[0]) for r in rows}
    return out


def leaks(text: str, values: dict[str, set[str]]) -> list[str]:
    """Sensitive values in text, each as a whole word (a country code inside "CASE" is not)."""
    words = set(re.findall(r"[0-9A-Za-z_]+", text))
    found = []
    for column, seen in values.items():
        for value in seen:
            whole = value in words if re.fullmatch(r"[0-9A-Za-z_]+", value) else None
            if whole is None:
                pattern = rf"(?<![0-9A-Za-z_]){re.escape(value)}(?![0-9A-Za-z_])"
                whole = re.search(pattern, text) is not None
            if whole:
                found.append(f"{column}={value}")
    return sorted(found)


def readable(path: Path) -> str:
    """The export's content as text (a Parquet file's cells and metadata)."""
    if path.suffix != ".parquet":
        return path.read_text(encoding="utf-8")
    table = pq.read_table(path)
    return repr(table.schema.metadata) + "\n" + repr(table.to_pylist())


def test_the_trail_itself_holds_the_values(incident, values):
    # Otherwise the scans below would prove nothing.
    trail = (incident / "trail.jsonl").read_text()
    assert {"raw_ip_country=US", "raw_ip_country=DE"} <= set(leaks(trail, values))


@pytest.mark.parametrize("with_playbook", [False, True])
def test_no_export_holds_a_sensitive_value(incident, values, tmp_path, with_playbook):
    extra = ["--playbook", str(SCENARIO / "playbook.toml")] if with_playbook else []
    for fmt in FORMATS:
        out = tmp_path / f"trail.{fmt}"
        done = subprocess.run(
            [sys.executable, "-m", "console", "trail", "export", str(incident),
             "--format", fmt, "--out", str(out), *extra],
            capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert leaks(readable(out), values) == [], fmt
        assert "raw_ip_country" in done.stdout  # the CLI says what it hashed
        if fmt == "csv":
            assert leaks((tmp_path / "trail.csv.meta.json").read_text(), values) == []
    # The decisions themselves are still there, and the hashes tie equal values together.
    md = (tmp_path / "trail.md").read_text()
    assert "marked raw\\_ip\\_country -\\> f\\_geo\\_mismatch cleared" in md
    assert "customers in salted-sha256" in md


def test_report_holds_no_sensitive_value(incident, values):
    report = (incident / "report.md").read_text()
    assert "raw\\_ip\\_country" in report or "`raw_ip_country`" in report
    assert leaks(report, values) == []
