"""SQL shared by the engine and the telemetry layer: the portable dialect (dialect.py) lives
below both, because the telemetry layer's Spark store transpiles and may not import the engine."""
