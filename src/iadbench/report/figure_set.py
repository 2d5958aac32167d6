"""Which figures the report draws, from what, and for which page: the metric heatmaps and category box plots of
each dataset, the efficiency plots, the critical-difference diagrams (each dataset's in its summary, and the one
over every dataset), the score distributions per category. Each figure is a dict {"caption", "png" (base64),
"dataset" (its dataset, or None for the report as a whole), "place" ("summary" or "figures"), and after
:func:`name_figures` "name" (a unique file stem)}.

Figures are independent of each other, so at scale they are drawn by a pool of worker processes (one per
core): a paper-scale report has a few hundred.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_all_start_methods, get_context
from typing import Any

import pandas as pd

from iadbench.report import distributions, figures
from iadbench.report.labels import Labels
from iadbench.report.tables import Table, ranked_metrics
from iadbench.report.templating import slug
from iadbench.results.columns import metric_title
from iadbench.stats.evidence import Evidence

POOL_FROM = 12  # figures: fewer are drawn in this process (starting workers costs more than they save)


def draw(jobs: list[tuple[Any, ...]]) -> list[str]:
    """``[(function, *args)]`` of :mod:`iadbench.report.figures` -> their PNGs (base64), in order; in worker
    processes (fork: they inherit the loaded modules) when there are many and more than one core."""
    workers = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 8)
    # fork only on Linux: on macOS a forked child of a process that loaded system frameworks may crash
    if len(jobs) < POOL_FROM or workers < 2 or not sys.platform.startswith("linux") or "fork" not in get_all_start_methods():
        return [function(*args) for function, *args in jobs]
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        return list(pool.map(_call, jobs, chunksize=max(1, len(jobs) // (4 * workers))))


def _call(job: tuple[Any, ...]) -> str:
    function, *args = job
    return function(*args)


def general_figures(frame: pd.DataFrame, tables: list[Table], comparisons: dict, summaries: dict,
                    labels: Labels) -> list[tuple[dict, tuple]]:
    """(figure dict without its png, the drawing job) of every figure but the score distributions, drawn with
    printed model and category names, categories in their configured order. ``summaries``: dataset -> its
    summary (:mod:`iadbench.report.summary`), whose rank comparison gives the dataset's CD diagram."""
    made = []
    ranked = ranked_metrics(frame)
    printed = labels.apply(frame)
    for dataset, summary in summaries.items():
        comparison = summary.comparison
        if comparison is not None and comparison.significant:
            named = dataclasses.replace(comparison, average_ranks=comparison.average_ranks.rename(labels.model))
            title = f"{dataset}: {metric_title(summary.metric)}"
            made.append(({"caption": f"{dataset}: critical difference diagram, {metric_title(summary.metric)}",
                          "dataset": dataset, "place": "summary"}, (figures.critical_difference, named, title)))
    for table in tables:
        if table.metric in ranked:
            made.append(({"caption": f"{table.dataset}: {table.title}", "dataset": table.dataset,
                          "place": "figures"}, (figures.heatmap, printed, table.dataset, table.metric, table.title)))
    for dataset in dict.fromkeys(frame.loc[frame["status"] == "ok", "dataset"]):
        made.append(({"caption": f"{dataset}: image AUROC per category", "dataset": dataset, "place": "figures"},
                      (figures.category_boxplot, printed, dataset, "image_AUROC")))
    if (frame["status"] == "ok").any():
        made.append(({"caption": "Image AUROC vs throughput", "dataset": None, "place": "figures"},
                      (figures.efficiency, printed, "image_AUROC", "images_per_second", "images/s")))
        made.append(({"caption": "Image AUROC vs peak memory", "dataset": None, "place": "figures"},
                      (figures.efficiency, printed, "image_AUROC", "peak_rss_mb", "peak RSS (MB)")))
    for metric, comparison in comparisons.items():
        if not comparison.significant:  # no post-hoc test without a Friedman rejection (the ranks section says so)
            continue
        named = dataclasses.replace(comparison, average_ranks=comparison.average_ranks.rename(labels.model))
        made.append(({"caption": f"Critical difference diagram, {metric_title(metric)}", "dataset": None,
                      "place": "figures"}, (figures.critical_difference, named, metric_title(metric))))
    return made


def distribution_items(frame: pd.DataFrame, evidence: Evidence | None, labels: Labels,
                       with_figures: bool) -> tuple[list[dict[str, Any]], list[tuple[dict, tuple]]]:
    """Per dataset x category with scores: {"dataset", "category" (printed), "figure" (None until drawn, and
    without figures), "hardest" (:func:`iadbench.report.distributions.hardest_images`)}, and the drawing jobs of
    their figures (each figure dict is the item's, filled in by :func:`draw_all`)."""
    items, jobs = [], []
    if not evidence:
        return items, jobs
    needed = [column for column in ("dataset", "category", "model", "seed", "status", "image_F1_threshold")
              if column in frame]
    frame = frame[needed]  # the filters below copy every column they keep: keep only these
    for dataset in dict.fromkeys(frame["dataset"]):
        rows = frame[frame["dataset"] == dataset]
        for category in labels.order(dataset, rows["category"]):
            panels = distributions.panels(rows, evidence, dataset, category)
            if not panels:
                continue
            printed = labels.category(dataset, category)
            item = {"dataset": dataset, "category": printed, "figure": None,
                    "hardest": distributions.hardest_images(panels, labels)}
            if with_figures:
                item["figure"] = {"caption": (f"{dataset}: {printed}: image scores of defect-free vs defective test "
                                              "images (dashed: F1-optimal threshold)"),
                                  "stem": f"{dataset}-{printed}-score-distributions", "dataset": dataset,
                                  "place": "distributions"}
                drawn = [(f"{labels.model(panel.model)} (seed {panel.seed})", panel.normal, panel.defective,
                          panel.threshold) for panel in panels]
                jobs.append((item["figure"], (figures.score_distributions, drawn, f"{dataset}: {printed}")))
            items.append(item)
    return items, jobs


def draw_all(jobs: list[tuple[dict, tuple]]) -> None:
    """Draw every job's figure and store its PNG in its figure dict."""
    for (figure, _), png in zip(jobs, draw([job for _, job in jobs]), strict=True):
        figure["png"] = png


def name_figures(made: list[dict[str, str]]) -> None:
    """Give each figure a "name": a file stem from its "stem" or caption (letters, digits, dashes), unique."""
    seen: dict[str, int] = {}
    for figure in made:
        stem = slug(figure.get("stem") or figure["caption"]).strip("-") or "figure"
        seen[stem] = seen.get(stem, 0) + 1
        figure["name"] = stem if seen[stem] == 1 else f"{stem}-{seen[stem]}"
