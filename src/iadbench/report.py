"""The report: the study's tables (methods x categories per metric) as HTML and LaTeX.

Renderers are pure: a DataFrame (and plain values) in, a string out, through jinja2 templates
with autoescaping and StrictUndefined. Only :func:`build_report` touches files.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
import yaml

from iadbench.io import write_text
from iadbench.results import KEY_COLUMNS, read_rows

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
    "hostname", "cpu", "gpu", "device", "weights", "image_size", "eval_resolution",
)


@dataclass
class Cell:
    text: str
    bold: bool = False
    failed: bool = False


@dataclass
class Table:
    dataset: str
    metric: str
    title: str
    columns: list[str]
    rows: list[tuple[str, list[Cell]]] = field(default_factory=list)


def _percent(value: float) -> str:
    return f"{100 * value:.2f}"


def metric_table(frame: pd.DataFrame, dataset: str, metric: str, title: str) -> Table:
    """Methods x categories (+ mean over categories) of one metric; the best per column in bold.

    Seeds are averaged. A cell is "failed" when every seed failed, "–" when the metric does not
    apply (e.g. pixel metrics of a classification model) or is undefined. The mean is only
    given when every category has a value. Ties (at the printed precision) are all bold.
    """
    rows = frame[frame["dataset"] == dataset]
    categories = list(dict.fromkeys(rows["category"]))
    models = list(dict.fromkeys(rows["model"]))
    ok = rows[rows["status"] == "ok"]
    means = ok.groupby(["model", "category"], sort=False)[metric].mean()
    failed = set(rows.loc[rows["status"] != "ok", ["model", "category"]].itertuples(index=False, name=None))
    failed -= set(ok[["model", "category"]].itertuples(index=False, name=None))
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
                cells.append(Cell(FAILED, failed=True))
            elif math.isnan(value):
                cells.append(Cell(NOT_APPLICABLE))
            else:
                cells.append(Cell(_percent(value), bold=round(100 * value, 2) == best[index]))
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


def heatmap_png(frame: pd.DataFrame, dataset: str, metric: str) -> str:
    """A seaborn heatmap (models x categories, seeds averaged) as a base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    rows = frame[(frame["dataset"] == dataset) & (frame["status"] == "ok")]
    grid = rows.pivot_table(index="model", columns="category", values=metric, aggfunc="mean", sort=False)
    figure, axes = plt.subplots(figsize=(1.2 + 0.9 * grid.shape[1], 0.9 + 0.45 * grid.shape[0]))
    sns.heatmap(100 * grid.astype(float), annot=True, fmt=".1f", vmin=0, vmax=100, cmap="viridis",
                cbar_kws={"label": f"{metric} (%)"}, ax=axes)
    axes.set_title(f"{dataset}: {metric}")
    axes.set_xlabel("")
    axes.set_ylabel("")
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


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


def render_html(frame: pd.DataFrame, template_dir: str | Path, title: str, config: dict[str, Any] | None = None,
                heatmaps: bool = True) -> str:
    context = _context(frame, title)
    context["heatmaps"] = [
        {"dataset": table.dataset, "metric": table.metric, "png": heatmap_png(frame, table.dataset, table.metric)}
        for table in context["tables"] if heatmaps and table.metric in ("image_AUROC", "pixel_AUROC")
    ]
    context["config_yaml"] = yaml.safe_dump(config, sort_keys=False) if config else ""
    return _environment(template_dir, latex=False).get_template("index.html.j2").render(**context)


def render_latex(frame: pd.DataFrame, template_dir: str | Path, title: str) -> str:
    return _environment(template_dir, latex=True).get_template("tables.tex.j2").render(**_context(frame, title))


def build_report(*, benchmark_path: str | Path, template_dir: str | Path, html_path: str | Path,
                 tex_path: str | Path, title: str, config: dict[str, Any] | None = None) -> None:
    frame = read_rows([benchmark_path])
    write_text(html_path, render_html(frame, template_dir, title, config))
    write_text(tex_path, render_latex(frame, template_dir, title))
