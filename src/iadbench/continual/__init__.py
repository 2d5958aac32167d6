"""continual: see docs/layout.md."""
