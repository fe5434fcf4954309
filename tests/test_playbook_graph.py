"""Graph operations the engine relies on, on the docs example playbook."""

import re
from pathlib import Path

import pytest

from console.errors import ConsoleError
from console.playbook.graph import (
    ancestors_backward,
    build_graph,
    paths_from_sources,
    rank_parents,
    subgraph,
)
from console.playbook.loader import load_playbook
from console.playbook.model import Edge, Node
from console.playbook.render import render, render_dot, render_mermaid, render_text

DOCS = Path(__file__).resolve().parents[1] / "docs" / "playbooks.md"


@pytest.fixture
def playbook(tmp_path):
    path = tmp_path / "fraud.toml"
    path.write_text(re.search(r"```toml\n(.*?)```", DOCS.read_text(), re.S).group(1))
    return load_playbook(path)


@pytest.fixture
def graph(playbook):
    return build_graph(playbook)


def test_graph_holds_the_typed_nodes_and_edges(playbook, graph):
    assert list(graph) == list(playbook.nodes)
    assert isinstance(graph.nodes["fraud_score"]["node"], Node)
    edge = graph.edges["decline_rate", "raw_amount"]["edge"]
    assert isinstance(edge, Edge) and edge.feedback  # feedback edges are kept
    assert graph.number_of_edges() == len(playbook.edges)
    assert graph.graph["playbook"] is playbook


def test_ancestors_nearest_first_without_following_feedback(playbook, graph):
    expected = [
        "decision",
        "fraud_score",
        "f_log_amount",
        "f_merchant_category",
        "f_country_mismatch",
        "f_txn_count_1h",
        "raw_amount",
        "raw_merchant_category",
        "raw_ip_country",
        "raw_card_country",
        "geoip_vendor",
    ]
    assert ancestors_backward(playbook, "decline_rate") == expected
    assert ancestors_backward(graph, "decline_rate") == expected
    # The feedback edge decline_rate -> raw_amount is not walked back.
    assert ancestors_backward(graph, "raw_amount") == []
    assert ancestors_backward(graph, "f_country_mismatch") == [
        "raw_ip_country",
        "raw_card_country",
        "geoip_vendor",
    ]


def test_unknown_node_is_a_console_error_with_a_suggestion(graph):
    with pytest.raises(ConsoleError, match='did you mean "fraud_score"'):
        ancestors_backward(graph, "fraud_scor")


def test_paths_from_sources(graph):
    paths = paths_from_sources(graph, "fraud_score")
    assert paths[0] == ["f_txn_count_1h", "fraud_score"]  # shortest first
    assert ["geoip_vendor", "raw_ip_country", "f_country_mismatch", "fraud_score"] in paths
    assert len(paths) == 5
    assert all(path[-1] == "fraud_score" for path in paths)
    assert paths_from_sources(graph, "raw_amount") == [["raw_amount"]]


def test_rank_parents_best_first_ties_in_playbook_order(graph):
    def score(parent, edge):
        if parent == "f_txn_count_1h":
            return 3.0, ["deploy of the streaming aggregator 2h before the alert"]
        return (1.0 if edge.status != "verified" else 0.5), [f"edge is {edge.status}"]

    ranked = rank_parents(graph, "fraud_score", score)
    assert [r.node for r in ranked] == [
        "f_txn_count_1h",
        "f_merchant_category",
        "f_country_mismatch",
        "f_log_amount",
    ]
    top = ranked[0]
    node, edge, value, reasons = top
    assert (edge.source, edge.target, value) == ("f_txn_count_1h", "fraud_score", 3.0)
    assert reasons == ["deploy of the streaming aggregator 2h before the alert"]


def test_rank_parents_skips_feedback_edges(graph):
    assert rank_parents(graph, "raw_amount", lambda p, e: (1.0, [])) == []


def test_subgraph_depth(graph):
    assert set(subgraph(graph, "fraud_score", 1)) == {
        "fraud_score",
        "f_log_amount",
        "f_merchant_category",
        "f_country_mismatch",
        "f_txn_count_1h",
    }
    whole = subgraph(graph, "decline_rate")
    assert set(whole) == set(graph)
    assert whole.has_edge("decline_rate", "raw_amount")  # feedback kept for display


def test_text_tree_walks_back_with_kind_and_edge_status(graph):
    text = render_text(graph, "decline_rate")
    lines = text.splitlines()
    assert lines[0] == "decline_rate (metric)"
    assert lines[1] == "  <- decision (decision) [verified]"
    assert "      <- f_txn_count_1h (feature) [tentative, distribution_shift]" in lines
    assert "          <~ decline_rate (metric) [feedback after 1d, unverified]" in lines
    assert text.isascii()
    assert render_text(graph, "decline_rate", depth=1).splitlines()[1:] == [lines[1]]


def test_mermaid_and_dot_draw_every_node_and_edge(graph):
    mermaid = render_mermaid(graph)
    assert mermaid.startswith("flowchart LR\n")
    for node in graph:
        assert f"n_{node}" in mermaid
        assert f'"{node}" [label=' in render_dot(graph)
    assert 'n_raw_amount -->|"verified, shadow_recompute"| n_f_log_amount' in mermaid
    assert 'n_decline_rate ==>|"feedback after 1d, unverified"| n_raw_amount' in mermaid
    dot = render_dot(graph)
    assert dot.startswith('digraph "fraud-detector" {')
    assert dot.rstrip().endswith("}")
    assert dot.count(" -> ") == graph.number_of_edges()


def test_render_dispatch_draws_only_the_walked_part(graph):
    drawn = render(graph, "f_country_mismatch", "mermaid")
    assert "n_geoip_vendor" in drawn and "n_fraud_score" not in drawn
