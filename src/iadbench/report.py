"""The report: the study's tables (methods x categories per metric) as HTML, LaTeX, CSV and Markdown, the
reproduction section (ours beside the study and the literature) and a paper-ready LaTeX document.

One context (:func:`report_context`) feeds every template; the table logic, figures and readers it gathers
live in metrics/figures/ranking, :mod:`iadbench.reproduction` (ours vs published), :mod:`iadbench.paper`
(per-table files, paper.tex and its PDF) and :mod:`iadbench.labels` (printed names and category order).

Renderers are pure: a DataFrame (and plain values) in, a string out, through jinja2 templates with
autoescaping and StrictUndefined. Only the readers (:func:`job_resources`, :func:`gallery_items`, the
reference files) and :func:`build_report` touch files.
"""

from __future__ import annotations

import base64
import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from iadbench import figures, paper
from iadbench.files import atomic_write, write_text
from iadbench.labels import Labels, labels_for
from iadbench.metric_names import (  # noqa: F401 -- re-exported: the report's names for metric columns
    AUPRO_LIMIT_COLUMN,
    LITERATURE_AUPRO,
    METRIC_TITLES,
    NOT_APPLICABLE,
    metric_title,
    our_column,
)
from iadbench.metric_names import percent as _percent
from iadbench.ranking import compare_methods
from iadbench.reproduction import (
    FLAG_NOTE,
    backbones_of,
    read_reference_files,
    reproduction_tables,
    study_audit,
)
from iadbench.results import KEY_COLUMNS, read_rows
from iadbench.templating import environment as _environment
from iadbench.templating import latex_escape  # noqa: F401 -- re-exported

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
AUDIT_NOTE = ("Cells of the study that contradict themselves (iadbench.references.study_implausible_cells); "
              "ours: mean over seeds of complete cells; PRO: AU-PRO at FPR ≤ 0.3.")
