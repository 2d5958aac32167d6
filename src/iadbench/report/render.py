"""The report: the study's tables (methods x categories per metric) as HTML, LaTeX, CSV and Markdown, the
reproduction section (ours beside the study and the literature) and a paper-ready LaTeX document.

One context (:func:`report_context`) feeds every template; what it gathers lives elsewhere: the metric tables
in :mod:`iadbench.report.tables` (their paired tests and intervals in :mod:`iadbench.stats.significance`, read from the jobs'
scores and replicates by :mod:`iadbench.stats.evidence`), score distributions in :mod:`iadbench.report.distributions`,
figures/ranking, :mod:`iadbench.report.reproduction` (ours vs published), :mod:`iadbench.report.paper` (per-table files,
paper.tex and its PDF) and :mod:`iadbench.report.labels` (printed names and category order).

Renderers are pure: a DataFrame (and plain values) in, a string out, through jinja2 templates with
autoescaping and StrictUndefined. Only the readers (:func:`iadbench.report.job_resources.job_resources`,
:func:`gallery_items`, :func:`iadbench.stats.evidence.read_evidence`, the reference files) and :func:`build_report`
touch files.
"""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from iadbench.config.predict import predict_pages
from iadbench.core.files import atomic_write, write_text
from iadbench.report import distributions, figures, legend, paper
from iadbench.report import video as video_report
from iadbench.report.job_resources import JOB_RESOURCE_COLUMNS, job_resource_rows, job_resources  # noqa: F401 -- re-exported
from iadbench.report.labels import Labels, labels_for
from iadbench.report.references import study_audit_cells
from iadbench.report.reproduction import (
    FLAG_NOTE,
    backbones_of,
    read_reference_files,
    reproduction_tables,
    study_audit,
)
from iadbench.report.summary import dataset_sections
from iadbench.report.tables import (  # noqa: F401 -- re-exported: the tables were built here before
    FAILED,
    Cell,
    Table,
    aupro_columns,
    metric_table,
    ranked_metrics,
    report_metrics,
    report_tables,
)
from iadbench.report.templating import environment as _environment
from iadbench.report.templating import (
    latex_escape,  # noqa: F401 -- re-exported
    slug,
)
from iadbench.results.columns import (  # noqa: F401 -- re-exported: the report's names for metric columns
    AUPRO_LIMIT_COLUMN,
    LITERATURE_AUPRO,
    METRIC_TITLES,
    NOT_APPLICABLE,
    metric_title,
    our_column,
)
from iadbench.results.rows import KEY_COLUMNS, read_rows
from iadbench.stats import significance
from iadbench.stats.evidence import Evidence, read_evidence
from iadbench.stats.ranking import compare_methods

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
AUDIT_NOTE = ("Threshold-saturated: the study's PRO is anomalib's PRO at one threshold (the F1-optimal pixel one), not "
              "AU-PRO; a map ranking pixels near or below chance is best thresholded near its lowest score and covers "
              "every defect region (PRO near 100): no contradiction. Degenerate: image AUROC exactly 50. Ours: seeds' mean.")
PROVENANCE_COLUMNS = (
    "python_version", "torch_version", "anomalib_version", "torchvision_version", "timm_version",
    "lightning_version", "torchmetrics_version", "freia_version", "numpy_version", "sklearn_version",
    "opencv_version", "iadbench_version", "git_commit", "config_hash",
    "hostname", "cpu", "gpu", "device", "weights", "pretrained_assets", "image_size", "eval_resolution",
)


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
    return slug(text).strip("-") or "figure"


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
        if not comparison.significant:  # no post-hoc test without a Friedman rejection (the ranks section says so)
            continue
        named = dataclasses.replace(comparison, average_ranks=comparison.average_ranks.rename(labels.model))
        made.append({"caption": f"Critical difference diagram, {metric_title(metric)}",
                     "png": figures.critical_difference(named, metric_title(metric))})
    return made


