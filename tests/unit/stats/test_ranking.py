"""Ranks over categories use complete model x category cells only."""

import pandas as pd

from iadbench.results.rows import make_row
from iadbench.stats.ranking import compare_methods, score_grid


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


def grid_frame(scores_by_category):
    """Rows from {category: {model: score}}."""
    return pd.concat([row(model, category, 0, score=score) for category, scores in scores_by_category.items()
                      for model, score in scores.items()], ignore_index=True)


AGREEING = {f"c{index}": {"a": 0.9, "b": 0.8, "c": 0.7} for index in range(6)}  # the same order everywhere
# Every order of the three methods once: their average ranks tie, Friedman p = 1.
DISAGREEING = {f"c{index}": dict(zip("abc", order, strict=True)) for index, order in enumerate(
    [(0.9, 0.8, 0.7), (0.9, 0.7, 0.8), (0.8, 0.9, 0.7), (0.7, 0.9, 0.8), (0.8, 0.7, 0.9), (0.7, 0.8, 0.9)])}


def test_friedman_gates_the_critical_difference_diagram(repo_root):
    from iadbench.report.render import render_html

    agreeing, disagreeing = (compare_methods(grid_frame(grid), "image_AUROC") for grid in (AGREEING, DISAGREEING))
    assert agreeing.friedman_p_value < 0.05 and agreeing.significant
    assert disagreeing.friedman_p_value > 0.05 and not disagreeing.significant
    assert disagreeing.verdict() == ("Friedman p = 1: no significant difference across categories; no CD diagram "
                                     "(α = 0.05).")
    templates = repo_root / "src" / "iadbench" / "report" / "templates"
    html = render_html(grid_frame(AGREEING), templates, "T", with_figures=True)
    assert "Critical difference diagram, Image AUROC" in html and "the methods differ across categories" in html
    html = render_html(grid_frame(DISAGREEING), templates, "T", with_figures=True)
    assert "Critical difference diagram" not in html
    assert "Image AUROC: Friedman p = 1: no significant difference across categories; no CD diagram" in html
