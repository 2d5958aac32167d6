"""The report's metric tables: methods x categories (+ mean) of one metric per dataset, each cell with its
seeds' mean ± std, its interval, its failure or partial-seed state, and the marking of the column's best and
of the cells not significantly worse than it (:mod:`iadbench.stats.significance`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from iadbench.config.base import Job
from iadbench.config.settings import DEFAULT_SETTING
from iadbench.report.labels import Labels
from iadbench.report.templating import slug
from iadbench.results.columns import (
    AUPRO_LIMIT_COLUMN,
    HEADLINE_MARKERS,
    HEADLINES,
    LITERATURE_AUPRO,
    METRIC_TITLES,
    NOT_APPLICABLE,
    metric_title,
)
from iadbench.results.columns import percent as _percent
from iadbench.stats import significance
from iadbench.stats.evidence import Evidence

FAILED = "failed"


@dataclass
class Cell:
    text: str
    bold: bool = False
    failed: bool = False
    link: str = ""  # failed cells: the training log, relative to results/report/
    partial: bool = False  # some seeds failed: the value is a mean over the survivors only
    degenerate: bool = False  # pixel metric of a job whose anomaly maps are all constant
    note: str = ""  # shown on hover in the HTML: the error tail of a failed cell, the failed seeds of a partial one
    not_worse: bool = False  # not significantly worse than its column's best (‡)
    interval: str = ""  # its confidence interval, shown on hover in the HTML
    bounds: tuple[float, float] | None = None  # the Mean column's interval (fractions), printed in the summaries

    @property
    def tooltip(self) -> str:
        return "; ".join(text for text in (self.note, self.interval) if text)


@dataclass
class Table:
    dataset: str
    metric: str
    title: str
    columns: list[str]  # category folder names, then "Mean"
    rows: list[tuple[str, list[Cell]]] = field(default_factory=list)  # (model config name, cells)
    header: list[str] = field(default_factory=list)  # the columns as printed (category labels)
    names: dict[str, str] = field(default_factory=dict)  # model → printed name
    notes: list[str] = field(default_factory=list)  # under the table in every format: marking rule, untested columns
    setting: str = DEFAULT_SETTING  # iadbench.config.settings: a table never mixes settings

    @property
    def label(self) -> str:
        """A LaTeX/HTML-safe identifier (letters, digits, dashes); the setting's name unless one-class."""
        return slug(f"{self.dataset}-{self.metric}" if self.setting == DEFAULT_SETTING
                    else f"{self.dataset}-{self.setting}-{self.metric}")

    @property
    def has_partial(self) -> bool:
        return any(cell.partial for _, cells in self.rows for cell in cells)

    @property
    def has_degenerate(self) -> bool:
        return any(cell.degenerate for _, cells in self.rows for cell in cells)

    @property
    def has_intervals(self) -> bool:
        return any(cell.interval for _, cells in self.rows for cell in cells)


def aupro_columns(frame: pd.DataFrame) -> list[str]:
    """AU-PRO columns holding a value, smallest FPR limit first.

    The plain ``pixel_AUPRO`` (the first configured limit, whichever it was) is only used for old
    rows that lack the ``pixel_AUPRO_<percent>`` columns: its limit is unknown.
    """
    limits = {column: int(match.group(1)) for column in frame.columns
              if (match := AUPRO_LIMIT_COLUMN.fullmatch(column)) and frame[column].notna().any()}
    if limits:
        return sorted(limits, key=limits.get)
    return ["pixel_AUPRO"] if "pixel_AUPRO" in frame and frame["pixel_AUPRO"].notna().any() else []


def ranked_metrics(frame: pd.DataFrame) -> list[str]:
    """Metrics ranked and drawn as heatmaps: AUROCs and one AU-PRO, at FPR 0.3 where we have it."""
    aupro = aupro_columns(frame)
    chosen = [LITERATURE_AUPRO if LITERATURE_AUPRO in aupro else aupro[0]] if aupro else []
    return [metric for metric in ("image_AUROC", "pixel_AUROC") if metric in frame] + chosen


def report_metrics(frame: pd.DataFrame) -> list[str]:
    """The metric columns to tabulate for ``frame``, in the report's order (one table per AU-PRO limit); a
    dataset with its own protocol: its official metrics first (:func:`protocol_headline`). Columns that
    ``frame`` holds without a value (another dataset's protocol) are left out."""
    columns = []
    for metric in METRIC_TITLES:
        columns.extend(aupro_columns(frame) if metric == "pixel_AUPRO" else [metric])
    columns = [column for column in columns if column not in frame or frame[column].notna().any()]
    first = protocol_headline(frame)
    return first + [column for column in columns if column not in first]


