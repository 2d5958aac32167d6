"""stats: see docs/layout.md."""
