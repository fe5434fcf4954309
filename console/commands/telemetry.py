"""`incident-console telemetry ...`: check a telemetry store against the contract."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from console.commands import add_command, add_group

if TYPE_CHECKING:
    from console.engine.window_drift import WindowDrift


def register(sub) -> None:
    group = add_group(sub, "telemetry", "Check telemetry stores (docs/telemetry.md).")
    check = add_command(
        group,
        "check",
        "Check a telemetry folder or .duckdb file, and the sources the playbook declares "
        "([telemetry.<table>] source = ...), against the contract and the playbook: tables, "
        "columns (and their mapping), types, timestamps, duplicate prediction ids, and every "
        "playbook expression (bound, then run on a sample under [limits] check_seconds). Exit "
        "0 with a summary per table, or 2 listing every problem.",
        "incident-console telemetry check --playbook playbooks/fraud.toml --telemetry data/",
        run_check,
    )
    _store_arguments(check)

    drift = add_command(
        group,
        "drift",
        "How far every source and feature of the playbook moved between the baseline (its "
        "rows at the incident's hours of the day) and the incident window, from one pass over "
        "the telemetry: exact KS and Wasserstein-1 for numeric nodes, chi-squared, "
        "Jensen-Shannon distance and PSI for categorical ones, most moved first. Read-only: "
        "no incident folder, no trail.",
        "incident-console telemetry drift --playbook playbooks/fraud.toml --telemetry data/ "
        "--alert-at 2026-11-13T16:05:00Z",
        run_drift,
    )
    _store_arguments(drift)
    drift.add_argument(
        "--alert-at",
        default=None,
        help="the alert time (ISO 8601, UTC without an offset); default: scenario.toml's, "
        "else the end of the newest bucket of the triage metric",
    )
    drift.add_argument(
        "--json", type=Path, default=None, help="also write the figures to this JSON file"
    )


def _store_arguments(parser: argparse.ArgumentParser) -> None:
    """--playbook and --telemetry, as every telemetry command reads them."""
    parser.add_argument("--playbook", type=Path, required=True, help="the playbook TOML")
    parser.add_argument(
        "--telemetry",
        type=Path,
        default=None,
        help="the folder of Parquet files (or a .duckdb file); optional when the playbook "
        "declares a source for every table",
    )


def run_drift(args: argparse.Namespace) -> int:
    import json
    import os

    from console.engine.window_drift import window_drift
    from console.errors import ConsoleError
    from console.files import atomic_write
    from console.telemetry.windows import parse_utc

    alert_at = parse_utc(args.alert_at) if args.alert_at else None
    if args.json is not None:
        folder = args.json.resolve().parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise ConsoleError(f"--json {args.json}: folder {args.json.parent} is not writable")
    found = window_drift(args.playbook, args.telemetry, alert_at)
    if args.json is not None:
        text = json.dumps(found.to_dict(), indent=2, sort_keys=True, allow_nan=False)
        atomic_write(args.json.resolve(), text + "\n")
    print(drift_table(found))
    return 0


def drift_table(found: WindowDrift) -> str:
    """The terminal's view of a WindowDrift: one line per node, most moved first."""
    from console.numbers import num, share
    from console.telemetry.windows import format_utc
    from console.text import one_line

    lines = [
        f"{w.name:<9} {format_utc(w.start)} to {format_utc(w.end)}"
        for w in (found.baseline, found.incident)
    ]
    if found.baseline_sample > 1:
        lines.append(f"baseline read: 1 row in {found.baseline_sample} (whole time slices)")
    lines += ["", f"{'node':<26} {'kind':<4} {'missing b -> i':<18} statistics"]
    for c in found.columns:
        missing = (
            f"{share(1 - c.values_baseline / c.n_baseline) if c.n_baseline else 'n/a'} -> "
            f"{share(1 - c.values_incident / c.n_incident) if c.n_incident else 'n/a'}"
        )
        if (c.ks if c.kind == "numeric" else c.js_distance) is None:
            stats = "too few values on a side"
        elif c.kind == "numeric":
            stats = f"KS {num(c.ks)} (p {num(c.ks_pvalue)})  W1/sd {num(c.w1_normalised)}"
        else:
            stats = (
                f"JS {num(c.js_distance)}  PSI {num(c.psi)}  chi2 p {num(c.chi2_pvalue)} "
                f"({c.categories} categories)"
            )
        lines.append(f"{one_line(c.name):<26} {c.kind[:3]:<4} {missing:<18} {stats}")
    return "\n".join(lines)


def run_check(args: argparse.Namespace) -> int:
    # Imported here so that `incident-console --help` stays quick.
    from console.playbook.loader import load_playbook
    from console.telemetry.binding import require_fit
    from console.telemetry.schema import table_summaries
    from console.telemetry.sources.capture import default_span
    from console.telemetry.store import open_store

    playbook = load_playbook(args.playbook)
    span = default_span(playbook.windows, datetime.now(UTC))
    with open_store(args.telemetry, playbook.tables, allow_missing=True, span=span) as store:
        require_fit(playbook, store, thorough=True)
        summaries = table_summaries(store)
    print(f"telemetry {store.where} fits {args.playbook}")
    for summary in summaries:
        print(f"  {summary}")
    return 0
