"""gameday layer: scenarios, answer keys, grading (docs/architecture.md, docs/gameday.md)."""
