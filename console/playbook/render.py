"""The causal graph as text: an indented tree walking back from a node, mermaid and dot.

The text tree is ASCII only so that it reads the same over SSH, in tmux and pasted into a
post-mortem. Mermaid and dot draw every node and edge of the graph they are given (pass
graph.subgraph(...) to draw a part), feedback edges included and marked.
"""

from __future__ import annotations

import networkx as nx

from console.playbook.durations import format_duration
from console.playbook.graph import causal_parents, require_node, subgraph
from console.playbook.model import Edge

FORMATS = ("text", "mermaid", "dot")

_MERMAID_SHAPES = {
    "source": ("[(", ")]"),
    "feature": ("[", "]"),
    "model": ("{{", "}}"),
    "decision": ("{", "}"),
    "metric": ("([", "])"),
    "external": (">", "]"),
}
_MERMAID_ARROWS = {"verified": "-->", "unverified": "-.->", "tentative": "-.->"}
_DOT_SHAPES = {
    "source": "cylinder",
    "feature": "box",
    "model": "hexagon",
    "decision": "diamond",
    "metric": "ellipse",
    "external": "box3d",
}
_DOT_STYLES = {"verified": "solid", "unverified": "dashed", "tentative": "dotted"}


def edge_label(edge: Edge) -> str:
    """'verified, shadow_recompute', 'unverified, null_rate + range' (every planned
    intervention, in the order they run) or 'feedback after 1d, unverified'."""
    parts = []
    if edge.feedback:
        parts.append(f"feedback after {format_duration(edge.delay)}" if edge.delay else "feedback")
    parts.append(edge.status)
    if edge.planned:
        parts.append(" + ".join(intervention.type for intervention in edge.planned))
    return ", ".join(parts)


def render_text(graph: nx.DiGraph, node: str, depth: int | None = None) -> str:
    """An indented tree from node back to its root causes, one line per edge walked.

    `<-` is a causal edge (the line shows the cause's id and kind, then the edge's status and
    intervention); `<~` is a feedback edge, shown but not followed. A node met again is
    marked "(see above)" instead of being expanded twice.
    """
    require_node(graph, node)
    lines = [f"{node} ({graph.nodes[node]['node'].kind})"]
    expanded = {node}

    def walk(current: str, level: int) -> None:
        if depth is not None and level > depth:
            return
        indent = "  " * level
        for parent in graph.predecessors(current):
            edge = graph.edges[parent, current]["edge"]
            kind = graph.nodes[parent]["node"].kind
            arrow = "<~" if edge.feedback else "<-"
            again = parent in expanded and causal_parents(graph, parent)
            line = f"{indent}{arrow} {parent} ({kind}) [{edge_label(edge)}]"
            lines.append(line + (" (see above)" if again and not edge.feedback else ""))
            if not edge.feedback and parent not in expanded:
                expanded.add(parent)
                walk(parent, level + 1)

    walk(node, 1)
    return "\n".join(lines) + "\n"


def render_mermaid(graph: nx.DiGraph) -> str:
    """A mermaid flowchart, causes on the left; dashed edges are not yet verified."""
    lines = ["flowchart LR"]
    for node_id, data in graph.nodes(data=True):
        opening, closing = _MERMAID_SHAPES[data["node"].kind]
        lines.append(f'    n_{node_id}{opening}"{node_id}<br/>{data["node"].kind}"{closing}')
    for source, target, data in graph.edges(data=True):
        edge = data["edge"]
        arrow = "==>" if edge.feedback else _MERMAID_ARROWS[edge.status]
        lines.append(f'    n_{source} {arrow}|"{edge_label(edge)}"| n_{target}')
    return "\n".join(lines) + "\n"


def render_dot(graph: nx.DiGraph) -> str:
    """Graphviz dot; dashed = unverified, dotted = tentative, blue = feedback."""
    playbook = graph.graph.get("playbook")
    name = playbook.model.name if playbook else "playbook"
    lines = [f"digraph {_dot_quote(name)} {{", "    rankdir=LR;"]
    for node_id, data in graph.nodes(data=True):
        kind = data["node"].kind
        label = _dot_quote(f"{node_id}\n{kind}")
        lines.append(f"    {_dot_quote(node_id)} [label={label}, shape={_DOT_SHAPES[kind]}];")
    for source, target, data in graph.edges(data=True):
        edge = data["edge"]
        attrs = f"label={_dot_quote(edge_label(edge))}, style={_DOT_STYLES[edge.status]}"
        if edge.feedback:
            attrs += ", color=blue, constraint=false"
        lines.append(f"    {_dot_quote(source)} -> {_dot_quote(target)} [{attrs}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(graph: nx.DiGraph, node: str, fmt: str, depth: int | None = None) -> str:
    """The graph walked back from node in one of FORMATS."""
    if fmt == "text":
        return render_text(graph, node, depth)
    part = subgraph(graph, node, depth)
    return render_mermaid(part) if fmt == "mermaid" else render_dot(part)


def _dot_quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
