"""The report: the study's tables (methods x categories per metric) as HTML and LaTeX.

(Over 350 lines: one context feeds both templates; the table logic, figures and readers it gathers are
already in metrics/figures/ranking.)

Renderers are pure: a DataFrame (and plain values) in, a string out, through jinja2 templates
with autoescaping and StrictUndefined. Only the readers (:func:`read_references`, :func:`job_resources`,
:func:`gallery_items`) and :func:`build_report` touch files.
"""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
import yaml

from iadbench import figures
from iadbench.files import write_text
from iadbench.ranking import compare_methods, complete_cells
from iadbench.results import KEY_COLUMNS, read_rows

# Column → title, in the order the report prints them; values are shown in percent. "pixel_AUPRO"
# stands for one table per AU-PRO limit (see aupro_columns).
METRIC_TITLES = {
    "image_AUROC": "Image AUROC",
    "pixel_AUROC": "Pixel AUROC",
    "pixel_AUPRO": "Pixel AU-PRO (first configured FPR limit)",
    "image_AP": "Image AP",
    "pixel_AP": "Pixel AP",
    "image_F1_max": "Image F1-max",
    "pixel_F1_max": "Pixel F1-max",
}
# pixel_AUPRO_<percent>: AU-PRO integrated up to FPR <percent>/100 (iadbench.metrics.pixel_metrics).
AUPRO_LIMIT_COLUMN = re.compile(r"pixel_AUPRO_(\d+)")
# The literature's AU-PRO (Bergmann et al., MVTec AD, and every paper since) integrates up to FPR 0.3.
LITERATURE_AUPRO = "pixel_AUPRO_30"
NOT_APPLICABLE = "–"
FAILED = "failed"
PARTIAL_NOTE = ("k/n seeds: only k of the n seeds of that cell succeeded (the others failed); such a cell is "
                "never bold and is left out of the mean and of the ranks.")
DEGENERATE_NOTE = ("constant anomaly maps (every map of the job is flat) in at least one seed of the cell: "
                   "its pixel metrics are meaningless.")
COMPLETE_CELLS_NOTE = ("A model × category cell is complete when every one of its seeds succeeded; bold, "
                       "the Mean column and the average ranks use complete cells only.")
RANDOM_WEIGHTS_NOTE = (
    "Backbones were randomly initialised (weights: random). These numbers exercise the pipeline; "
    "they are not comparable with published, pretrained results."
)
PROVENANCE_COLUMNS = (
    "python_version", "torch_version", "anomalib_version", "iadbench_version", "git_commit", "config_hash",
    "hostname", "cpu", "gpu", "device", "weights", "pretrained_assets", "image_size", "eval_resolution",
)


@dataclass
class Cell:
    text: str
    bold: bool = False
    failed: bool = False
    link: str = ""  # failed cells: the training log, relative to results/report/
    partial: bool = False  # some seeds failed: the value is a mean over the survivors only
    degenerate: bool = False  # pixel metric of a job whose anomaly maps are all constant
    note: str = ""  # shown on hover in the HTML: the error tail of a failed cell, the failed seeds of a partial one


@dataclass
class Table:
    dataset: str
    metric: str
    title: str
    columns: list[str]
    rows: list[tuple[str, list[Cell]]] = field(default_factory=list)

    @property
    def label(self) -> str:
        """A LaTeX/HTML-safe identifier (letters, digits, dashes)."""
        return re.sub(r"[^A-Za-z0-9]+", "-", f"{self.dataset}-{self.metric}")

    @property
    def has_partial(self) -> bool:
        return any(cell.partial for _, cells in self.rows for cell in cells)

    @property
    def has_degenerate(self) -> bool:
        return any(cell.degenerate for _, cells in self.rows for cell in cells)


def metric_title(column: str) -> str:
    """The title of a metric column; an AU-PRO title names its FPR limit from the column itself."""
    limit = AUPRO_LIMIT_COLUMN.fullmatch(column)
    if limit:
        return f"Pixel AU-PRO (FPR ≤ {int(limit.group(1)) / 100:g})"
    return METRIC_TITLES.get(column, column)


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
    """The metric columns to tabulate for ``frame``, in the report's order (one table per AU-PRO limit)."""
    columns = []
    for metric in METRIC_TITLES:
        columns.extend(aupro_columns(frame) if metric == "pixel_AUPRO" else [metric])
    return columns


