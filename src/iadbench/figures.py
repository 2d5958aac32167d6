"""Report figures (seaborn/matplotlib → base64 PNG strings, so the HTML stays self-contained)."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")  # no display on clusters and CI
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from iadbench.ranking import RankComparison


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _ok(frame: pd.DataFrame, dataset: str | None = None) -> pd.DataFrame:
    rows = frame[frame["status"] == "ok"]
    return rows if dataset is None else rows[rows["dataset"] == dataset]


def heatmap(frame: pd.DataFrame, dataset: str, metric: str, title: str) -> str:
    """Models x categories of one metric (seeds averaged), in percent; ``title`` names the metric."""
    grid = _ok(frame, dataset).pivot_table(index="model", columns="category", values=metric, aggfunc="mean",
                                           sort=False)
    figure, axes = plt.subplots(figsize=(1.5 + 0.8 * grid.shape[1], 1.0 + 0.4 * grid.shape[0]))
    sns.heatmap(100 * grid.astype(float), annot=True, fmt=".1f", vmin=0, vmax=100, cmap="viridis",
                cbar_kws={"label": f"{title} (%)"}, ax=axes)
    axes.set(title=f"{dataset}: {title}", xlabel="", ylabel="")
    return _png(figure)


def efficiency(frame: pd.DataFrame, metric: str, cost: str, cost_label: str) -> str:
    """Mean ``metric`` per model against a mean cost (images/s, peak memory), log-scaled cost axis."""
    per_model = _ok(frame).groupby("model")[[metric, cost]].mean().dropna()
    figure, axes = plt.subplots(figsize=(5.5, 4))
    sns.scatterplot(x=per_model[cost], y=100 * per_model[metric], hue=per_model.index, s=70, ax=axes,
                    legend=False)
    for model, values in per_model.iterrows():
        axes.annotate(model, (values[cost], 100 * values[metric]), fontsize=8, xytext=(4, 2),
                      textcoords="offset points")
    axes.set(xscale="log", xlabel=cost_label, ylabel=f"{metric} (%)", title=f"{metric} vs {cost_label}")
    return _png(figure)


def category_boxplot(frame: pd.DataFrame, dataset: str, metric: str) -> str:
    """Spread of ``metric`` over models (and seeds) per category."""
    rows = _ok(frame, dataset).dropna(subset=[metric])
    figure, axes = plt.subplots(figsize=(1.5 + 0.7 * rows["category"].nunique(), 3.8))
    sns.boxplot(x=rows["category"], y=100 * rows[metric], ax=axes, color="#9ecae1")
    sns.stripplot(x=rows["category"], y=100 * rows[metric], ax=axes, color="#333", size=3)
    axes.set(xlabel="", ylabel=f"{metric} (%)", title=f"{dataset}: {metric} per category")
    axes.tick_params(axis="x", rotation=45)
    return _png(figure)


def critical_difference(comparison: RankComparison, metric_title: str) -> str:
    """Demšar's critical-difference diagram: average ranks on an axis, with bars joining methods whose
    ranks differ by less than the Nemenyi CD (not significantly different)."""
    ranks = comparison.average_ranks
    n_methods = len(ranks)
    figure, axes = plt.subplots(figsize=(7, 1.2 + 0.3 * n_methods))
    axes.set_xlim(n_methods + 0.5, 0.5)  # rank 1 (best) on the right, as in Demšar's figures
    axes.set_ylim(-(n_methods + 1), 2)
    axes.axhline(0, color="black", linewidth=1)
    for rank in range(1, n_methods + 1):
        axes.plot([rank, rank], [0, 0.2], color="black", linewidth=1)
        axes.text(rank, 0.35, str(rank), ha="center", fontsize=8)
    for index, (model, rank) in enumerate(ranks.items()):
        y = -(index + 1)
        axes.plot([rank, rank], [0, y], color="#555", linewidth=0.8)
        axes.text(rank, y, f" {model} ({rank:.2f})", va="center", fontsize=8,
                  ha="left" if rank > (n_methods + 1) / 2 else "right")
    cd = comparison.critical_difference
    axes.plot([n_methods + 0.4 - cd, n_methods + 0.4], [1.3, 1.3], color="#c00", linewidth=2)
    axes.text(n_methods + 0.4 - cd / 2, 1.5, f"CD = {cd:.2f}", ha="center", fontsize=8, color="#c00")
    values = ranks.to_numpy()
    cliques, offset = [], 0.15
    for start in range(n_methods):
        end = int(np.searchsorted(values, values[start] + cd, side="right")) - 1
        if end > start and not any(s <= start and end <= e for s, e in cliques):
            cliques.append((start, end))
    for number, (start, end) in enumerate(cliques):
        y = -offset - 0.18 * number
        axes.plot([values[start], values[end]], [y, y], color="#c00", linewidth=3, alpha=0.6)
    axes.axis("off")
    axes.set_title(f"{metric_title}: average rank over {comparison.n_categories} categories "
                   f"(Friedman p = {comparison.friedman_p_value:.3g})", fontsize=9)
    return _png(figure)