def protocol_headline(frame: pd.DataFrame) -> list[str]:
    """The headline columns of the protocols ``frame``'s rows follow (docs/protocols.md), [] for none."""
    columns: list[str] = []
    for kind, marker in HEADLINE_MARKERS.items():
        if marker in frame and frame[marker].notna().any():
            columns += [column for column in HEADLINES[kind] if column in frame and frame[column].notna().any()]
    return list(dict.fromkeys(columns))


def _flag(frame: pd.DataFrame, column: str) -> pd.Series:
    """A boolean column as plain bools; missing (old rows, or no such column) is False."""
    if column not in frame:
        return pd.Series(False, index=frame.index)
    return frame[column].astype("boolean").fillna(False).astype(bool)


def _failure_text(error_type: Any, error_tail: Any) -> str:
    return next((str(text) for text in (error_tail, error_type) if not pd.isna(text) and str(text)), "")


def _row_intervals(ok: pd.DataFrame, metric: str) -> dict[tuple[str, str], tuple[float, float, int]]:
    """The row's own interval of each one-seed cell (when the report has no replicates to pool)."""
    low, high = f"{metric}_ci_low", f"{metric}_ci_high"
    if low not in ok or high not in ok:
        return {}
    single = ok[ok.groupby(["model", "category"], sort=False)["seed"].transform("size").to_numpy() == 1]
    resamples = single.get("ci_resamples", pd.Series(pd.NA, index=single.index))
    return {(model, category): (float(lo), float(hi), int(n) if not pd.isna(n) else 0)
            for model, category, lo, hi, n in zip(single["model"], single["category"], single[low], single[high],
                                                  resamples, strict=True)
            if not (pd.isna(lo) or pd.isna(hi) or pd.isna(n))}


def _test_images(ok: pd.DataFrame, metric: str) -> dict[tuple[str, str], int]:
    """Test images each cell's metric is computed on (first seed's row: ``n_test``, less ``n_test_without_mask``
    for pixel metrics); cells whose rows do not say are left out."""
    if "n_test" not in ok:
        return {}
    first = ok.drop_duplicates(["model", "category"])
    counts = first["n_test"].astype("Float64")
    if metric.startswith("pixel_") and "n_test_without_mask" in first:
        counts = counts - first["n_test_without_mask"].astype("Float64").fillna(0)
    return {(model, category): int(count) for model, category, count in
            zip(first["model"], first["category"], counts, strict=True) if not pd.isna(count) and count > 0}


