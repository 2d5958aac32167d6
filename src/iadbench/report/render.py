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
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from iadbench.config.predict import predict_pages
from iadbench.core.files import atomic_write, write_text
from iadbench.report import distributions, figure_set, legend, pages, paper
from iadbench.report import settings as by_setting
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
from iadbench.report.summary import dataset_sections, rank_summary
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
from iadbench.report.templating import latex_escape  # noqa: F401 -- re-exported
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
from iadbench.stats.evidence import Evidence, read_evidence  # noqa: F401 -- read_evidence re-exported

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
    if len(frame) and "finished_at" in frame and frame["finished_at"].notna().any():
        facts["run dates"] = f"{frame['finished_at'].min():%Y-%m-%d %H:%M} – {frame['finished_at'].max():%Y-%m-%d %H:%M} UTC"
    return facts




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
                   frame_scores: list[video_report.FrameScores] | None = None,
                   setting_evidence: dict[str, Evidence] | None = None) -> dict[str, Any]:
    """What every template reads. ``references``: :func:`iadbench.report.reproduction.read_reference_files`' frame
    (no reproduction section without it); ``gallery`` items are {"caption", "png" (base64)} made by
    :mod:`iadbench.report.gallery`; ``resources`` is :func:`job_resources`' summary (no "Job resources" without it);
    ``evidence``: the jobs' scores and replicates (:func:`iadbench.stats.evidence.read_evidence`; without it no cell
    is tested, intervals come from the rows alone and there are no score distributions). Video rows
    (``track`` "video") go to the video section only (:mod:`iadbench.report.video`; ``frame_scores``: its
    plots), never to the image tables, ranks, figures or reproduction. Settings (:mod:`iadbench.report.settings`):
    the primary one's rows (and ``evidence``) have every section; the others' tables (``setting_evidence``: their
    evidence by setting) join their dataset's section, never mixed."""
    all_rows, (image_rows, _) = frame, video_report.split_tracks(frame)
    frame, other_settings = by_setting.split_settings(image_rows)
    primary = by_setting.settings_of(image_rows)[0]
    labels = labels or labels_for(all_rows["model"], config)
    evidence = evidence or None  # no file read at all: say "not computed", not "no scores" per column
    random_weights = "weights" in all_rows and bool(all_rows["weights"].eq("random").fillna(False).any())
    failed = all_rows.loc[all_rows["status"] != "ok", list(KEY_COLUMNS)].astype(object).assign(
        **{column: all_rows.get(column, pd.Series(index=all_rows.index, dtype=object)).astype(object)
           for column in ("error_type", "error_tail")})
    failed = failed.where(failed.notna(), "")  # a missing error tail is empty, not "<NA>"
    rank_metrics, rank_rows, comparisons = rank_summary(frame)
    tables = by_setting.name_primary(report_tables(frame, labels, evidence), primary, other_settings)
    extra = (by_setting.setting_tables(other_settings, labels, setting_evidence)
             + by_setting.unified_beside_one_class(image_rows, labels))
    has_references = references is not None and not references.empty
    datasets = dataset_sections(frame, tables, labels)
    distribution_items, jobs = figure_set.distribution_items(frame, evidence, labels, with_figures)
    context = {
        "title": title,
        "tables": tables + extra,
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
        "reproduction": reproduction_tables(frame, by_setting.references_for(references, primary), labels,
                                            backbones_of(config))
        + by_setting.setting_reproduction(other_settings, references, labels, backbones_of(config))
        if has_references else [],
        "audit": study_audit(frame, study_audit_cells(by_setting.references_for(references, primary)), labels) if has_references else None,
        "flag_note": FLAG_NOTE,
        "audit_note": AUDIT_NOTE,
        "figures": [],
        "distributions": distribution_items,
        "hardest_note": distributions.HARDEST_NOTE,
        "gallery": gallery or [],
        "job_resources": job_resource_rows(resources) if resources is not None else [],
        "config_yaml": yaml.safe_dump(config, sort_keys=False) if config else "",
        "predict_pages": predict_pages(config) if config else [],
        "video": video_report.video_context(all_rows, labels, frame_scores, with_figures, random_weights),
    }
    context |= legend.legend_context(tables + extra) | {"datasets": datasets}
    by_setting.add_setting_tables(context["datasets"], extra)
    if with_figures:
        general = figure_set.general_figures(frame, tables, comparisons,
                                             {section["name"]: section["summary"] for section in datasets}, labels)
        context["figures"] = [figure for figure, _ in general]
        figure_set.draw_all(general + jobs)
    figure_set.name_figures(all_figures(context))
    context["grids"] = _grids(context)
    return context


