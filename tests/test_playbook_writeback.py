"""Write-back: the proposal is a new, valid file with a diff; the authored file changes only
on accept, which keeps a backup."""

import re
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from console.errors import ConsoleError
from console.playbook.loader import load_playbook
from console.playbook.model import Edge, Intervention, Node
from console.playbook.writeback import GraphUpdate, Proof, accept, propose

DOCS = Path(__file__).resolve().parents[1] / "docs" / "playbooks.md"
AT = datetime(2026, 11, 22, 21, 4, tzinfo=UTC)


@pytest.fixture
def authored(tmp_path):
    folder = tmp_path / "playbooks"
    folder.mkdir()
    path = folder / "fraud.toml"
    path.write_text(re.search(r"```toml\n(.*?)```", DOCS.read_text(), re.S).group(1))
    return path


@pytest.fixture
def incident(tmp_path):
    folder = tmp_path / "incident"
    folder.mkdir()
    return folder


def lesson() -> GraphUpdate:
    """What a fraud incident taught: the device-risk vendor feeds the velocity feature."""
    return GraphUpdate(
        add_nodes=(
            Node(
                id="device_vendor",
                kind="external",
                type="numeric",
                owner="vendor: DeviceTrust",
                description="Device fingerprint risk service.",
            ),
        ),
        add_edges=(
            Edge(
                source="device_vendor",
                target="f_txn_count_1h",
                mechanism="The aggregator counts per device id, which the vendor supplies.",
                status="tentative",
                intervention=Intervention(
                    "freshness",
                    {"age_expr": "epoch(ts) - epoch(device_ts)", "max_lag": timedelta(minutes=30)},
                ),
            ),
        ),
        verify=(
            Proof(
                source="raw_merchant_category",
                target="f_merchant_category",
                incident="2026-11-22-fraud-decline",
                intervention="shadow_recompute",
                at=AT,
                result="mismatch rate 0.31 > 0.01",
                evidence=("evidence/0007.json",),
            ),
        ),
    )


def test_proposal_loads_and_shows_the_change_while_the_authored_file_is_untouched(
    authored, incident
):
    before = authored.read_bytes()
    proposal = propose(authored, lesson(), incident)

    assert authored.read_bytes() == before
    assert proposal.proposed == incident / "playbook.proposed.toml"
    assert proposal.diff == incident / "playbook.proposed.diff"

    proposed = load_playbook(proposal.proposed)
    assert proposed.nodes["device_vendor"].kind == "external"
    new_edge = proposed.edge("device_vendor", "f_txn_count_1h")
    assert new_edge.status == "tentative"
    assert new_edge.intervention.params["max_lag"] == timedelta(minutes=30)
    assert proposed.edge("raw_merchant_category", "f_merchant_category").status == "verified"
    # Everything else survives the round trip through tomli-w.
    original = load_playbook(authored)
    assert {k: v for k, v in proposed.nodes.items() if k != "device_vendor"} == original.nodes
    assert proposed.scorer == original.scorer and proposed.triage == original.triage
    assert proposed.windows == original.windows

    diff = proposal.diff.read_text()
    assert diff.startswith(f"# proposed update to {authored}")
    assert "#   + node device_vendor (external)" in diff
    assert f"--- {authored}" in diff and f"+++ {proposal.proposed}" in diff
    assert '+id = "device_vendor"' in diff
    assert 'incident = "2026-11-22-fraud-decline"' in diff
    assert proposal.changes == lesson().describe()


def test_the_proof_is_kept_in_the_edge_as_proven_by(authored, incident):
    proposal = propose(authored, lesson(), incident)
    data = tomllib.loads(proposal.proposed.read_text())
    edge = next(e for e in data["edges"] if e["to"] == "f_merchant_category")
    assert edge["status"] == "verified"
    assert edge["proven_by"] == [
        {
            "incident": "2026-11-22-fraud-decline",
            "intervention": "shadow_recompute",
            "at": AT,
            "result": "mismatch rate 0.31 > 0.01",
            "evidence": ["evidence/0007.json"],
        }
    ]


def test_accept_replaces_the_authored_file_and_keeps_a_backup(authored, incident):
    before = authored.read_bytes()
    proposal = propose(authored, lesson(), incident)
    done = accept(
        proposal.proposed,
        authored,
        authored_sha256=proposal.authored_sha256,
        now=datetime(2026, 11, 22, 23, 0, 5, tzinfo=UTC),
    )
    assert done.backup == authored.with_name("fraud.toml.20261122T230005Z.bak")
    assert done.backup.read_bytes() == before
    assert authored.read_bytes() == proposal.proposed.read_bytes()
    assert "device_vendor" in load_playbook(authored).nodes
    # A backup never shadows a playbook: playbooks/*.toml still finds one file.
    assert list(authored.parent.glob("*.toml")) == [authored]
    # No temporary files are left behind.
    assert sorted(p.name for p in authored.parent.iterdir()) == [
        "fraud.toml",
        "fraud.toml.20261122T230005Z.bak",
    ]


