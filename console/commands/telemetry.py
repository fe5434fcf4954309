"""`incident-console telemetry ...`: check a telemetry store against the contract."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from console.commands import add_command, add_group


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
    check.add_argument("--playbook", type=Path, required=True, help="the playbook TOML")
    check.add_argument(
        "--telemetry",
        type=Path,
        default=None,
        help="the folder of Parquet files (or a .duckdb file); optional when the playbook "
        "declares a source for every table",
    )


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