def html_pages(context: dict[str, Any], template_dir: str | Path | None) -> dict[str, str]:
    """Each HTML page of the report by file name (:mod:`iadbench.report.pages`)."""
    template = _environment(template_dir, latex=False).get_template("index.html.j2")
    return {name: template.render(**page) for name, page in pages.split(context).items()}


def latex_texts(context: dict[str, Any], template_dir: str | Path | None) -> tuple[str, dict[str, str]]:
    """tables.tex (every table) and each table's own LaTeX by grid name."""
    latex = _environment(template_dir, latex=True)
    tables = {grid.name: paper.latex_table(grid, latex) for grid in context["grids"]}
    return latex.get_template("tables.tex.j2").render(**context, latex_tables=tables), tables


def render_html(frame: pd.DataFrame, template_dir: str | Path | None, title: str, config: dict[str, Any] | None = None,
                with_figures: bool = True, gallery: list[dict[str, str]] | None = None,
                references: pd.DataFrame | None = None, resources: pd.DataFrame | None = None,
                evidence: Evidence | None = None) -> str:
    """The HTML report (see :func:`report_context` for the arguments)."""
    return report_html_pages(frame, template_dir, title, config, with_figures=with_figures, gallery=gallery,
                             references=references, resources=resources, evidence=evidence)["index.html"]


def report_html_pages(frame: pd.DataFrame, template_dir: str | Path | None, title: str,
                      config: dict[str, Any] | None = None, **options) -> dict[str, str]:
    """Every HTML page by file name: index.html, and at scale one page per dataset (:mod:`iadbench.report.pages`);
    ``options``: :func:`report_context`'s."""
    return html_pages(report_context(frame, title, config, **options), template_dir)


def render_latex(frame: pd.DataFrame, template_dir: str | Path | None, title: str, config: dict[str, Any] | None = None,
                 references: pd.DataFrame | None = None, evidence: Evidence | None = None) -> str:
    """tables.tex: every table of the report, to \\input (needs booktabs, graphicx and longtable)."""
    return latex_texts(report_context(frame, title, config, references=references, evidence=evidence), template_dir)[0]


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
        items.append({"dataset": dataset,
                      "caption": f"{dataset} / {labels.category(dataset, category)} / {labels.model(model)}"
                                 f"{by_setting.gallery_setting(path)}",
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
    labels, evidence = labels_for(frame["model"], config), by_setting.evidence_by_setting(score_paths, bootstrap_paths)
    context = report_context(frame, title, config, references=read_reference_files(reference_paths),
                             with_figures=True, gallery=gallery_items(gallery_paths, labels),
                             resources=job_resources(benchmark_paths), labels=labels,
                             evidence=evidence.get(by_setting.settings_of(frame)[0], {}), setting_evidence=evidence,
                             frame_scores=video_report.read_frame_scores(
                                 prediction_paths, video_report.job_keys(frame)))
    written = html_pages(context, template_dir)
    for name, html in written.items():  # index.html, then any dataset pages beside it
        write_text(html_path if name == "index.html" else Path(html_path).with_name(name), html)
    for stale in Path(html_path).parent.glob(pages.page_name({"id": "*"})):  # an earlier report's pages
        if stale.name not in written:
            stale.unlink()
    all_tables, tables = latex_texts(context, template_dir)
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