def test_accept_twice_in_one_second_keeps_both_backups(authored, incident):
    now = datetime(2026, 11, 22, 23, 0, 5, tzinfo=UTC)
    proposal = propose(authored, lesson(), incident)
    first = accept(proposal.proposed, authored, now=now)
    second = accept(proposal.proposed, authored, now=now)
    assert first.backup != second.backup and second.backup.exists()


def test_accept_refuses_when_the_authored_file_changed_since(authored, incident):
    proposal = propose(authored, lesson(), incident)
    authored.write_text(authored.read_text() + "\n# edited by hand\n")
    edited = authored.read_bytes()
    with pytest.raises(ConsoleError, match="changed since the proposal"):
        accept(proposal.proposed, authored, authored_sha256=proposal.authored_sha256)
    assert authored.read_bytes() == edited


@pytest.mark.parametrize(
    ("update", "message"),
    [
        (
            GraphUpdate(add_edges=(Edge("nowhere", "fraud_score", "m"),)),
            'edges[12].from = "nowhere": no such node',
        ),
        (
            GraphUpdate(add_edges=(Edge("decision", "f_log_amount", "loop"),)),
            "is not marked as feedback",
        ),
        (
            GraphUpdate(verify=(Proof("decision", "raw_amount", "i", "null_rate", AT, "r"),)),
            "no such edge",
        ),
        (
            GraphUpdate(add_nodes=(Node("decision", "decision", "categorical", "o", "d"),)),
            "already has it",
        ),
        (GraphUpdate(), "nothing to propose"),
    ],
)
def test_an_update_that_breaks_the_playbook_writes_nothing(authored, incident, update, message):
    with pytest.raises(ConsoleError) as caught:
        propose(authored, update, incident)
    assert message in str(caught.value)
    assert list(incident.iterdir()) == []


def test_missing_incident_folder_is_a_console_error(authored, tmp_path):
    with pytest.raises(ConsoleError, match="incident folder does not exist"):
        propose(authored, lesson(), tmp_path / "nope")


def test_the_diff_shows_the_lesson_alone_not_the_dropped_comments(authored, incident):
    verify_only = GraphUpdate(verify=lesson().verify)
    proposal = propose(authored, verify_only, incident)
    changed = [
        line
        for line in proposal.diff.read_text().splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert any('status = "verified"' in line for line in changed)
    assert any("mismatch rate 0.31 > 0.01" in line for line in changed)
    assert not any(line[1:].lstrip().startswith("#") for line in changed)
    assert len(changed) < 20


def test_the_proposal_keeps_expressions_and_interventions_as_authored(authored, incident):
    # Fails if the proposal were rebuilt from the loaded playbook, whose node references hold
    # the expanded SQL "(ln(1 + raw_amount))" instead of "{log_amount}".
    authored_data = tomllib.loads(authored.read_text())
    proposal = propose(authored, lesson(), incident)
    data = tomllib.loads(proposal.proposed.read_text())
    assert data["expressions"] == authored_data["expressions"]
    assert next(n for n in data["nodes"] if n["id"] == "f_log_amount")["reference"] == (
        "{log_amount}"
    )
    mismatch = next(e for e in data["edges"] if e["from"] == "f_country_mismatch")
    assert mismatch["interventions"] == [
        {"type": "null_rate", "max_increase": 0.01},
        {"type": "default_rate", "max_increase": 0.05},
    ]
    changed = [
        line
        for line in proposal.diff.read_text().splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert not any("log_amount" in line or "cross_border" in line for line in changed)


def test_a_proof_by_a_later_planned_intervention_is_kept(authored, incident):
    proof = Proof(
        "f_country_mismatch", "fraud_score", "2026-11-30-ip", "default_rate", AT, "0.31 > 0.05"
    )
    proposal = propose(authored, GraphUpdate(verify=(proof,)), incident)
    proven = proposal.playbook.edge("f_country_mismatch", "fraud_score")
    assert proven.status == "verified"
    assert [i.type for i in proven.planned] == ["null_rate", "default_rate"]
    data = tomllib.loads(proposal.proposed.read_text())
    mismatch = next(e for e in data["edges"] if e["from"] == "f_country_mismatch")
    assert mismatch["proven_by"][0]["intervention"] == "default_rate"


def test_new_nodes_and_edges_keep_plausible_values_and_every_planned_intervention(
    authored, incident
):
    # Fails on the code before Node.valid_min / Edge.also: they were dropped from new tables.
    amount = Node(
        "raw_fee",
        "source",
        "numeric",
        "payments",
        "Fee charged by the acquirer.",
        expr="raw_fee",
        valid_min=0.0,
        valid_max=500.0,
        units="EUR",
        sentinels=(-1.0,),
    )
    planned = Edge(
        "raw_fee",
        "fraud_score",
        "High fees raise the score.",
        status="tentative",
        intervention=Intervention("range", {"max_implausible": 0.02}),
        also=(Intervention("default_rate", {"max_increase": 0.02}),),
    )
    proposal = propose(authored, GraphUpdate(add_nodes=(amount,), add_edges=(planned,)), incident)
    assert proposal.playbook.nodes["raw_fee"] == amount
    assert proposal.playbook.edge("raw_fee", "fraud_score") == planned
