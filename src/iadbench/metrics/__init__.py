"""metrics: see docs/layout.md."""
