"""Render the report (HTML, LaTeX, CSV/Markdown tables, figures, paper.tex and paper.pdf) from
results/benchmark.parquet, the evaluation jobs' scores.parquet and bootstrap.npz and the video jobs'
predictions.npz (frame-score plots)."""

from iadbench.core.files import log_to_file
from iadbench.report.render import build_report

snakemake = globals()["snakemake"]
log_to_file(snakemake.log[0])
build_report(
    benchmark_path=snakemake.input.benchmark,
    template_dir=snakemake.input.templates,
    html_path=snakemake.output.html,
    tex_path=snakemake.output.tex,
    tables_dir=snakemake.output.tables,
    figures_dir=snakemake.output.figures,
    paper_path=snakemake.output.paper,
    title=snakemake.params.title,
    config=snakemake.params.config,
    gallery_paths=snakemake.input.galleries,
    reference_paths=snakemake.input.references,
    benchmark_paths=snakemake.input.benchmarks,
    score_paths=snakemake.input.scores,
    bootstrap_paths=snakemake.input.bootstraps,
    prediction_paths=snakemake.input.predictions,
)
