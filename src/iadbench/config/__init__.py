"""config: see docs/layout.md."""
