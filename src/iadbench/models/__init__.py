"""Models: one spec per model (specs, hooks), the registry, construction (build), weights (random_weights,
assets, required_assets). See docs/layout.md."""
