"""telemetry layer: three read-only views, schema, evidence (docs/architecture.md)."""