def _name_figures(made: list[dict[str, str]]) -> None:
    """Give each figure a "name": a file stem from its "stem" or caption (letters, digits, dashes), unique."""
    seen: dict[str, int] = {}
    for figure in made:
        stem = _slug(figure.get("stem") or figure["caption"])
        seen[stem] = seen.get(stem, 0) + 1
        figure["name"] = stem if seen[stem] == 1 else f"{stem}-{seen[stem]}"


def score_distributions(frame: pd.DataFrame, evidence: Evidence | None, labels: Labels,
                        with_figures: bool) -> list[dict[str, Any]]:
    """Per dataset x category with scores: {"dataset", "category" (printed), "figure" (a figure dict, or None
    without figures), "hardest" (:func:`iadbench.report.distributions.hardest_images`)}."""
    items = []
    for dataset in dict.fromkeys(frame["dataset"]):
        for category in labels.order(dataset, frame.loc[frame["dataset"] == dataset, "category"]):
            panels = distributions.panels(frame, evidence, dataset, category)
            if not panels:
                continue
            printed = labels.category(dataset, category)
            figure = None
            if with_figures:
                caption = (f"{dataset}: {printed}: image scores of defect-free vs defective test images "
                           "(dashed: F1-optimal threshold)")
                drawn = [(f"{labels.model(panel.model)} (seed {panel.seed})", panel.normal, panel.defective,
                          panel.threshold) for panel in panels]
                figure = {"caption": caption, "stem": f"{dataset}-{printed}-score-distributions",
                          "png": figures.score_distributions(drawn, f"{dataset}: {printed}")}
            items.append({"dataset": dataset, "category": printed, "figure": figure,
                          "hardest": distributions.hardest_images(panels, labels)})
    return items


def all_figures(context: dict[str, Any]) -> list[dict[str, str]]:
    """Every figure of the report (the figures/ folder and paper.tex): the general ones, then the distributions."""
    return (context["figures"] + [item["figure"] for item in context["distributions"] if item["figure"]]
            + context["video"]["figures"])


def _grids(context: dict[str, Any]) -> list[paper.Grid]:
    """Every table of the report as a grid (LaTeX, CSV and Markdown): metric tables, average ranks,
    reproduction tables, study audit."""
    suffix = " (random weights, not paper numbers)" if context["random_weights"] else ""
    grids = []
    for table in context["tables"]:
        caption = f"{suffix}. Best per column in bold; ‡ not significantly worse than it (see the note)."
        if table.has_partial:
            caption += " (k/n seeds): some seeds failed; such a cell is never bold and is not in the mean."
        notes = table.notes + ([f"† {DEGENERATE_NOTE}"] if table.has_degenerate else [])
        grids.append(paper.metric_grid(table, caption, notes))
    if context["rank_metrics"]:
        grids.append(paper.rank_grid(context["rank_metrics"], context["metric_titles"], context["rank_rows"],
                                     context["comparisons"], context["model_labels"]))
    for dataset in dict.fromkeys(item["dataset"] for item in context["distributions"]):
        items = [item for item in context["distributions"] if item["dataset"] == dataset and item["hardest"]]
        if items:
            grids.append(paper.hardest_grid(dataset, items, distributions.HARDEST_NOTE))
    grids += [paper.reproduction_grid(table, FLAG_NOTE) for table in context["reproduction"]]
    if context["audit"] is not None:
        grids.append(paper.audit_grid(context["audit"], AUDIT_NOTE))
    return grids + context["video"]["grids"]


