"""results: see docs/layout.md."""
