"""The engine's name for the portable dialect, which lives in console/sql/dialect.py so that the
telemetry layer's Spark store (below the engine) can transpile too."""

from console.sql.dialect import HASH_HEX_DIGITS, TranspileError, hash64, time_hash, transpile

__all__ = ["HASH_HEX_DIGITS", "TranspileError", "hash64", "time_hash", "transpile"]