def _flag(frame: pd.DataFrame, column: str) -> pd.Series:
    """A boolean column as plain bools; missing (old rows, or no such column) is False."""
    if column not in frame:
        return pd.Series(False, index=frame.index)
    return frame[column].astype("boolean").fillna(False).astype(bool)


def _percent(value: float) -> str:
    return f"{100 * value:.2f}"


def _failure_text(error_type: Any, error_tail: Any) -> str:
    return next((str(text) for text in (error_tail, error_type) if not pd.isna(text) and str(text)), "")


def metric_table(frame: pd.DataFrame, dataset: str, metric: str, title: str) -> Table:
    """Methods x categories (+ mean over categories) of one metric; the best per column in bold.

    Seeds are averaged (mean ± standard deviation when there are several). A cell is "failed" when
    every seed failed, "–" when the metric does not apply (e.g. pixel metrics of a classification
    model) or is undefined, and says "(k/n seeds)" when only k of its n seeds succeeded: a mean over
    the survivors is not comparable with a mean over every seed, so such a cell is never bold and
    the mean is only given when every category has a complete value. Ties (at the printed
    precision) are all bold. Pixel metrics of jobs with constant anomaly maps are marked degenerate.
    """
    rows = frame[frame["dataset"] == dataset]
    categories = list(dict.fromkeys(rows["category"]))
    models = list(dict.fromkeys(rows["model"]))
    is_ok = rows["status"].eq("ok").fillna(False).astype(bool)
    ok = rows[is_ok]
    grouped = ok.groupby(["model", "category"], sort=False)[metric]
    means, spreads = grouped.mean().to_dict(), grouped.std().to_dict()  # std is NaN with one seed
    n_seeds = rows.groupby(["model", "category"], sort=False).size().to_dict()
    n_ok = ok.groupby(["model", "category"], sort=False).size().to_dict()
    failures: dict[tuple[str, str], list[tuple[Any, str]]] = {}
    for model, category, seed, error_type, error_tail in rows.loc[
            ~is_ok, ["model", "category", "seed", "error_type", "error_tail"]].itertuples(index=False, name=None):
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
    best = []
    for index, column in enumerate(columns):
        shown = [round(100 * values[model][index], 2) for model in models
                 if not math.isnan(values[model][index]) and (column == "Mean" or complete(model, column))]
        best.append(max(shown) if shown else None)
    table = Table(dataset=dataset, metric=metric, title=title, columns=columns)
    for model in models:
        cells = []
        for index, value in enumerate(values[model]):
            cell = (model, columns[index])
            if index < len(categories) and n_seeds.get(cell) and not n_ok.get(cell):
                seed, error = failures[cell][-1]
                log = f"../logs/train/{dataset}/{categories[index]}/{model}/{seed}.log"
                cells.append(Cell(FAILED, failed=True, link=log, note=error))
            elif math.isnan(value):
                cells.append(Cell(NOT_APPLICABLE))
            else:
                spread = spreads.get(cell, math.nan) if index < len(categories) else math.nan
                text = _percent(value) + ("" if math.isnan(spread) else f" ± {100 * spread:.2f}")
                if index < len(categories) and not complete(*cell):
                    failed_seeds = ", ".join(str(seed) for seed, _ in failures[cell])
                    cells.append(Cell(f"{text} ({n_ok[cell]}/{n_seeds[cell]} seeds)", partial=True,
                                      degenerate=cell in degenerate, note=f"failed seeds: {failed_seeds}"))
                else:
                    cells.append(Cell(text, bold=round(100 * value, 2) == best[index],
                                      degenerate=cell in degenerate))
        table.rows.append((model, cells))
    return table


