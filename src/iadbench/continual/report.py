"""The continual report (``results/report/continual.html`` and ``continual.tex``), beside the main report.

Per sequence: for each model an accuracy-matrix heatmap (rows: after step l, columns: task j; seeds
averaged; one panel per strategy), a table per metric of ACC / FM / BWT / relative FM across models and
strategies (mean ± std over seeds, best bold), and the average over the tasks seen so far by step.

Renderers are pure (frames and plain values in, a string out) through the report's jinja2 environments
(autoescaped HTML, escaped LaTeX, StrictUndefined); only :func:`build_continual_report` touches files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from iadbench.continual.results import RUN_KEYS, accuracy_matrix
from iadbench.core.files import write_text
from iadbench.models.specs import MODEL_SPECS
from iadbench.report.templating import environment
from iadbench.results.columns import NOT_APPLICABLE, metric_columns_named, metric_title
from iadbench.results.rows import metric_columns

# (summary column, printed name, better direction): bold marks the best mean of each column.
SUMMARY_COLUMNS = (("ACC", "ACC", "max"), ("FM", "FM", "min"), ("BWT", "BWT", "max"),
                   ("relative_FM", "Relative FM", "min"))
FIGURE_METRICS = metric_columns_named("image_AUROC", "pixel_AUROC")
DEFINITIONS = (
    "a_l,j: the metric on task j after training step l (a task of several categories: the mean over them). "
    "With T tasks: ACC = mean over j of a_T,j; FM (Forgetting Measure, Chaudhry et al. 2018) = mean over j < T "
    "of f_j, f_j = max over l < T of a_l,j − a_T,j; BWT (backward transfer) = mean over j < T of a_T,j − a_j,j; "
    "relative FM (CLAD) = mean over j < T of f_j / max over l < T of a_l,j. Values in percent (FM and BWT: "
    "points); mean ± std over seeds; best per column in bold (highest ACC and BWT, lowest FM).")
STRATEGY_NOTE = (
    "naive: step t fine-tunes step t−1's model on task t only (memory-bank models rebuild their bank from "
    "task t); accumulate: naive, then PatchCore keeps every step's memory bank and PaDiM pools the Gaussian "
    "statistics; joint: from scratch on the union of tasks 1..t (an upper bound).")
RANDOM_WEIGHTS_NOTE = ("Backbones were randomly initialised (weights: random): these numbers exercise the "
                       "pipeline; they are not comparable with published results.")


@dataclass
class Cell:
    text: str
    bold: bool = False
    note: str = ""


def _display_name(model: str) -> str:
    spec = MODEL_SPECS.get(model)
    return spec.display_name if spec else model


def _mean_std(values: pd.Series) -> tuple[float, float]:
    values = values.astype(float)
    if values.isna().any() or values.empty:
        return math.nan, math.nan
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else math.nan


def _text(mean: float, std: float) -> str:
    if math.isnan(mean):
        return NOT_APPLICABLE
    return f"{100 * mean:.2f}" + ("" if math.isnan(std) else f" ± {100 * std:.2f}")


def summary_tables(summary: pd.DataFrame) -> list[dict[str, Any]]:
    """One table per metric of one sequence's summary: rows (model, strategy), columns ACC/FM/BWT/rel. FM."""
    tables = []
    for metric in metric_columns(summary["metric"].unique(), frame_metrics=False):
        rows = summary[summary["metric"] == metric]
        body, means = [], {}
        for (model, strategy), runs in rows.groupby(["model", "strategy"], sort=False):
            stats = {column: _mean_std(runs[column]) for column, _, _ in SUMMARY_COLUMNS}
            means[(model, strategy)] = stats
            notes = "; ".join(sorted({note for note in runs["note"] if note}))
            body.append((model, strategy, len(runs), notes))
        best = {}
        for column, _, direction in SUMMARY_COLUMNS:
            values = [stats[column][0] for stats in means.values() if not math.isnan(stats[column][0])]
            best[column] = (max if direction == "max" else min)(values) if values else math.nan
        table_rows = []
        for model, strategy, n_seeds, notes in body:
            stats = means[(model, strategy)]
            cells = [Cell(_text(*stats[column]), bold=len(body) > 1 and stats[column][0] == best[column],
                          note=notes if math.isnan(stats[column][0]) else "")
                     for column, _, _ in SUMMARY_COLUMNS]
            table_rows.append({"model": _display_name(model), "strategy": strategy, "seeds": n_seeds, "cells": cells})
        tables.append({"metric": metric, "title": metric_title(metric), "rows": table_rows,
                       "label": f"continual-{metric}"})
    return tables


def mean_matrix(matrix: pd.DataFrame, metric: str) -> np.ndarray:
    """The seed-averaged accuracy matrix of one (sequence, model, strategy); NaN where no seed has a value."""
    stacked = np.stack([accuracy_matrix(run, metric) for _, run in matrix.groupby("seed")])
    counts = np.sum(~np.isnan(stacked), axis=0)
    return np.divide(np.nansum(stacked, axis=0), counts, out=np.full(counts.shape, np.nan), where=counts > 0)


