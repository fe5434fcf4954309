"""The report's figures, drawn with matplotlib's Agg backend (static files, no display, no
browser) into <incident>/figures/ as SVG (inlined by report.html) and PNG (pastes into Google
Docs or Confluence):

    metric.svg/.png        the metric's reported series over the baseline, incident and post-fix
                           windows (shaded), with the alert marked
    distribution.svg/.png  the root-cause intervention's evidence, baseline vs incident: per
                           bucket the missing share when the evidence counts missing rows, else
                           each bucket's or category's share of rows (the MAX_BUCKETS largest)
    blast.svg/.png         the blast radius by segment: the share of each segment's decisions
                           the correction flips

Each is drawn only from data the report names (the metrics view, the intervention's evidence
file, the counterfactual's segments); a figure without its data is skipped and the report says
so. Labels are data: matplotlib's mathtext is turned off so `$...$` in a label is drawn as is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from console.files import atomic_write
from console.telemetry.windows import as_utc
from console.text import one_line

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure

    from console.engine.investigation import Investigation

FIGURES_DIR = "figures"
MAX_BUCKETS = 40  # bars per window in the distribution figure
# A value from data as report.md shows it: (value, the edge it is about, if any) -> text,
# hashed when it derives from a sensitive column.
Shown = Callable[[Any, tuple[str, str] | None], str]


@dataclass(frozen=True)
class Figure:
    name: str  # file stem in figures/
    title: str
    svg: str  # the SVG document, for inlining


def draw_figures(inv: Investigation, shown: Shown) -> tuple[list[Figure], list[str]]:
    """The figures drawn (files written) and, for each one skipped, why."""
    folder = inv.incident_dir / FIGURES_DIR
    drawn: list[Figure] = []
    skipped: list[str] = []
    labelled = as_label(shown)
    for name, title, draw in (
        ("metric", f"{inv.ctx.metric} over the windows", _metric),
        ("distribution", "root cause: baseline vs incident", _distribution),
        ("blast", "blast radius by segment", _blast),
    ):
        fig = draw(inv, labelled)
        if isinstance(fig, str):
            skipped.append(f"{title}: {fig}")
            continue
        folder.mkdir(exist_ok=True)
        drawn.append(Figure(name, title, _save(fig, folder / name)))
    return drawn, skipped


def as_label(shown: Shown) -> Shown:
    """`shown` for a figure's labels: a control character drawn as its escape, as report.md
    shows it, never as a glyph the font lacks (an empty box)."""

    def labelled(value: Any, edge: tuple[str, str] | None) -> str:
        return one_line(shown(value, edge))

    return labelled


def warm_up() -> None:
    """Import matplotlib on a thread of its own, so the report's figures do not wait for it:
    a run that will write a report calls this first, and the import (0.35 to 0.5 s) overlaps
    the queries, which run without the GIL. A later import waits on Python's import lock, so
    the figures never see a half-imported module."""
    threading.Thread(target=_import_matplotlib, name="matplotlib-import", daemon=True).start()


def _import_matplotlib() -> None:
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401


def _new(title: str) -> tuple[MplFigure, Any]:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["text.parse_math"] = False  # data in labels is text, not mathtext
    matplotlib.rcParams["svg.fonttype"] = "path"  # glyphs as paths: no font to fetch
    matplotlib.rcParams["svg.hashsalt"] = "incident-console"  # stable ids: same data, same file
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(8, 3.6), dpi=100)
    ax = fig.add_subplot()
    ax.set_title(title)
    return fig, ax


def _save(fig: MplFigure, stem: Path) -> str:
    import io

    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    # The tight box once for both files: bbox_inches="tight" lays the figure out again in
    # each savefig (a third of the time); padded as savefig pads it.
    renderer = FigureCanvasAgg(fig).get_renderer()  # type: ignore[no-untyped-call]  # unannotated upstream
    box = fig.get_tightbbox(renderer).padded(matplotlib.rcParams["savefig.pad_inches"])
    svg = io.StringIO()
    fig.savefig(svg, format="svg", bbox_inches=box, metadata={"Date": None})
    png = io.BytesIO()
    fig.savefig(png, format="png", bbox_inches=box, metadata={"Software": None})
    atomic_write(stem.with_suffix(".svg"), svg.getvalue())
    atomic_write(stem.with_suffix(".png"), png.getvalue())
    return svg.getvalue()


def _metric(inv: Investigation, shown: Shown) -> MplFigure | str:
    ctx = inv.ctx
    windows = [ctx.baseline, ctx.incident] + ([inv.validation.window] if inv.validation else [])
    start, end = min(w.start for w in windows), max(w.end for w in windows)
    series = ctx.playbook.nodes[ctx.metric].series
    rows = ctx.store.query(
        "SELECT ts, value FROM metrics WHERE metric = $series AND ts >= $start AND ts < $end "
        "ORDER BY ts",
        {"series": series, "start": start, "end": end},
    ).to_pylist()
    if not rows:
        return f"no rows of series {series!r} between the baseline and the last window"
    fig, ax = _new(f"{ctx.metric} (series {series})")
    # In UTC, as every time the report states: matplotlib labels a time axis in its data's zone.
    times = [as_utc(r["ts"]) for r in rows]
    ax.plot(times, [r["value"] for r in rows], linewidth=0.8, color="#1f4e79")
    for w, color in zip(windows, ("#2e7d32", "#c62828", "#1565c0"), strict=False):
        ax.axvspan(w.start, w.end, color=color, alpha=0.12, label=f"{w.name} window")
    ax.axvline(ctx.alert_at, color="#c62828", linestyle="--", linewidth=1, label="alert")
    ax.set_xlabel("time (UTC)")
    ax.set_ylabel(ctx.metric)
    ax.legend(loc="best", fontsize=8)
    fig.autofmt_xdate()
    return fig


def _distribution(inv: Investigation, shown: Shown) -> MplFigure | str:
    found = inv.root_cause()
    if found is None:
        return "no edge was marked broken or external"
    r = inv.interventions.get(found[0])
    paths = [e["path"] for e in r.evidence] if r is not None else []
    if not paths:
        return "the root-cause edge has no intervention evidence"
    table = pq.read_table(inv.incident_dir / paths[0])
    names = set(table.schema.names)
    key = next((k for k in ("bucket", "value") if k in names), None)
    if key is None or not {"w", "n"} <= names:
        return f"its evidence ({paths[0]}) has no per-bucket counts"
    rows = [{**x, "bucket": x[key]} for x in table.to_pylist()]
    missing = "missing" in names
    fig, ax = _new(f"{found[0][0]} -> {found[0][1]}: {r.type if r else ''}")
    buckets = _largest({str(x["bucket"]): 0 for x in rows}, rows)
    sides = sorted({str(x["w"]) for x in rows})
    width = 0.8 / max(1, len(sides))
    for i, side in enumerate(sides):
        mine = {str(x["bucket"]): x for x in rows if str(x["w"]) == side}
        total = sum(x["n"] or 0 for x in mine.values()) or 1
        values = [
            (
                (mine[b].get("missing") or 0) / (mine[b]["n"] or 1)
                if missing
                else mine[b]["n"] / total
            )
            if b in mine
            else 0.0
            for b in buckets
        ]
        ax.bar([k + i * width for k in range(len(buckets))], values, width, label=side)
    ax.set_xticks([k + width * (len(sides) - 1) / 2 for k in range(len(buckets))])
    timed = pa.types.is_timestamp(table.schema.field(key).type)
    labels = _time_labels(rows, buckets) if timed else [shown(b, found[0]) for b in buckets]
    ax.set_xticklabels(labels, rotation=60, fontsize=6, ha="right")
    if timed:
        ax.set_xlabel("bucket start (UTC)")
    ax.set_ylabel("missing share" if missing else "share of rows")
    ax.legend(fontsize=8)
    return fig


def _time_labels(rows: list[dict[str, Any]], buckets: list[str]) -> list[str]:
    """Time buckets as month-day hour:minute in UTC (seconds when a bucket starts off the
    minute): forty full timestamps with their year and offset, rotated, were a grey smear
    (and half the figure's drawing time)."""
    starts = {str(x["bucket"]): as_utc(x["bucket"]) for x in rows if x["bucket"] is not None}
    shape = "%m-%d %H:%M:%S" if any(t.second for t in starts.values()) else "%m-%d %H:%M"
    return [starts[b].strftime(shape) if b in starts else b for b in buckets]


def _largest(buckets: dict[str, int], rows: list[dict[str, Any]]) -> list[str]:
    """The buckets in their order, or, past MAX_BUCKETS (many categories), the ones holding the
    most rows: a bar chart of hundreds of categories shows nothing."""
    for x in rows:
        buckets[str(x["bucket"])] += x["n"] or 0
    names = sorted(buckets)
    if len(names) <= MAX_BUCKETS:
        return names
    return sorted(sorted(names, key=lambda b: -buckets[b])[:MAX_BUCKETS])


def _blast(inv: Investigation, shown: Shown) -> MplFigure | str:
    b = inv.blast_radius
    if b is None or not b.segments:
        return "no counterfactual with segments was run"
    fig, ax = _new(f"decisions flipped by the correction ({b.flipped} of {b.total})")
    labels = [f"{one_line(s.column)} = {shown(s.value, None)}" for s in b.segments]
    shares = [s.flipped / s.total if s.total else 0.0 for s in b.segments]
    ax.barh(labels[::-1], shares[::-1], color="#c62828")
    ax.set_xlabel("share of the segment's decisions flipped")
    return fig