def report_tables(frame: pd.DataFrame) -> list[Table]:
    """Every dataset x metric table that has at least one value."""
    tables = []
    for dataset in dict.fromkeys(frame["dataset"]):
        rows = frame[frame["dataset"] == dataset]
        for metric in report_metrics(rows):
            if metric in rows and rows[metric].notna().any():
                tables.append(metric_table(frame, dataset, metric, metric_title(metric)))
    return tables


def provenance(frame: pd.DataFrame) -> dict[str, str]:
    """Distinct values of each provenance column, and the run dates."""
    facts = {}
    for column in PROVENANCE_COLUMNS:
        if column in frame:
            facts[column] = ", ".join(sorted({str(value) for value in frame[column].dropna()})) or NOT_APPLICABLE
    if len(frame):
        facts["run dates"] = f"{frame['finished_at'].min():%Y-%m-%d %H:%M} – {frame['finished_at'].max():%Y-%m-%d %H:%M} UTC"
    return facts


def _environment(template_dir: str | Path, latex: bool) -> jinja2.Environment:
    if not latex:
        return jinja2.Environment(loader=jinja2.FileSystemLoader(template_dir), autoescape=True,
                                  undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    # LaTeX: ((( ))) and ((* *)) delimiters keep braces literal; every value is escaped on output.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir), undefined=jinja2.StrictUndefined,
        block_start_string="((*", block_end_string="*))", variable_start_string="(((",
        variable_end_string=")))", comment_start_string="((=", comment_end_string="=))",
        trim_blocks=True, lstrip_blocks=True, autoescape=False,
        finalize=lambda value: latex_escape(value) if isinstance(value, str) else value,
    )


LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
    "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "–": "--", "≤": r"$\leq$",
    "±": r"$\pm$", "α": r"$\alpha$",
    # A line break would end a % comment early, and a blank line inside \caption is an error.
    "\n": " ", "\r": " ",
}


def latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIALS.get(character, character) for character in text)


def _context(frame: pd.DataFrame, title: str) -> dict[str, Any]:
    random_weights = bool((frame.get("weights") == "random").any()) if len(frame) else False
    failed = frame.loc[frame["status"] != "ok", [*KEY_COLUMNS, "error_type", "error_tail"]].astype(object)
    failed = failed.where(failed.notna(), "")  # a missing error tail is empty, not "<NA>"
    return {
        "title": title,
        "tables": report_tables(frame),
        "random_weights": random_weights,
        "random_weights_note": RANDOM_WEIGHTS_NOTE,
        "n_rows": len(frame),
        "partial_note": PARTIAL_NOTE,
        "degenerate_note": DEGENERATE_NOTE,
        "complete_cells_note": COMPLETE_CELLS_NOTE,
        "failed": failed.astype(str).to_dict("records"),
        "provenance": provenance(frame),
    }


REFERENCE_COLUMNS = ("dataset", "model", "variant", "metric", "value", "source", "table")


def read_references(paths) -> pd.DataFrame:
    """Published numbers to compare with; a file without the expected columns is an error naming it."""
    frames = []
    for path in paths:
        try:
            table = pd.read_csv(path)
        except (OSError, pd.errors.ParserError) as error:
            raise ValueError(f"cannot read reference file {path}: {error}") from error
        missing = [column for column in REFERENCE_COLUMNS if column not in table]
        if missing:
            raise ValueError(f"reference file {path} lacks columns {missing}")
        frames.append(table[list(REFERENCE_COLUMNS)])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(REFERENCE_COLUMNS))


def our_column(reference_metric: str) -> str:
    """The column of ours a published metric compares with, like with like.

    A published "pixel_AUPRO" is integrated up to FPR 0.3, the literature's convention, so it
    compares with our 0.3 limit, never with our plain pixel_AUPRO (whichever limit we listed first).
    Other limits are written out (pixel_AUPRO_05) and compare with that column.
    """
    return LITERATURE_AUPRO if reference_metric == "pixel_AUPRO" else reference_metric


