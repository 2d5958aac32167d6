"""run: see docs/layout.md."""
