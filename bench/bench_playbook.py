"""Playbook layer: loading and validating a large playbook, walking back and drawing it.

Real playbooks hold tens of nodes; these use a synthetic pipeline of 2,000 nodes and about
6,000 edges so that anything quadratic in validation or in the walks shows up in the figures.
The synthetic file is written into the benchmark's work folder in setup (once, reused
afterwards); playbook_walk_back loads it in setup too. The reference (--compare) is parsing
the same TOML file with tomllib alone.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import tomli_w
from harness import Bench, Reference

from console.playbook.graph import ancestors_backward, build_graph, paths_from_sources
from console.playbook.loader import load_playbook
from console.playbook.render import render_text

SOURCES = 600
FEATURES = 1_396  # + one model, one decision, one metric, one external


def synthetic_playbook(folder: Path) -> Path:
    """Sources feed features (three each, plus a feedback loop), features feed the model."""
    path = folder / "large.toml"
    if path.exists():
        return path
    node = {"type": "numeric", "owner": "bench", "description": "synthetic"}
    nodes = [{"id": "vendor", "kind": "external", **node}]
    nodes += [{"id": f"s{i}", "kind": "source", "expr": f"raw_{i}", **node} for i in range(SOURCES)]
    nodes += [
        {
            "id": f"f{i}",
            "kind": "feature",
            "expr": f"feat_{i}",
            "reference": f"raw_{i % SOURCES}",
            **node,
        }
        for i in range(FEATURES)
    ]
    nodes += [
        {"id": "score", "kind": "model", "expr": "score", **node},
        {"id": "decision", "kind": "decision", "expr": "decision", **node},
        {"id": "rate", "kind": "metric", "expr": "avg(score)", "series": "rate", **node},
    ]
    edge = {"mechanism": "synthetic", "intervention": {"type": "distribution_shift"}}
    edges = [{"from": "vendor", "to": f"s{i}", "mechanism": "synthetic"} for i in range(SOURCES)]
    edges += [
        {"from": f"s{(i + k) % SOURCES}", "to": f"f{i}", **edge}
        for i in range(FEATURES)
        for k in range(3)
    ]
    edges += [{"from": f"f{i}", "to": "score", **edge} for i in range(FEATURES)]
    edges += [
        {"from": "score", "to": "decision", "mechanism": "threshold"},
        {"from": "decision", "to": "rate", "mechanism": "average"},
        {"from": "rate", "to": "s0", "mechanism": "retries", "feedback": True, "delay": "1d"},
    ]
    data = {
        "model": {"name": "bench", "owner": "bench", "oncall": "#bench"},
        "nodes": nodes,
        "edges": edges,
        "triage": {"metric": "rate"},
        "scorer": {"type": "linear", "weights": {f"f{i}": 0.001 for i in range(FEATURES)}},
    }
    path.write_text(tomli_w.dumps(data))
    return path


def _setup(ctx) -> Path:
    ctx.setup("synthetic playbook")
    return synthetic_playbook(ctx.work)


def bench_load(path: Path) -> int:
    playbook = load_playbook(path)
    return len(playbook.nodes) + len(playbook.edges)


def _setup_loaded(ctx) -> Path:
    path = _setup(ctx)
    ctx.setup("load playbook")
    return load_playbook(path)


def bench_walk_back(playbook) -> int:
    graph = build_graph(playbook)
    walked = ancestors_backward(graph, "rate")
    walked += ancestors_backward(graph, "f0")
    paths = paths_from_sources(graph, "f7")
    text = render_text(graph, "rate")
    return len(walked) + len(paths) + text.count("\n")


def _parse_toml(state) -> None:
    path = state if isinstance(state, Path) else state.path
    tomllib.loads(path.read_text())


TOML = Reference("tomllib_parse", _parse_toml)

BENCHMARKS = [
    Bench("playbook_load", _setup, bench_load, TOML),
    Bench("playbook_walk_back", _setup_loaded, bench_walk_back, TOML),
]
