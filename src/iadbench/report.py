"""The report: the study's tables (methods x categories per metric) as HTML and LaTeX.

Renderers are pure: a DataFrame (and plain values) in, a string out, through jinja2 templates
with autoescaping and StrictUndefined. Only :func:`build_report` touches files.
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
from iadbench.io import write_text
from iadbench.results import KEY_COLUMNS, read_rows
from iadbench.statistics import compare_methods

# (column, title) in the order the report prints them; values are shown in percent.
REPORT_METRICS = (
    ("image_AUROC", "Image AUROC"),
    ("pixel_AUROC", "Pixel AUROC"),
    ("pixel_AUPRO", "Pixel AU-PRO (FPR ≤ 0.3)"),
    ("image_AP", "Image AP"),
    ("pixel_AP", "Pixel AP"),
    ("image_F1_max", "Image F1-max"),
    ("pixel_F1_max", "Pixel F1-max"),
)
NOT_APPLICABLE = "–"
FAILED = "failed"
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


def _percent(value: float) -> str:
    return f"{100 * value:.2f}"


def metric_table(frame: pd.DataFrame, dataset: str, metric: str, title: str) -> Table:
    """Methods x categories (+ mean over categories) of one metric; the best per column in bold.

    Seeds are averaged (mean ± standard deviation when there are several). A cell is "failed" when every seed failed, "–" when the metric does not
    apply (e.g. pixel metrics of a classification model) or is undefined. The mean is only
    given when every category has a value. Ties (at the printed precision) are all bold.
    """
    rows = frame[frame["dataset"] == dataset]
    categories = list(dict.fromkeys(rows["category"]))
    models = list(dict.fromkeys(rows["model"]))
    ok = rows[rows["status"] == "ok"]
    grouped = ok.groupby(["model", "category"], sort=False)[metric]
    means, spreads = grouped.mean().to_dict(), grouped.std().to_dict()  # std is NaN with one seed
    failed = set(rows.loc[rows["status"] != "ok", ["model", "category"]].itertuples(index=False, name=None))
    failed -= set(ok[["model", "category"]].itertuples(index=False, name=None))
    failed_seeds = {(model, category): seed for model, category, seed in
                    rows.loc[rows["status"] != "ok", ["model", "category", "seed"]].itertuples(index=False, name=None)}
    values: dict[str, list[float]] = {}
    for model in models:
        per_category = [float(means.get((model, category), math.nan)) for category in categories]
        complete = all(not math.isnan(value) for value in per_category)
        values[model] = per_category + [sum(per_category) / len(per_category) if complete else math.nan]
    columns = categories + ["Mean"]
    best = []
    for index in range(len(columns)):
        shown = [round(100 * values[model][index], 2) for model in models if not math.isnan(values[model][index])]
        best.append(max(shown) if shown else None)
    table = Table(dataset=dataset, metric=metric, title=title, columns=columns)
    for model in models:
        cells = []
        for index, value in enumerate(values[model]):
            if index < len(categories) and (model, categories[index]) in failed:
                seed = failed_seeds[(model, categories[index])]
                log = f"../logs/train/{dataset}/{categories[index]}/{model}/{seed}.log"
                cells.append(Cell(FAILED, failed=True, link=log))
            elif math.isnan(value):
                cells.append(Cell(NOT_APPLICABLE))
            else:
                spread = spreads.get((model, categories[index]), math.nan) if index < len(categories) else math.nan
                text = _percent(value) + ("" if math.isnan(spread) else f" ± {100 * spread:.2f}")
                cells.append(Cell(text, bold=round(100 * value, 2) == best[index]))
        table.rows.append((model, cells))
    return table


def report_tables(frame: pd.DataFrame) -> list[Table]:
    """Every dataset x metric table that has at least one value."""
    tables = []
    for dataset in dict.fromkeys(frame["dataset"]):
        for metric, title in REPORT_METRICS:
            if metric in frame and frame.loc[frame["dataset"] == dataset, metric].notna().any():
                tables.append(metric_table(frame, dataset, metric, title))
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
}


def latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIALS.get(character, character) for character in text)


def _context(frame: pd.DataFrame, title: str) -> dict[str, Any]:
    random_weights = bool((frame.get("weights") == "random").any()) if len(frame) else False
    failed = frame[frame["status"] != "ok"][[*KEY_COLUMNS, "error_type"]]
    return {
        "title": title,
        "tables": report_tables(frame),
        "random_weights": random_weights,
        "random_weights_note": RANDOM_WEIGHTS_NOTE,
        "n_rows": len(frame),
        "failed": failed.astype(str).to_dict("records"),
        "provenance": provenance(frame),
    }


RANKED_METRICS = ("image_AUROC", "pixel_AUROC", "pixel_AUPRO")
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


def reference_deltas(frame: pd.DataFrame, references: pd.DataFrame) -> list[dict[str, str]]:
    """Our mean over categories (seeds averaged) next to each published number, where we ran that model."""
    from iadbench.datasets import DATASET_CATEGORIES

    rows = []
    ok = frame[frame["status"] == "ok"]
    for reference in references.itertuples(index=False):
        ours = ok[(ok["dataset"] == reference.dataset) & (ok["model"] == reference.model)]
        if ours.empty or reference.metric not in ours:
            continue
        per_category = ours.groupby("category")[reference.metric].mean().dropna()
        if per_category.empty:
            continue
        mean = float(per_category.mean())
        known = DATASET_CATEGORIES.get(reference.dataset, ())
        coverage = f"{len(per_category)} of {len(known)}" if known else str(len(per_category))
        rows.append({"dataset": reference.dataset, "model": reference.model, "variant": reference.variant,
                     "metric": reference.metric, "published": _percent(reference.value), "ours": _percent(mean),
                     "delta": f"{100 * (mean - reference.value):+.2f}", "categories": coverage,
                     "source": f"{reference.source}, {reference.table}"})
    return rows


def rank_summary(frame: pd.DataFrame) -> tuple[list[str], list[tuple[str, list[str]]], dict]:
    """Average rank of each method over all complete categories, per ranked metric."""
    comparisons = {metric: compare_methods(frame, metric) for metric in RANKED_METRICS if metric in frame}
    comparisons = {metric: comparison for metric, comparison in comparisons.items() if comparison is not None}
    models = sorted({model for comparison in comparisons.values() for model in comparison.average_ranks.index})
    rows = [(model, [f"{comparisons[metric].average_ranks[model]:.2f}"
                     if model in comparisons[metric].average_ranks else NOT_APPLICABLE for metric in comparisons])
            for model in models]
    return list(comparisons), rows, comparisons


def _figures(frame: pd.DataFrame, tables: list[Table], comparisons: dict) -> list[dict[str, str]]:
    made = []
    for table in tables:
        if table.metric in RANKED_METRICS:
            made.append({"caption": f"{table.dataset}: {table.title}",
                         "png": figures.heatmap(frame, table.dataset, table.metric)})
    for dataset in dict.fromkeys(frame.loc[frame["status"] == "ok", "dataset"]):
        made.append({"caption": f"{dataset}: image AUROC per category",
                     "png": figures.category_boxplot(frame, dataset, "image_AUROC")})
    if (frame["status"] == "ok").any():
        made.append({"caption": "Image AUROC vs throughput",
                     "png": figures.efficiency(frame, "image_AUROC", "images_per_second", "images/s")})
        made.append({"caption": "Image AUROC vs peak memory",
                     "png": figures.efficiency(frame, "image_AUROC", "peak_rss_mb", "peak RSS (MB)")})
    for metric, comparison in comparisons.items():
        made.append({"caption": f"Critical difference diagram, {metric}",
                     "png": figures.critical_difference(comparison, metric)})
    return made


def render_html(frame: pd.DataFrame, template_dir: str | Path, title: str, config: dict[str, Any] | None = None,
                with_figures: bool = True, gallery: list[dict[str, str]] | None = None,
                references: pd.DataFrame | None = None) -> str:
    """The HTML report; ``gallery`` items are {"caption", "png" (base64)} made by :mod:`iadbench.gallery`."""
    context = _context(frame, title)
    context["gallery"] = gallery or []
    context["reference_rows"] = reference_deltas(frame, references) if references is not None else []
    context["rank_metrics"], context["rank_rows"], comparisons = rank_summary(frame)
    context["comparisons"] = comparisons
    context["figures"] = _figures(frame, context["tables"], comparisons) if with_figures else []
    context["config_yaml"] = yaml.safe_dump(config, sort_keys=False) if config else ""
    return _environment(template_dir, latex=False).get_template("index.html.j2").render(**context)


def render_latex(frame: pd.DataFrame, template_dir: str | Path, title: str) -> str:
    return _environment(template_dir, latex=True).get_template("tables.tex.j2").render(**_context(frame, title))


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
                 gallery_paths=(), reference_paths=()) -> None:
    frame = read_rows([benchmark_path])
    html = render_html(frame, template_dir, title, config, gallery=gallery_items(gallery_paths),
                       references=read_references(reference_paths))
    write_text(html_path, html)
    write_text(tex_path, render_latex(frame, template_dir, title))
