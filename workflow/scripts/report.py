"""Render the HTML and LaTeX report from results/benchmark.parquet."""

from iadbench.files import log_to_file
from iadbench.report import build_report

snakemake = globals()["snakemake"]
log_to_file(snakemake.log[0])
build_report(
    benchmark_path=snakemake.input.benchmark,
    template_dir=snakemake.input.templates,
    html_path=snakemake.output.html,
    tex_path=snakemake.output.tex,
    title=snakemake.params.title,
    config=snakemake.params.config,
    gallery_paths=snakemake.input.galleries,
    reference_paths=snakemake.input.references,
    benchmark_paths=snakemake.input.benchmarks,
)