def seen_average(values: np.ndarray) -> np.ndarray:
    """Average over the tasks seen so far, by step: mean over j ≤ l of a_l,j."""
    return np.array([np.mean(values[step, :step + 1]) for step in range(values.shape[0])])


def _png(figure) -> str:
    from iadbench.report.figures import _png as figure_png  # seaborn, matplotlib: only when drawing

    return figure_png(figure)


def heatmap(matrices: dict[str, np.ndarray], tasks: list[str], title: str) -> str:
    """One panel per strategy: rows after step l, columns task j, in percent."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    size = len(tasks)
    figure, axes = plt.subplots(1, len(matrices), figsize=(1.2 + (1.0 + 0.7 * size) * len(matrices), 1.2 + 0.5 * size),
                                squeeze=False)
    for axis, (strategy, values) in zip(axes[0], matrices.items()):
        sns.heatmap(100 * values, annot=True, fmt=".1f", vmin=0, vmax=100, cmap="viridis", cbar=False, ax=axis,
                    mask=np.isnan(values), xticklabels=tasks, yticklabels=list(range(1, size + 1)))
        axis.set(title=strategy, xlabel="task", ylabel="after step")
        axis.tick_params(axis="y", labelrotation=0)
    figure.suptitle(title)
    return _png(figure)


def curves(lines: dict[str, np.ndarray], title: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.5))
    for label, values in lines.items():
        axis.plot(np.arange(1, len(values) + 1), 100 * values, marker="o", label=label)
    axis.set(title=title, xlabel="after step", ylabel="mean over seen tasks (%)")
    axis.xaxis.get_major_locator().set_params(integer=True)
    axis.legend(fontsize="small")
    return _png(figure)


def continual_context(matrix: pd.DataFrame, summary: pd.DataFrame, title: str, weights: str = "pretrained",
                      with_figures: bool = True) -> dict[str, Any]:
    """Everything the templates print (``with_figures=False``: no PNGs, e.g. for LaTeX)."""
    sections = []
    for name, runs in matrix.groupby("sequence", sort=True):
        tasks = runs.drop_duplicates("task").sort_values("task")
        task_names = list(tasks["categories"])
        figure_metrics = [metric for metric in FIGURE_METRICS if metric in runs and runs[metric].notna().any()]
        matrices, figures, lines = [], [], {metric: {} for metric in figure_metrics}
        for model, model_runs in runs.groupby("model", sort=False):
            for metric in figure_metrics:
                by_strategy = {strategy: mean_matrix(group, metric)
                               for strategy, group in model_runs.groupby("strategy", sort=False)}
                for strategy, values in by_strategy.items():
                    lines[metric][f"{_display_name(model)} {strategy}"] = seen_average(values)
                    matrices.append({"model": _display_name(model), "strategy": strategy, "title": metric_title(metric),
                                     "rows": [[NOT_APPLICABLE if math.isnan(v) else f"{100 * v:.2f}" for v in row]
                                              for row in values]})
                if with_figures:
                    figures.append({"alt": f"{name}: {_display_name(model)}, {metric_title(metric)}",
                                    "png": heatmap(by_strategy, task_names,
                                                   f"{_display_name(model)}: {metric_title(metric)}")})
        if with_figures:
            figures += [{"alt": f"{name}: {metric_title(metric)} by step",
                         "png": curves(lines[metric], f"{metric_title(metric)}, mean over seen tasks")}
                        for metric in figure_metrics]
        seeds = sorted(runs["seed"].unique())
        sections.append({
            "name": name, "dataset": str(runs["dataset"].iloc[0]), "tasks": task_names, "seeds": len(seeds),
            "runs": runs[RUN_KEYS].drop_duplicates().shape[0],
            "tables": summary_tables(summary[summary["sequence"] == name]), "matrices": matrices, "figures": figures,
            "failed": int((runs["status"] != "ok").sum()),
        })
    return {"title": title, "sections": sections, "random_weights": weights == "random",
            "random_weights_note": RANDOM_WEIGHTS_NOTE, "definitions": DEFINITIONS, "strategy_note": STRATEGY_NOTE,
            "columns": [printed for _, printed, _ in SUMMARY_COLUMNS]}


def render_html(context: dict[str, Any], template_dir: str | Path | None) -> str:
    return environment(template_dir, latex=False).get_template("continual.html.j2").render(**context)


def render_latex(context: dict[str, Any], template_dir: str | Path | None) -> str:
    return environment(template_dir, latex=True).get_template("continual.tex.j2").render(**context)


def build_continual_report(*, matrix_path: str | Path, summary_path: str | Path, template_dir: str | Path | None,
                           html_path: str | Path, tex_path: str | Path, title: str, weights: str = "pretrained") -> None:
    matrix, summary = pd.read_parquet(matrix_path), pd.read_parquet(summary_path)
    write_text(html_path, render_html(continual_context(matrix, summary, title, weights), template_dir))
    write_text(tex_path, render_latex(continual_context(matrix, summary, title, weights, with_figures=False),
                                      template_dir))