def report_context(frame: pd.DataFrame, title: str, config: dict[str, Any] | None = None, *,
                   references: pd.DataFrame | None = None, with_figures: bool = False,
                   gallery: list[dict[str, str]] | None = None, resources: pd.DataFrame | None = None,
                   labels: Labels | None = None, evidence: Evidence | None = None,
                   frame_scores: list[video_report.FrameScores] | None = None) -> dict[str, Any]:
    """What every template reads. ``references``: :func:`iadbench.report.reproduction.read_reference_files`' frame
    (no reproduction section without it); ``gallery`` items are {"caption", "png" (base64)} made by
    :mod:`iadbench.report.gallery`; ``resources`` is :func:`job_resources`' summary (no "Job resources" without it);
    ``evidence``: the jobs' scores and replicates (:func:`iadbench.stats.evidence.read_evidence`; without it no cell
    is tested, intervals come from the rows alone and there are no score distributions). Video rows
    (``track`` "video") go to the video section only (:mod:`iadbench.report.video`; ``frame_scores``: its
    plots), never to the image tables, ranks, figures or reproduction."""
    all_rows, (frame, _) = frame, video_report.split_tracks(frame)
    labels = labels or labels_for(all_rows["model"], config)
    evidence = evidence or None  # no file read at all: say "not computed", not "no scores" per column
    random_weights = bool((all_rows.get("weights") == "random").any()) if len(all_rows) else False
    failed = all_rows.loc[all_rows["status"] != "ok", [*KEY_COLUMNS, "error_type", "error_tail"]].astype(object)
    failed = failed.where(failed.notna(), "")  # a missing error tail is empty, not "<NA>"
    rank_metrics, rank_rows, comparisons = rank_summary(frame)
    tables = report_tables(frame, labels, evidence)
    has_references = references is not None and not references.empty
    context = {
        "title": title,
        "tables": tables,
        "random_weights": random_weights,
        "random_weights_note": RANDOM_WEIGHTS_NOTE,
        "n_rows": len(all_rows),
        "partial_note": PARTIAL_NOTE,
        "degenerate_note": DEGENERATE_NOTE,
        "interval_note": significance.INTERVAL_NOTE,
        "complete_cells_note": COMPLETE_CELLS_NOTE,
        "failed": failed.astype(str).to_dict("records"),
        "provenance": provenance(all_rows),
        "rank_metrics": rank_metrics,
        "rank_rows": rank_rows,
        "comparisons": comparisons,
        "metric_titles": {metric: metric_title(metric) for metric in rank_metrics},
        "rank_verdicts": {metric: comparison.verdict() for metric, comparison in comparisons.items()},
        "model_labels": {model: labels.model(model) for model in dict.fromkeys(frame["model"])},
        "reproduction": reproduction_tables(frame, references, labels, backbones_of(config)) if has_references
        else [],
        "audit": study_audit(frame, study_audit_cells(references), labels) if has_references else None,
        "flag_note": FLAG_NOTE,
        "audit_note": AUDIT_NOTE,
        "figures": _figures(frame, tables, comparisons, labels) if with_figures else [],
        "distributions": score_distributions(frame, evidence, labels, with_figures),
        "hardest_note": distributions.HARDEST_NOTE,
        "gallery": gallery or [],
        "job_resources": job_resource_rows(resources) if resources is not None else [],
        "config_yaml": yaml.safe_dump(config, sort_keys=False) if config else "",
        "predict_pages": predict_pages(config) if config else [],
        "video": video_report.video_context(all_rows, labels, frame_scores, with_figures, random_weights),
    }
    context |= legend.legend_context(tables) | {"datasets": dataset_sections(frame, tables, labels)}
    _name_figures(all_figures(context))
    context["grids"] = _grids(context)
    return context


def _html(context: dict[str, Any], template_dir: str | Path | None) -> str:
    return _environment(template_dir, latex=False).get_template("index.html.j2").render(**context)


def _latex(context: dict[str, Any], template_dir: str | Path | None) -> tuple[str, dict[str, str]]:
    """tables.tex (every table) and each table's own LaTeX by grid name."""
    latex = _environment(template_dir, latex=True)
    tables = {grid.name: paper.latex_table(grid, latex) for grid in context["grids"]}
    return latex.get_template("tables.tex.j2").render(**context, latex_tables=tables), tables