def metric_table(frame: pd.DataFrame, dataset: str, metric: str, title: str, labels: Labels | None = None,
                 evidence: Evidence | None = None) -> Table:
    """Methods x categories (+ mean over categories) of one metric; the best per column in bold, cells not
    significantly worse than it marked ‡ (:mod:`iadbench.stats.significance`, from ``evidence``: the jobs' scores
    and bootstrap replicates; none: nothing tested).

    Seeds are averaged (mean ± standard deviation when there are several). A cell is "failed" when
    every seed failed, "–" when the metric does not apply (e.g. pixel metrics of a classification
    model) or is undefined, and says "(k/n seeds)" when only k of its n seeds succeeded: a mean over
    the survivors is not comparable with a mean over every seed, so such a cell is never bold nor tested, and
    the mean is only given when every category has a complete value. Ties (at the printed
    precision) are all bold. Pixel metrics of jobs with constant anomaly maps are marked degenerate.
    Categories come in ``labels``' order and print as its labels, models as their display names.
    """
    labels = labels or Labels()
    rows = frame[frame["dataset"] == dataset]
    settings = set(rows["setting"]) if "setting" in rows else {DEFAULT_SETTING}
    if len(settings) > 1:
        raise ValueError(f"a table never mixes settings: {dataset} has rows of {', '.join(sorted(settings))}")
    setting = next(iter(settings), DEFAULT_SETTING)
    categories = labels.order(dataset, rows["category"])
    models = list(dict.fromkeys(rows["model"]))
    is_ok = rows["status"].eq("ok").fillna(False).astype(bool)
    ok = rows[is_ok]
    grouped = ok.groupby(["model", "category"], sort=False)[metric]
    means, spreads = grouped.mean().to_dict(), grouped.std().to_dict()  # std is NaN with one seed
    n_seeds = rows.groupby(["model", "category"], sort=False).size().to_dict()
    n_ok = ok.groupby(["model", "category"], sort=False).size().to_dict()
    ok_seeds = {cell: sorted(map(int, seeds)) for cell, seeds in
                ok.groupby(["model", "category"], sort=False)["seed"].agg(list).items()}
    row_intervals = _row_intervals(ok, metric)
    failures: dict[tuple[str, str], list[tuple[Any, str]]] = {}
    for model, category, seed, error_type, error_tail in rows.loc[~is_ok].reindex(  # error columns may be absent
            columns=["model", "category", "seed", "error_type", "error_tail"]).itertuples(index=False, name=None):
        failures.setdefault((model, category), []).append((seed, _failure_text(error_type, error_tail)))
    degenerate = set()
    if metric.startswith("pixel_"):
        flat = ok[_flag(ok, "degenerate_maps")]
        degenerate = set(flat[["model", "category"]].itertuples(index=False, name=None))

    def complete(model: str, category: str) -> bool:
        return n_ok.get((model, category), 0) == n_seeds.get((model, category), 0)

    values: dict[str, list[float]] = {}
    for model in models:
        per_category = [float(means.get((model, category), math.nan)) for category in categories]
        all_complete = all(not math.isnan(value) and complete(model, category)
                           for value, category in zip(per_category, categories, strict=True))
        values[model] = per_category + [sum(per_category) / len(per_category) if all_complete else math.nan]
    columns = categories + ["Mean"]
    best, compared = [], {}
    for index, column in enumerate(columns):
        candidates = {model: values[model][index] for model in models
                      if not math.isnan(values[model][index]) and (column == "Mean" or complete(model, column))}
        best.append(round(100 * max(candidates.values()), 2) if candidates else None)
        if candidates and column != "Mean":  # the best cell, and the others that are not tied with it to test
            leader = max(candidates, key=candidates.get)
            compared[column] = (leader, [model for model, value in candidates.items()
                                         if round(100 * value, 2) != best[index]])
    estimates = {(model, category, int(seed)): float(value) for model, category, seed, value
                 in ok[["model", "category", "seed", metric]].itertuples(index=False, name=None)}
    by_cell: dict[tuple[str, str], dict[int, float]] = {}
    for (model, category, seed), value in estimates.items():
        by_cell.setdefault((model, category), {})[seed] = value
    test_images = _test_images(ok, metric)
    tests = significance.test_table(evidence, dataset, metric, compared, ok_seeds, name=labels.model,
                                    label=lambda category: labels.category(dataset, category), estimates=estimates)
    not_worse = tests.not_worse
    table = Table(dataset=dataset, metric=metric, title=title, columns=columns, setting=setting,
                  header=[labels.category(dataset, category) for category in categories] + ["Mean"],
                  names={model: labels.model(model) for model in models},
                  notes=tests.notes() if any(others for _, others in compared.values()) else [])
    for model in models:
        cells = []
        for index, value in enumerate(values[model]):
            cell = (model, columns[index])
            if index < len(categories) and n_seeds.get(cell) and not n_ok.get(cell):
                seed, error = failures[cell][-1]
                log = f"../logs/train/{Job(dataset, categories[index], model, seed, setting).training.path}.log"
                cells.append(Cell(FAILED, failed=True, link=log, note=error))
            elif math.isnan(value):
                cells.append(Cell(NOT_APPLICABLE))
            else:
                spread = spreads.get(cell, math.nan) if index < len(categories) else math.nan
                text = _percent(value) + ("" if math.isnan(spread) else f" ± {100 * spread:.2f}")
                mean_interval = None
                if index == len(categories):
                    mean_interval = significance.mean_interval(evidence, dataset, categories, model, metric, by_cell,
                                                               test_images)
                    interval = mean_interval[2] if mean_interval else ""
                else:
                    interval = significance.interval_text(
                        evidence, dataset, columns[index], model, metric, ok_seeds.get(cell, []),
                        row_intervals.get(cell), estimates=by_cell.get(cell, {}), n_images=test_images.get(cell))
                if index < len(categories) and not complete(*cell):
                    failed_seeds = ", ".join(str(seed) for seed, _ in failures[cell])
                    cells.append(Cell(f"{text} ({n_ok[cell]}/{n_seeds[cell]} seeds)", partial=True,
                                      degenerate=cell in degenerate, note=f"failed seeds: {failed_seeds}",
                                      interval=interval))
                else:
                    cells.append(Cell(text, bold=round(100 * value, 2) == best[index], degenerate=cell in degenerate,
                                      not_worse=cell in not_worse, interval=interval,
                                      bounds=mean_interval[:2] if mean_interval else None))
        table.rows.append((model, cells))
    return table


def report_tables(frame: pd.DataFrame, labels: Labels | None = None, evidence: Evidence | None = None) -> list[Table]:
    """Every dataset x metric table that has at least one value."""
    tables = []
    for dataset in dict.fromkeys(frame["dataset"]):
        rows = frame[frame["dataset"] == dataset]
        for metric in report_metrics(rows):
            if metric in rows and rows[metric].notna().any():
                tables.append(metric_table(frame, dataset, metric, metric_title(metric), labels, evidence))
    return tables
