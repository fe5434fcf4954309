"""incident-console: a mechanistic audit of a misbehaving production ML model."""

__version__ = "0.1.0"