def reference_deltas(frame: pd.DataFrame, references: pd.DataFrame) -> list[dict[str, str]]:
    """Our mean over categories (seeds averaged, complete cells only) next to each published number,
    where we ran that model and computed that metric."""
    from iadbench.datasets import DATASET_CATEGORIES

    rows = []
    complete = frame[complete_cells(frame)]
    for reference in references.itertuples(index=False):
        ours = complete[(complete["dataset"] == reference.dataset) & (complete["model"] == reference.model)]
        column = our_column(reference.metric)
        if ours.empty or column not in ours:
            continue
        per_category = ours.groupby("category")[column].mean().dropna()
        if per_category.empty:
            continue
        mean = float(per_category.mean())
        known = DATASET_CATEGORIES.get(reference.dataset, ())
        coverage = f"{len(per_category)} of {len(known)}" if known else str(len(per_category))
        rows.append({"dataset": reference.dataset, "model": reference.model, "variant": reference.variant,
                     "metric": metric_title(column), "published": _percent(reference.value), "ours": _percent(mean),
                     "delta": f"{100 * (mean - reference.value):+.2f}", "categories": coverage,
                     "source": f"{reference.source}, {reference.table}"})
    return rows


def rank_summary(frame: pd.DataFrame) -> tuple[list[str], list[tuple[str, list[str]]], dict]:
    """Average rank of each method over the categories where every method has a complete cell, per ranked
    metric."""
    comparisons = {metric: compare_methods(frame, metric) for metric in ranked_metrics(frame)}
    comparisons = {metric: comparison for metric, comparison in comparisons.items() if comparison is not None}
    models = sorted({model for comparison in comparisons.values() for model in comparison.average_ranks.index})
    rows = [(model, [f"{comparisons[metric].average_ranks[model]:.2f}"
                     if model in comparisons[metric].average_ranks else NOT_APPLICABLE for metric in comparisons])
            for model in models]
    return list(comparisons), rows, comparisons


def _figures(frame: pd.DataFrame, tables: list[Table], comparisons: dict) -> list[dict[str, str]]:
    made = []
    ranked = ranked_metrics(frame)
    for table in tables:
        if table.metric in ranked:
            made.append({"caption": f"{table.dataset}: {table.title}",
                         "png": figures.heatmap(frame, table.dataset, table.metric, table.title)})
    for dataset in dict.fromkeys(frame.loc[frame["status"] == "ok", "dataset"]):
        made.append({"caption": f"{dataset}: image AUROC per category",
                     "png": figures.category_boxplot(frame, dataset, "image_AUROC")})
    if (frame["status"] == "ok").any():
        made.append({"caption": "Image AUROC vs throughput",
                     "png": figures.efficiency(frame, "image_AUROC", "images_per_second", "images/s")})
        made.append({"caption": "Image AUROC vs peak memory",
                     "png": figures.efficiency(frame, "image_AUROC", "peak_rss_mb", "peak RSS (MB)")})
    for metric, comparison in comparisons.items():
        made.append({"caption": f"Critical difference diagram, {metric_title(metric)}",
                     "png": figures.critical_difference(comparison, metric_title(metric))})
    return made


def render_html(frame: pd.DataFrame, template_dir: str | Path, title: str, config: dict[str, Any] | None = None,
                with_figures: bool = True, gallery: list[dict[str, str]] | None = None,
                references: pd.DataFrame | None = None, resources: pd.DataFrame | None = None) -> str:
    """The HTML report; ``gallery`` items are {"caption", "png" (base64)} made by :mod:`iadbench.gallery`;
    ``resources`` is :func:`job_resources`' summary (no "Job resources" section without it)."""
    context = _context(frame, title)
    context["gallery"] = gallery or []
    context["job_resources"] = job_resource_rows(resources) if resources is not None else []
    context["reference_rows"] = reference_deltas(frame, references) if references is not None else []
    context["rank_metrics"], context["rank_rows"], comparisons = rank_summary(frame)
    context["comparisons"] = comparisons
    context["metric_titles"] = {metric: metric_title(metric) for metric in context["rank_metrics"]}
    context["figures"] = _figures(frame, context["tables"], comparisons) if with_figures else []
    context["config_yaml"] = yaml.safe_dump(config, sort_keys=False) if config else ""
    return _environment(template_dir, latex=False).get_template("index.html.j2").render(**context)


