#!/usr/bin/env bash
# Audit the causal graph before a model version ships (docs/audit.md). Run from a CI job:
#   PLAYBOOK=playbooks/fraud.toml TELEMETRY=telemetry/ ci-examples/audit-gate.sh
# Optional: WINDOW (default 1h), AT (end of the window, default the newest decision),
# STRICT=1 (a stale graph fails too), OUT (folder for audit.xml, audit.json and the trail).
# Exit 0: every edge holds; 1: an edge is broken (or, with STRICT=1, the graph is stale);
# 2: the playbook or telemetry needs fixing.
set -euo pipefail
: "${PLAYBOOK:?set PLAYBOOK to the playbook TOML}"
: "${TELEMETRY:?set TELEMETRY to the telemetry folder or .duckdb file}"
OUT="${OUT:-audit-results}"
mkdir -p "$OUT"
args=("$PLAYBOOK" --telemetry "$TELEMETRY" --window "${WINDOW:-1h}"
      --junit "$OUT/audit.xml" --json "$OUT/audit.json" --audit-dir "$OUT/trail")
if [[ -n "${AT:-}" ]]; then args+=(--at "$AT"); fi
if [[ "${STRICT:-0}" == 1 ]]; then args+=(--strict); fi
exec incident-console audit "${args[@]}"
