"""`playbook init`: a playbook drafted from a bundled scenario's telemetry checks clean and
recovers the source -> feature edges (and the references) its authored playbook declares.

The authored playbooks are the yardstick, compared by telemetry column (node ids may differ);
the draft never reads them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from console.cli import main
from console.playbook.loader import load_playbook

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def _authored(playbook: Path) -> tuple[set[tuple[str, str]], dict[str, str]]:
    """Source -> feature edges and feature references, by decisions column."""
    pb = load_playbook(playbook)
    column = {n.id: n.expr for n in pb.nodes.values()}
    edges = {
        (column[e.source], column[e.target])
        for e in pb.edges
        if pb.nodes[e.source].kind == "source" and pb.nodes[e.target].kind == "feature"
    }
    refs = {column[n.id]: n.reference for n in pb.nodes.values() if n.reference}
    return edges, refs


@pytest.mark.parametrize(
    ("name", "least_edges"),
    # Per family, the share of authored edges the draft must find (quoted in docs/audit.md).
    [("fraud-friday-noon", 1.0), ("credit-after-lunch", 1.0), ("recs-weekday-afternoon", 0.85)],
)
def test_the_draft_checks_clean_and_recovers_the_authored_edges(
    name: str, least_edges: float, tmp_path: Path, capsys
) -> None:
    folder = SAMPLE / name
    out = tmp_path / "draft.toml"
    assert main(["playbook", "init", "--telemetry", str(folder), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert main(["playbook", "check", str(out), "--telemetry", str(folder)]) == 0
    assert "valid;" in capsys.readouterr().out

    want, want_refs = _authored(folder / "playbook.toml")
    got, got_refs = _authored(out)
    assert want, "the authored playbook has source -> feature edges"
    assert len(want & got) / len(want) >= least_edges, sorted(want - got)
    assert all(e for e in got)  # every drafted edge names real columns
    # A reference the draft reports was recomputed on the data; the fraud family's are all
    # single-column transforms and must all be found.
    assert set(got_refs) <= {c for _, c in got}
    assert f"{len(got_refs)} references found" in printed
    if name == "fraud-friday-noon":
        assert set(got_refs) == set(want_refs)
        pb = load_playbook(out)
        assert all(e.status == "tentative" for e in pb.edges)
        assert "raw_card_token" in pb.sensitive


def test_init_never_overwrites_a_playbook(tmp_path: Path, capsys) -> None:
    out = tmp_path / "playbook.toml"
    out.write_text("# mine\n")
    argv = ["playbook", "init", "--telemetry", str(SAMPLE / "fraud-friday-noon"), "--out", str(out)]
    assert main(argv) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_text() == "# mine\n"


def test_a_scaled_sklearn_export_becomes_the_built_in_scorer(tmp_path: Path, capsys) -> None:
    """A StandardScaler + LogisticRegression export (as docs/audit.md shows) whose folded
    weights are the authored fraud model's numeric weights: the import must give them back."""
    folder = SAMPLE / "fraud-friday-noon"
    authored = load_playbook(folder / "playbook.toml").scorer
    numeric = {k: v for k, v in authored.weights.items() if "=" not in k}
    rng = np.random.default_rng(3)
    mean = rng.normal(size=len(numeric))
    scale = rng.uniform(0.5, 3.0, size=len(numeric))
    weights = np.array(list(numeric.values()))
    export = {
        "type": "logistic",
        "feature_names": ["feat_" + k[2:] for k in numeric],
        "coef": (weights * scale).tolist(),
        "intercept": authored.intercept + float((weights * mean).sum()),
        "scaler": {"mean": mean.tolist(), "scale": scale.tolist()},
    }
    model = tmp_path / "model.json"
    model.write_text(json.dumps(export))
    out = tmp_path / "draft.toml"
    argv = ["playbook", "init", "--telemetry", str(folder), "--out", str(out)]
    assert main([*argv, "--sklearn", str(model)]) == 0
    assert main(["playbook", "check", str(out), "--telemetry", str(folder)]) == 0
    scorer = load_playbook(out).scorer
    assert scorer.type == "logistic"
    assert scorer.weights == pytest.approx(numeric, abs=1e-5)
    assert scorer.intercept == pytest.approx(authored.intercept, abs=1e-5)

    pickle = tmp_path / "model.pkl"
    pickle.write_bytes(b"\x80\x04\x95 not json")
    capsys.readouterr()
    assert main([*argv[:-1], str(tmp_path / "other.toml"), "--sklearn", str(pickle)]) == 2
    assert "not a readable JSON export" in capsys.readouterr().err


def test_the_ranking_template_pages_on_the_outcome_rate_falling(tmp_path: Path) -> None:
    folder = SAMPLE / "recs-weekday-afternoon"
    out = tmp_path / "draft.toml"
    argv = ["playbook", "init", "--telemetry", str(folder), "--out", str(out)]
    assert main([*argv, "--template", "ranking"]) == 0
    assert main(["playbook", "check", str(out), "--telemetry", str(folder)]) == 0
    pb = load_playbook(out)
    metric = pb.nodes[pb.triage.metric]
    assert pb.triage.direction == "down"
    assert "label_clicked" in metric.expr  # the click rate, recomputed from the decisions
    assert "recomputed within 0.0% per hour" in metric.description
    assert pb.windows.incident.total_seconds() == 4 * 3600
