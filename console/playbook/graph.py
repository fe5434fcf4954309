"""The playbook's causal graph as a networkx DiGraph, and the walks the engine makes on it.

Node attribute "node" holds the Node, edge attribute "edge" the Edge. Nodes and edges are
inserted in the order the playbook declares them, so every walk below is deterministic.
Feedback edges stay in the graph (they are drawn) but walking back from an effect to its
causes never follows them: a feedback loop would otherwise make every node an ancestor of
every other.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import NamedTuple

import networkx as nx

from console.errors import ConsoleError
from console.playbook.model import Edge, Playbook
from console.playbook.values import quote, suggestion


class RankedParent(NamedTuple):
    node: str
    edge: Edge
    score: float
    reasons: list[str]


def build_graph(playbook: Playbook) -> nx.DiGraph:
    """The DiGraph of the playbook; graph attribute "playbook" keeps the playbook."""
    graph = nx.DiGraph(playbook=playbook)
    for node in playbook.nodes.values():
        graph.add_node(node.id, node=node)
    for edge in playbook.edges:
        graph.add_edge(edge.source, edge.target, edge=edge)
    return graph


def as_graph(playbook_or_graph: Playbook | nx.DiGraph) -> nx.DiGraph:
    if isinstance(playbook_or_graph, nx.DiGraph):
        return playbook_or_graph
    return build_graph(playbook_or_graph)


def causal_digraph(nodes: Iterable[str], edges: Iterable[Edge]) -> nx.DiGraph:
    """The bare cause -> effect graph: every node (declaration order), every non-feedback
    edge, no attributes. For reachability: a feedback loop would make everything reach
    everything."""
    causal = nx.DiGraph()
    causal.add_nodes_from(nodes)
    causal.add_edges_from((e.source, e.target) for e in edges if not e.feedback)
    return causal


def causal_graph(playbook: Playbook) -> nx.DiGraph:
    """causal_digraph of a loaded playbook."""
    return causal_digraph(playbook.nodes, playbook.edges)


def feeds(causal: nx.DiGraph, source: str, target: str) -> bool:
    """Whether source is target or causes it over non-feedback edges (causal: causal_graph)."""
    return source == target or nx.has_path(causal, source, target)


def fed_by(causal: nx.DiGraph, source: str, inputs: Iterable[str]) -> list[str]:
    """The model inputs source is or feeds, in the order given: which nodes it reaches."""
    return [i for i in inputs if feeds(causal, source, i)]


def causes(causal: nx.DiGraph, node: str) -> set[str]:
    """node and everything upstream of it over non-feedback edges."""
    return {node, *nx.ancestors(causal, node)}


def require_node(graph: nx.DiGraph, node: str) -> None:
    """ConsoleError naming the node (and the nearest id) when the graph lacks it."""
    if node not in graph:
        raise ConsoleError(f"no node {quote(node)} in the playbook{suggestion(node, graph)}")


def causal_parents(graph: nx.DiGraph, node: str) -> list[str]:
    """Direct causes of node over non-feedback edges, in declaration order."""
    return [p for p in graph.predecessors(node) if not graph.edges[p, node]["edge"].feedback]


def ancestors_backward(playbook_or_graph: Playbook | nx.DiGraph, node: str) -> list[str]:
    """Every cause of node, nearest first (BFS over reversed non-feedback edges).

    Nodes at the same distance keep the order in which the walk met them, which follows the
    playbook's edge order. The node itself is not included.
    """
    graph = as_graph(playbook_or_graph)
    require_node(graph, node)
    seen = {node}
    order: list[str] = []
    queue = deque([node])
    while queue:
        current = queue.popleft()
        for parent in causal_parents(graph, current):
            if parent not in seen:
                seen.add(parent)
                order.append(parent)
                queue.append(parent)
    return order


def paths_from_sources(graph: nx.DiGraph, node: str) -> list[list[str]]:
    """Every causal path ending at node, each from a root cause (no causal parents) to node.

    Shorter paths first, then in walk order. A node without causes gives [[node]].
    """
    require_node(graph, node)
    paths: list[list[str]] = []

    def walk(path: list[str]) -> None:
        parents = causal_parents(graph, path[0])
        if not parents:
            paths.append(path)
        for parent in parents:
            walk([parent, *path])

    walk([node])
    return sorted(paths, key=len)


def rank_parents(
    graph: nx.DiGraph,
    node: str,
    score: Callable[[str, Edge], tuple[float, list[str]]],
) -> list[RankedParent]:
    """The direct causes of node, scored by the caller, best (highest score) first.

    Ties keep the playbook's edge order. score(parent, edge) returns the score and the
    reasons (in words) behind it.
    """
    require_node(graph, node)
    ranked = []
    for parent in causal_parents(graph, node):
        edge = graph.edges[parent, node]["edge"]
        value, reasons = score(parent, edge)
        ranked.append(RankedParent(parent, edge, float(value), list(reasons)))
    return sorted(ranked, key=lambda r: -r.score)


def subgraph(graph: nx.DiGraph, node: str, depth: int | None = None) -> nx.DiGraph:
    """node and its causes up to depth steps back (all of them when depth is None), with
    every edge among them, feedback edges included; for display."""
    require_node(graph, node)
    keep = {node}
    frontier = [node]
    steps = 0
    while frontier and (depth is None or steps < depth):
        parents = (p for n in frontier for p in causal_parents(graph, n) if p not in keep)
        frontier = list(dict.fromkeys(parents))
        keep.update(frontier)
        steps += 1
    return graph.subgraph([n for n in graph if n in keep]).copy()