def render_latex(frame: pd.DataFrame, template_dir: str | Path, title: str) -> str:
    return _environment(template_dir, latex=True).get_template("tables.tex.j2").render(**_context(frame, title))


JOB_RESOURCE_COLUMNS = ("rule", "jobs", "total_s", "max_s", "max_rss_mb")


def _rule_of_benchmark(path: Path) -> str:
    """``results/benchmarks/<rule>/<wildcards>.tsv`` (or ``<rule>.tsv`` for a rule without wildcards)."""
    parts = path.parts
    if "benchmarks" in parts[:-1]:
        after = len(parts) - parts[::-1].index("benchmarks")
        return Path(parts[after]).stem
    return path.parent.name


def job_resources(paths) -> pd.DataFrame:
    """Per rule, from Snakemake's ``benchmark:`` TSVs (one per job): jobs, total and largest wall time in
    seconds (``s``), largest ``max_rss`` in MB; rules in order of first appearance.

    A file that is missing, unreadable or has no ``s`` column is skipped: the summary is a side note and
    never stops the report. ``max_rss`` is NaN where Snakemake could not sample it (``NA``: a job shorter
    than its sampling interval).
    """
    per_job = []
    for path in map(Path, paths):
        try:
            table = pd.read_csv(path, sep="\t", na_values=["NA", "-"])
        except (OSError, ValueError):  # pandas' parser and empty-data errors are ValueErrors
            continue
        if "s" not in table or table.empty:
            continue
        wall = pd.to_numeric(table["s"], errors="coerce")
        rss = pd.to_numeric(table.get("max_rss", pd.Series(dtype=float)), errors="coerce")
        if wall.isna().all():
            continue
        # Several lines: `repeat()` runs of one job; the job counts once, at its mean time.
        per_job.append({"rule": _rule_of_benchmark(path), "s": float(wall.mean()), "max_rss_mb": rss.max()})
    if not per_job:
        return pd.DataFrame(columns=list(JOB_RESOURCE_COLUMNS))
    grouped = pd.DataFrame(per_job).groupby("rule", sort=False)
    summary = grouped.agg(jobs=("s", "size"), total_s=("s", "sum"), max_s=("s", "max"),
                          max_rss_mb=("max_rss_mb", "max"))
    return summary.reset_index()[list(JOB_RESOURCE_COLUMNS)]


def job_resource_rows(resources: pd.DataFrame) -> list[dict[str, str]]:
    """The "Job resources" table's cells as text; an unknown RSS is "–"."""
    return [{"rule": str(row.rule), "jobs": str(int(row.jobs)), "total_s": f"{row.total_s:.1f}",
             "max_s": f"{row.max_s:.1f}",
             "max_rss_mb": NOT_APPLICABLE if pd.isna(row.max_rss_mb) else f"{row.max_rss_mb:.0f}"}
            for row in resources.itertuples(index=False)]


def gallery_items(paths) -> list[dict[str, str]]:
    """Gallery PNGs (``results/gallery/<dataset>/<category>/<model>/<seed>.png``) as report items."""
    items = []
    for path in map(Path, paths):
        dataset, category, model = path.parts[-4:-1]
        items.append({"caption": f"{dataset} / {category} / {model}",
                      "png": base64.b64encode(path.read_bytes()).decode()})
    return items


def build_report(*, benchmark_path: str | Path, template_dir: str | Path, html_path: str | Path,
                 tex_path: str | Path, title: str, config: dict[str, Any] | None = None,
                 gallery_paths=(), reference_paths=(), benchmark_paths=()) -> None:
    """``benchmark_paths``: Snakemake ``benchmark:`` TSVs of the jobs, summarised as "Job resources"."""
    frame = read_rows([benchmark_path])
    html = render_html(frame, template_dir, title, config, gallery=gallery_items(gallery_paths),
                       references=read_references(reference_paths), resources=job_resources(benchmark_paths))
    write_text(html_path, html)
    write_text(tex_path, render_latex(frame, template_dir, title))
