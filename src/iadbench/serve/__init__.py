"""serve: see docs/layout.md."""