def render_html(frame: pd.DataFrame, template_dir: str | Path | None, title: str, config: dict[str, Any] | None = None,
                with_figures: bool = True, gallery: list[dict[str, str]] | None = None,
                references: pd.DataFrame | None = None, resources: pd.DataFrame | None = None,
                evidence: Evidence | None = None) -> str:
    """The HTML report (see :func:`report_context` for the arguments)."""
    context = report_context(frame, title, config, references=references, with_figures=with_figures,
                             gallery=gallery, resources=resources, evidence=evidence)
    return _html(context, template_dir)


def render_latex(frame: pd.DataFrame, template_dir: str | Path | None, title: str, config: dict[str, Any] | None = None,
                 references: pd.DataFrame | None = None, evidence: Evidence | None = None) -> str:
    """tables.tex: every table of the report, to \\input (needs booktabs, graphicx and longtable)."""
    return _latex(report_context(frame, title, config, references=references, evidence=evidence), template_dir)[0]


def render_paper(context: dict[str, Any], template_dir: str | Path | None) -> str:
    """paper.tex for a context made with figures (their files are ``figures/<name>.png``)."""
    notes = ([RANDOM_WEIGHTS_NOTE] if context["random_weights"] else []) + [COMPLETE_CELLS_NOTE]
    return paper.paper_document(_environment(template_dir, latex=True), context["title"], context["grids"],
                                all_figures(context), notes)


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


def build_report(*, benchmark_path: str | Path, template_dir: str | Path | None, html_path: str | Path,
                 tex_path: str | Path, title: str, config: dict[str, Any] | None = None,
                 gallery_paths=(), reference_paths=(), benchmark_paths=(), tables_dir: str | Path | None = None,
                 figures_dir: str | Path | None = None, paper_path: str | Path | None = None,
                 score_paths=(), bootstrap_paths=(), prediction_paths=()) -> None:
    """Write the report: ``html_path``, ``tex_path`` (every table), ``tables_dir`` (each table as
    ``<name>.tex``, ``.csv`` and ``.md``), ``figures_dir`` (the figures as PNG) and ``paper_path`` (a LaTeX
    document of them all), compiled to ``paper.pdf`` beside it when pdflatex is installed (a failed compile
    is logged and leaves no PDF). The folders and paper.tex default to siblings of ``tex_path``.
    ``benchmark_paths``: Snakemake ``benchmark:`` TSVs of the jobs, summarised as "Job resources";
    ``score_paths``, ``bootstrap_paths``: the evaluation jobs' ``scores.parquet`` and ``bootstrap.npz`` (paired
    tests, intervals over seeds, score distributions); ``prediction_paths``: the training jobs'
    ``predictions.npz``, of which the video rows' give the video section's frame-score plots."""
    output = Path(tex_path).parent
    tables_dir = Path(tables_dir or output / "tables")
    figures_dir = Path(figures_dir or output / "figures")
    paper_path = Path(paper_path or output / "paper.tex")
    frame = read_rows([benchmark_path])
    labels = labels_for(frame["model"], config)
    context = report_context(frame, title, config, references=read_reference_files(reference_paths),
                             with_figures=True, gallery=gallery_items(gallery_paths, labels),
                             resources=job_resources(benchmark_paths), labels=labels,
                             evidence=read_evidence(score_paths, bootstrap_paths),
                             frame_scores=video_report.read_frame_scores(
                                 prediction_paths, video_report.job_keys(frame)))
    write_text(html_path, _html(context, template_dir))
    all_tables, tables = _latex(context, template_dir)
    write_text(tex_path, all_tables)
    files: dict[str, bytes | str] = {}
    for grid in context["grids"]:
        files |= {f"{grid.name}.tex": tables[grid.name], f"{grid.name}.csv": paper.csv_text(grid),
                  f"{grid.name}.md": paper.markdown_text(grid)}
    _write_folder(tables_dir, files)
    _write_folder(figures_dir, {f"{figure['name']}.png": base64.b64decode(figure["png"])
                                for figure in all_figures(context)})
    # paper.tex inputs tables/ and figures/ by those names: the folders must be its siblings.
    write_text(paper_path, render_paper(context, template_dir))
    paper.compile_pdf(paper_path)
