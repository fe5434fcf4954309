"""playbook layer: TOML -> typed model + causal graph (docs/architecture.md, docs/playbooks.md)."""
