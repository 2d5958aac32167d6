"""Report figures (seaborn/matplotlib → base64 PNG strings, so the HTML stays self-contained)."""

from __future__ import annotations

import base64
import io
import math

import matplotlib

matplotlib.use("Agg")  # no display on clusters and CI
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from iadbench.models.specs import MODEL_SPECS
from iadbench.stats.ranking import RankComparison


def _png(figure, tight: bool = True) -> str:
    buffer = io.BytesIO()
    if tight:
        figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _ok(frame: pd.DataFrame, dataset: str | None = None) -> pd.DataFrame:
    rows = frame[frame["status"] == "ok"]
    return rows if dataset is None else rows[rows["dataset"] == dataset]


def heatmap(frame: pd.DataFrame, dataset: str, metric: str, title: str) -> str:
    """Models x categories of one metric in percent, over complete cells only, as the tables: a cell whose seeds
    all succeeded shows their mean; a partial one (k of n seeds) is left grey and says "k/n", a failed one
    "failed"; ``title`` names the metric. ``frame``: every row of the dataset, failed ones included."""
    rows = frame[frame["dataset"] == dataset]
    ok = rows["status"].eq("ok").fillna(False).astype(bool)
    cells = rows.assign(_ok=ok).groupby(["model", "category"], sort=False)["_ok"].agg(["sum", "size"])
    grid = rows[ok].pivot_table(index="model", columns="category", values=metric, aggfunc="mean", sort=False)
    grid = grid.reindex(index=list(dict.fromkeys(rows["model"])), columns=list(dict.fromkeys(rows["category"])))
    values = 100 * grid.astype(float)
    text = values.map(lambda value: "" if np.isnan(value) else f"{value:.1f}").astype(object)
    for (model, category), (n_ok, n_seeds) in cells.iterrows():
        if n_ok < n_seeds:
            values.loc[model, category] = np.nan
            text.loc[model, category] = "failed" if n_ok == 0 else f"{n_ok}/{n_seeds}"
    figure, axes = plt.subplots(figsize=(1.5 + 0.8 * grid.shape[1], 1.0 + 0.4 * grid.shape[0]))
    axes.set_facecolor("#d9d9d9")  # partial and failed cells: no colour, as they have no comparable value
    sns.heatmap(values, annot=text.to_numpy(), fmt="", vmin=0, vmax=100, cmap="viridis",
                cbar_kws={"label": f"{title} (%)"}, ax=axes, annot_kws={"fontsize": 7})
    for row, model in enumerate(values.index):  # seaborn writes no text on a cell without a value: say why here
        for column, category in enumerate(values.columns):
            if np.isnan(values.iloc[row, column]) and text.iloc[row, column]:
                axes.text(column + 0.5, row + 0.5, text.iloc[row, column], ha="center", va="center", fontsize=7,
                          color="#8a5a00" if text.iloc[row, column] != "failed" else "#b00")
    axes.set(title=f"{dataset}: {title} (grey: partial k/n seeds or failed, left out as in the tables)",
             xlabel="", ylabel="")
    return _png(figure)


# Throughput of the timing job (the torch model alone at batch 32, nothing beside it); rows from before
# timing jobs existed fall back to training's end-to-end predict pass (images/s).
THROUGHPUT_FALLBACK = {"images_per_second": "throughput_b32"}
GFLOPS = "gflops_per_image"


def _display_name(model: str) -> str:
    spec = MODEL_SPECS.get(model)
    return spec.display_name if spec else model


def _cost_values(rows: pd.DataFrame, cost: str) -> pd.Series:
    values = rows[cost].astype(float) if cost in rows else pd.Series(np.nan, index=rows.index)
    preferred = THROUGHPUT_FALLBACK.get(cost)
    if preferred in rows:
        values = rows[preferred].astype(float).where(rows[preferred].notna(), values)
    return values


def _plain(value: float, _position=None) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:g}"


