"""The continual report: accuracy matrices, ACC/FM tables and average-accuracy curves (HTML and LaTeX)."""

from iadbench.continual.report import build_continual_report
from iadbench.core.files import log_to_file

snakemake = globals()["snakemake"]
log_to_file(snakemake.log[0])
build_continual_report(
    matrix_path=snakemake.input.matrix,
    summary_path=snakemake.input.summary,
    template_dir=snakemake.input.templates,
    html_path=snakemake.output.html,
    tex_path=snakemake.output.tex,
    title=snakemake.params.title,
    weights=snakemake.params.weights,
)
