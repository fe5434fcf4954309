"""The investigation engine: the six steps over the playbook, telemetry, audit and scoring layers.

    from console.engine.investigation import Investigation   # one incident, step by step
    from console.engine.auto import run_auto                 # every step, no UI

Modules: context (what every step reads), screening (the one-pass screen), triage, locate,
interventions, counterfactual, validate, report, results (the typed results), expressions (SQL
built from the playbook), stats* (drift statistics, owned with the scorers). docs/engine.md is
the contract; nothing here imports textual.
"""