def _cost_axis(axes, values: pd.Series) -> None:
    """Log scale only over at least a decade, a few plain-number major ticks, unlabelled minor ones:
    matplotlib's default log labels (1e+02, 2e+02, ...) overlap."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    positive = values[values > 0]
    if len(positive) and positive.max() >= 10 * positive.min():
        axes.set_xscale("log")
        axes.xaxis.set_major_locator(LogLocator(base=10, numticks=5))
        axes.xaxis.set_minor_formatter(NullFormatter())
    else:
        axes.xaxis.set_major_locator(MaxNLocator(nbins=5))
    axes.xaxis.set_major_formatter(FuncFormatter(_plain))
    axes.tick_params(axis="x", labelrotation=30)


def _efficiency_panel(axes, rows: pd.DataFrame, metric: str, cost: str, cost_label: str) -> None:
    per_model = rows.assign(_cost=_cost_values(rows, cost)).groupby("model")[[metric, "_cost"]].mean()
    per_model = per_model[np.isfinite(per_model["_cost"]) & (per_model["_cost"] > 0)].dropna()
    timed = THROUGHPUT_FALLBACK.get(cost) in rows and rows[THROUGHPUT_FALLBACK[cost]].notna().any()
    axes.set(xlabel=f"{cost_label} (timing job)" if timed else cost_label, ylabel=f"{metric} (%)",
             title=f"{metric} vs {cost_label}")
    if per_model.empty:  # e.g. every model's timing failed: say so rather than draw empty axes
        axes.text(0.5, 0.5, f"no {cost_label} measured", ha="center", va="center", transform=axes.transAxes)
        return
    sns.scatterplot(x=per_model["_cost"], y=100 * per_model[metric], hue=per_model.index, s=70, ax=axes,
                    legend=False)
    # Labels alternate above and below their marker (in order along the axis) so neighbours overlap less.
    for number, (model, values) in enumerate(per_model.sort_values("_cost").iterrows()):
        axes.annotate(_display_name(model), (values["_cost"], 100 * values[metric]), fontsize=8,
                      xytext=(4, 3 if number % 2 == 0 else -10), textcoords="offset points")
    _cost_axis(axes, per_model["_cost"])
    axes.margins(x=0.12)  # room for the right-most labels


def efficiency(frame: pd.DataFrame, metric: str, cost: str, cost_label: str) -> str:
    """Mean ``metric`` per model against a mean cost (images/s, peak memory, GFLOPs), one marker per model
    labelled with its display name. Throughput comes from the timing job (``throughput_b32``) where
    there is one; beside it, a second panel against GFLOPs per image when those were measured."""
    rows = _ok(frame)
    panels = [(cost, cost_label)]
    if cost in THROUGHPUT_FALLBACK and GFLOPS in rows and (rows[GFLOPS].astype(float) > 0).any():
        panels.append((GFLOPS, "GFLOPs / image"))
    figure, all_axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    for axes, (panel_cost, panel_label) in zip(all_axes[0], panels, strict=True):
        _efficiency_panel(axes, rows, metric, panel_cost, panel_label)
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
    """Demšar's critical-difference diagram: average ranks on an axis (rank 1, the best, on the right), the better
    half of the methods labelled on the right, the other half on the left, each joined to its rank by an elbow;
    thick bars under the axis join methods whose ranks differ by less than the Nemenyi CD (not significantly
    different), each on its own line so that none hides another."""
    ranks = comparison.average_ranks.sort_values()
    n_methods = len(ranks)
    values = ranks.to_numpy()
    cd = comparison.critical_difference
    cliques = []
    for start in range(n_methods):
        end = int(np.searchsorted(values, values[start] + cd, side="right")) - 1
        if end > start and not any(s <= start and end <= e for s, e in cliques):
            cliques.append((start, end))
    bar_step, label_step = 0.22, 0.5
    first_label = 0.4 + bar_step * len(cliques)
    n_right = (n_methods + 1) // 2
    n_rows = max(n_right, n_methods - n_right)
    figure, axes = plt.subplots(figsize=(8, 1.3 + 0.3 * (n_rows + 0.5 * len(cliques))))
    low, high = n_methods + 0.5, 0.5
    axes.set_xlim(low + 1.6, high - 1.6)  # room for the labels either side
    axes.set_ylim(-(first_label + label_step * n_rows), 1.6)
    axes.plot([n_methods, 1], [0, 0], color="black", linewidth=1)
    for rank in range(1, n_methods + 1):
        axes.plot([rank, rank], [0, 0.15], color="black", linewidth=1)
        axes.text(rank, 0.25, str(rank), ha="center", fontsize=8)
    for index, (model, rank) in enumerate(ranks.items()):
        right = index < n_right
        row = index if right else n_methods - 1 - index
        y = -(first_label + label_step * row)
        end = high - 0.3 if right else low + 0.3
        axes.plot([rank, rank, end], [0, y, y], color="#555", linewidth=0.8)
        axes.text(end + (-0.1 if right else 0.1), y, f"{model} ({rank:.2f})", va="center", fontsize=8,
                  ha="left" if right else "right")
    axes.plot([n_methods, n_methods - cd], [1.1, 1.1], color="#c00", linewidth=2)
    axes.text(n_methods - cd / 2, 1.25, f"CD = {cd:.2f}", ha="center", fontsize=8, color="#c00")
    for number, (start, end) in enumerate(cliques):
        y = -0.3 - bar_step * number
        axes.plot([values[start] + 0.05, values[end] - 0.05], [y, y], color="#c00", linewidth=3, alpha=0.7,
                  solid_capstyle="butt")
    axes.axis("off")
    axes.set_title(f"{metric_title}: average rank over {comparison.n_categories} categories "
                   f"(Friedman p = {comparison.friedman_p_value:.3g}); bars: not significantly different", fontsize=9)
    return _png(figure)


def score_distributions(panels: list[tuple[str, np.ndarray, np.ndarray, float]], title: str) -> str:
    """Small multiples, one panel per (name, defect-free scores, defective scores, threshold): the two image-score
    histograms on the panel's own bins (models' scores have their own scales) and the threshold, dashed."""
    n_columns = min(4, max(1, len(panels)))
    n_rows = max(1, math.ceil(len(panels) / n_columns))
    figure, all_axes = plt.subplots(n_rows, n_columns, figsize=(3.2 * n_columns, 2.4 * n_rows + 0.4), squeeze=False)
    for axes, (name, normal, defective, threshold) in zip(all_axes.flat, panels, strict=False):
        values = np.concatenate([normal, defective])
        values = values[np.isfinite(values)]
        edges = np.histogram_bin_edges(values, bins=min(30, max(5, values.size // 3))) if values.size else 10
        for scores, colour, label in ((normal, "#3a7dc9", "defect-free"), (defective, "#d6452f", "defective")):
            scores = scores[np.isfinite(scores)]
            if scores.size:  # one filled step line per class: far cheaper to draw than a bar per bin
                counts, bins = np.histogram(scores, bins=edges)
                axes.stairs(counts, bins, fill=True, color=colour, alpha=0.55, label=label)
        if math.isfinite(threshold):
            axes.axvline(threshold, color="black", linestyle="--", linewidth=1, label="F1-optimal threshold")
        counts = f"{np.isfinite(normal).sum()} defect-free, {np.isfinite(defective).sum()} defective"
        axes.set_title(f"{name}\n{counts}", fontsize=8)
        axes.set_yticks([])  # counts per bin say nothing across panels; ticks are most of the drawing time
        axes.xaxis.set_major_locator(MaxNLocator(nbins=4))
        axes.tick_params(labelsize=7)
    for axes in list(all_axes.flat)[len(panels):]:
        axes.axis("off")
    figure.suptitle(title, fontsize=10, x=0.06, ha="left")
    handles, names = all_axes.flat[0].get_legend_handles_labels()  # one legend for every panel, not one on each
    figure.legend(handles, names, loc="upper right", ncol=3, fontsize=8, frameon=False)
    figure.subplots_adjust(left=0.06, right=0.98, bottom=0.08 / n_rows ** 0.5, top=1 - 0.75 / (2.4 * n_rows + 0.4),
                           wspace=0.25, hspace=0.6)
    return _png(figure, tight=False)
