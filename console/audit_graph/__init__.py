"""What an audit of the causal graph writes: the terminal table and JUnit XML (the run itself
is console.engine.audit_run; the JSON is AuditResult.to_dict())."""