PROVENANCE_COLUMNS = (
    "python_version", "torch_version", "anomalib_version", "torchvision_version", "timm_version",
    "lightning_version", "torchmetrics_version", "freia_version", "numpy_version", "sklearn_version",
    "opencv_version", "iadbench_version", "git_commit", "config_hash",
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
    columns: list[str]  # category folder names, then "Mean"
    rows: list[tuple[str, list[Cell]]] = field(default_factory=list)  # (model config name, cells)
    header: list[str] = field(default_factory=list)  # the columns as printed (category labels)
    names: dict[str, str] = field(default_factory=dict)  # model → printed name

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


def _failure_text(error_type: Any, error_tail: Any) -> str:
    return next((str(text) for text in (error_tail, error_type) if not pd.isna(text) and str(text)), "")


def metric_table(frame: pd.DataFrame, dataset: str, metric: str, title: str, labels: Labels | None = None) -> Table:
    """Methods x categories (+ mean over categories) of one metric; the best per column in bold.

    Seeds are averaged (mean ± standard deviation when there are several). A cell is "failed" when
    every seed failed, "–" when the metric does not apply (e.g. pixel metrics of a classification
    model) or is undefined, and says "(k/n seeds)" when only k of its n seeds succeeded: a mean over
    the survivors is not comparable with a mean over every seed, so such a cell is never bold and
    the mean is only given when every category has a complete value. Ties (at the printed
    precision) are all bold. Pixel metrics of jobs with constant anomaly maps are marked degenerate.
    Categories come in ``labels``' order and print as its labels, models as their display names.
    """
    labels = labels or Labels()
    rows = frame[frame["dataset"] == dataset]
    categories = labels.order(dataset, rows["category"])
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
    table = Table(dataset=dataset, metric=metric, title=title, columns=columns,
                  header=[labels.category(dataset, category) for category in categories] + ["Mean"],
                  names={model: labels.model(model) for model in models})
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


def report_tables(frame: pd.DataFrame, labels: Labels | None = None) -> list[Table]:
    """Every dataset x metric table that has at least one value."""
    tables = []
    for dataset in dict.fromkeys(frame["dataset"]):
        rows = frame[frame["dataset"] == dataset]
        for metric in report_metrics(rows):
            if metric in rows and rows[metric].notna().any():
                tables.append(metric_table(frame, dataset, metric, metric_title(metric), labels))
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


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-") or "figure"


def _figures(frame: pd.DataFrame, tables: list[Table], comparisons: dict, labels: Labels) -> list[dict[str, str]]:
    """{"caption", "png" (base64), "name" (a file stem: letters, digits, dashes; unique)}; drawn with printed
    model and category names, categories in their configured order."""
    made = []
    ranked = ranked_metrics(frame)
    printed = labels.apply(frame)
    for table in tables:
        if table.metric in ranked:
            made.append({"caption": f"{table.dataset}: {table.title}",
                         "png": figures.heatmap(printed, table.dataset, table.metric, table.title)})
    for dataset in dict.fromkeys(frame.loc[frame["status"] == "ok", "dataset"]):
        made.append({"caption": f"{dataset}: image AUROC per category",
                     "png": figures.category_boxplot(printed, dataset, "image_AUROC")})
    if (frame["status"] == "ok").any():
        made.append({"caption": "Image AUROC vs throughput",
                     "png": figures.efficiency(printed, "image_AUROC", "images_per_second", "images/s")})
        made.append({"caption": "Image AUROC vs peak memory",
                     "png": figures.efficiency(printed, "image_AUROC", "peak_rss_mb", "peak RSS (MB)")})
    for metric, comparison in comparisons.items():
        named = dataclasses.replace(comparison, average_ranks=comparison.average_ranks.rename(labels.model))
        made.append({"caption": f"Critical difference diagram, {metric_title(metric)}",
                     "png": figures.critical_difference(named, metric_title(metric))})
    seen: dict[str, int] = {}
    for figure in made:
        stem = _slug(figure["caption"])
        seen[stem] = seen.get(stem, 0) + 1
        figure["name"] = stem if seen[stem] == 1 else f"{stem}-{seen[stem]}"
    return made


def _grids(context: dict[str, Any]) -> list[paper.Grid]:
    """Every table of the report as a grid (LaTeX, CSV and Markdown): metric tables, average ranks,
    reproduction tables, study audit."""
    suffix = " (random weights, not paper numbers)" if context["random_weights"] else ""
    grids = []
    for table in context["tables"]:
        caption = f"{suffix}. Best per column in bold."
        if table.has_partial:
            caption += " (k/n seeds): some seeds failed; such a cell is never bold and is not in the mean."
        notes = [f"† {DEGENERATE_NOTE}"] if table.has_degenerate else []
        grids.append(paper.metric_grid(table, caption, notes))
    if context["rank_metrics"]:
        grids.append(paper.rank_grid(context["rank_metrics"], context["metric_titles"], context["rank_rows"],
                                     context["comparisons"], context["model_labels"]))
    grids += [paper.reproduction_grid(table, FLAG_NOTE) for table in context["reproduction"]]
    if context["audit"] is not None:
        grids.append(paper.audit_grid(context["audit"], AUDIT_NOTE))
    return grids


def report_context(frame: pd.DataFrame, title: str, config: dict[str, Any] | None = None, *,
                   references: pd.DataFrame | None = None, with_figures: bool = False,
                   gallery: list[dict[str, str]] | None = None, resources: pd.DataFrame | None = None,
                   labels: Labels | None = None) -> dict[str, Any]:
    """What every template reads. ``references``: :func:`iadbench.reproduction.read_reference_files`' frame
    (no reproduction section without it); ``gallery`` items are {"caption", "png" (base64)} made by
    :mod:`iadbench.gallery`; ``resources`` is :func:`job_resources`' summary (no "Job resources" without it)."""
    from iadbench.references import study_implausible_cells

    labels = labels or labels_for(frame["model"], config)
    random_weights = bool((frame.get("weights") == "random").any()) if len(frame) else False
    failed = frame.loc[frame["status"] != "ok", [*KEY_COLUMNS, "error_type", "error_tail"]].astype(object)
    failed = failed.where(failed.notna(), "")  # a missing error tail is empty, not "<NA>"
    rank_metrics, rank_rows, comparisons = rank_summary(frame)
    tables = report_tables(frame, labels)
    has_references = references is not None and not references.empty
    context = {
        "title": title,
        "tables": tables,
        "random_weights": random_weights,
        "random_weights_note": RANDOM_WEIGHTS_NOTE,
        "n_rows": len(frame),
        "partial_note": PARTIAL_NOTE,
        "degenerate_note": DEGENERATE_NOTE,
        "complete_cells_note": COMPLETE_CELLS_NOTE,
        "failed": failed.astype(str).to_dict("records"),
        "provenance": provenance(frame),
        "rank_metrics": rank_metrics,
        "rank_rows": rank_rows,
        "comparisons": comparisons,
        "metric_titles": {metric: metric_title(metric) for metric in rank_metrics},
        "model_labels": {model: labels.model(model) for model in dict.fromkeys(frame["model"])},
        "reproduction": reproduction_tables(frame, references, labels, backbones_of(config)) if has_references
        else [],
        "audit": study_audit(frame, study_implausible_cells(references), labels) if has_references else None,
        "flag_note": FLAG_NOTE,
        "audit_note": AUDIT_NOTE,
        "figures": _figures(frame, tables, comparisons, labels) if with_figures else [],
        "gallery": gallery or [],
        "job_resources": job_resource_rows(resources) if resources is not None else [],
        "config_yaml": yaml.safe_dump(config, sort_keys=False) if config else "",
    }
    context["grids"] = _grids(context)
    return context


def _html(context: dict[str, Any], template_dir: str | Path) -> str:
    return _environment(template_dir, latex=False).get_template("index.html.j2").render(**context)


def _latex(context: dict[str, Any], template_dir: str | Path) -> tuple[str, dict[str, str]]:
    """tables.tex (every table) and each table's own LaTeX by grid name."""
    latex = _environment(template_dir, latex=True)
    tables = {grid.name: paper.latex_table(grid, latex) for grid in context["grids"]}
    return latex.get_template("tables.tex.j2").render(**context, latex_tables=tables), tables


def render_html(frame: pd.DataFrame, template_dir: str | Path, title: str, config: dict[str, Any] | None = None,
                with_figures: bool = True, gallery: list[dict[str, str]] | None = None,
                references: pd.DataFrame | None = None, resources: pd.DataFrame | None = None) -> str:
    """The HTML report (see :func:`report_context` for the arguments)."""
    context = report_context(frame, title, config, references=references, with_figures=with_figures,
                             gallery=gallery, resources=resources)
    return _html(context, template_dir)


def render_latex(frame: pd.DataFrame, template_dir: str | Path, title: str, config: dict[str, Any] | None = None,
                 references: pd.DataFrame | None = None) -> str:
    """tables.tex: every table of the report, to \\input (needs booktabs, graphicx and longtable)."""
    return _latex(report_context(frame, title, config, references=references), template_dir)[0]


def render_paper(context: dict[str, Any], template_dir: str | Path) -> str:
    """paper.tex for a context made with figures (their files are ``figures/<name>.png``)."""
    notes = ([RANDOM_WEIGHTS_NOTE] if context["random_weights"] else []) + [COMPLETE_CELLS_NOTE]
    return paper.paper_document(_environment(template_dir, latex=True), context["title"], context["grids"],
                                context["figures"], notes)


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


def gallery_items(paths, labels: Labels | None = None) -> list[dict[str, str]]:
    """Gallery PNGs (``results/gallery/<dataset>/<category>/<model>/<seed>.png``) as report items."""
    labels = labels or Labels()
    items = []
    for path in map(Path, paths):
        dataset, category, model = path.parts[-4:-1]
        items.append({"caption": f"{dataset} / {labels.category(dataset, category)} / {labels.model(model)}",
                      "png": base64.b64encode(path.read_bytes()).decode()})
    return items


TABLE_SUFFIXES = (".tex", ".csv", ".md")


def _write_folder(folder: Path, files: dict[str, bytes | str]) -> None:
    """Write ``files`` (name → content) into ``folder``, removing files of an earlier report that are not
    among them (a table or figure that no longer exists must not linger beside paper.tex)."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.iterdir():
        if stale.is_file() and stale.name not in files and stale.suffix in (*TABLE_SUFFIXES, ".png"):
            stale.unlink()
    for name, content in files.items():
        if isinstance(content, bytes):
            atomic_write(folder / name, lambda temporary, data=content: temporary.write_bytes(data))
        else:
            write_text(folder / name, content)


def build_report(*, benchmark_path: str | Path, template_dir: str | Path, html_path: str | Path,
                 tex_path: str | Path, title: str, config: dict[str, Any] | None = None,
                 gallery_paths=(), reference_paths=(), benchmark_paths=(), tables_dir: str | Path | None = None,
                 figures_dir: str | Path | None = None, paper_path: str | Path | None = None) -> None:
    """Write the report: ``html_path``, ``tex_path`` (every table), ``tables_dir`` (each table as
    ``<name>.tex``, ``.csv`` and ``.md``), ``figures_dir`` (the figures as PNG) and ``paper_path`` (a LaTeX
    document of them all), compiled to ``paper.pdf`` beside it when pdflatex is installed (a failed compile
    is logged and leaves no PDF). The folders and paper.tex default to siblings of ``tex_path``.
    ``benchmark_paths``: Snakemake ``benchmark:`` TSVs of the jobs, summarised as "Job resources"."""
    output = Path(tex_path).parent
    tables_dir = Path(tables_dir or output / "tables")
    figures_dir = Path(figures_dir or output / "figures")
    paper_path = Path(paper_path or output / "paper.tex")
    frame = read_rows([benchmark_path])
    labels = labels_for(frame["model"], config)
    context = report_context(frame, title, config, references=read_reference_files(reference_paths),
                             with_figures=True, gallery=gallery_items(gallery_paths, labels),
                             resources=job_resources(benchmark_paths), labels=labels)
    write_text(html_path, _html(context, template_dir))
    all_tables, tables = _latex(context, template_dir)
    write_text(tex_path, all_tables)
    files: dict[str, bytes | str] = {}
    for grid in context["grids"]:
        files |= {f"{grid.name}.tex": tables[grid.name], f"{grid.name}.csv": paper.csv_text(grid),
                  f"{grid.name}.md": paper.markdown_text(grid)}
    _write_folder(tables_dir, files)
    _write_folder(figures_dir, {f"{figure['name']}.png": base64.b64decode(figure["png"])
                                for figure in context["figures"]})
    # paper.tex inputs tables/ and figures/ by those names: the folders must be its siblings.
    write_text(paper_path, render_paper(context, template_dir))
    paper.compile_pdf(paper_path)
