"""Ranks over categories use complete model x category cells only."""

import pandas as pd

from iadbench.ranking import compare_methods, score_grid
from iadbench.results import make_row


def row(model, category, seed, status="ok", score=None):
    return make_row({"dataset": "d", "category": category, "model": model, "seed": seed, "status": status,
                     "image_AUROC": score, "finished_at": pd.Timestamp("2026-01-01", tz="UTC")})


def test_a_cell_with_a_failed_seed_drops_its_category():
    frame = pd.concat([row(model, category, seed, score=0.5 + 0.1 * index)
                       for index, model in enumerate(("a", "b", "c"))
                       for category in ("x", "y", "z", "w") for seed in (0, 1)]
                      + [row("a", "w", 2, "failed")], ignore_index=True)
    grid = score_grid(frame, "image_AUROC")
    assert sorted(grid.index.get_level_values("category")) == ["x", "y", "z"]
    assert compare_methods(frame, "image_AUROC").n_categories == 3
