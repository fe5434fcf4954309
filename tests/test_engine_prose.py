"""The words of triage and interventions follow from their numbers, on the bundled scenarios."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from console.engine.investigation import Investigation

SAMPLES = Path(__file__).resolve().parents[1] / "sample_data"
SCENARIOS = sorted(p for p in SAMPLES.iterdir() if (p / "playbook.toml").is_file())


def open_scenario(folder: Path, incident: Path) -> Investigation:
    return Investigation.open(folder / "playbook.toml", folder, incident)


def test_the_bundled_scenarios_are_found():
    # The parametrized test below checks nothing when no scenario folder is found.
    assert len(SCENARIOS) >= 7


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_triage_prose_says_the_direction_and_tier_its_numbers_give(scenario, tmp_path):
    with open_scenario(scenario, tmp_path / "inc") as inv:
        result = inv.triage()
        direction = inv.playbook.triage.direction
    change = result.relative_change
    moved = "up" if change > 0 else "down"
    first = result.reasons[0]
    assert f"relative change {change:+.1%}, {moved}: " in first
    if direction in (moved, "both"):
        assert "not the bad direction" not in first
        if result.tier == "none":
            assert "but under minor" in first
        else:
            assert f", {result.tier} (at least" in first
    else:
        assert result.tier == "none"
        assert f"not the bad direction ({direction}), so no tier" in first


def test_a_fall_of_a_metric_that_is_bad_when_up_reads_as_harmless(tmp_path):
    with open_scenario(SAMPLES / "fraud-sunday-night", tmp_path / "inc") as inv:
        result = inv.triage()
    assert result.relative_change < 0
    assert "(direction up" not in result.reasons[0]
    assert (
        f"relative change {result.relative_change:+.1%}, down: not the bad direction (up), "
        "so no tier" in result.reasons[0]
    )


def test_model_version_by_version_is_text_computed_from_its_evidence(tmp_path):
    incident = tmp_path / "inc"
    with open_scenario(SAMPLES / "fraud-peak-errors", incident) as inv:
        result = inv.intervene(("f_log_amount", "fraud_model"))
    text = result.statistics["by_version"]
    assert isinstance(text, str) and "{" not in text
    rows = pq.read_table(incident / result.evidence[0]["path"])
    limit = result.statistics["max_score_delta"]

    def share(window: str, version: str) -> str:
        mask = pc.and_(pc.equal(rows["w"], window), pc.equal(rows["version"], version))
        picked = rows.filter(mask)
        if picked.num_rows == 0:
            return "n/a"
        over = pc.sum(pc.greater(pc.abs(picked["delta"]), limit)).as_py() or 0
        return f"{over / picked.num_rows:.1%}"

    versions = sorted(set(rows["version"].to_pylist()))
    assert len(versions) == 2
    assert text == ", ".join(
        f"{v} {share('baseline', v)} -> {share('incident', v)}" for v in versions
    )
    assert any(
        r.startswith("re-scored rows off by more than 0.05 per model version")
        for r in result.reasons
    )
