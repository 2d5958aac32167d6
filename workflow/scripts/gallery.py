"""Render one job's anomaly-map gallery strip."""

from iadbench.core.files import log_to_file
from iadbench.report.gallery import render_gallery

snakemake = globals()["snakemake"]
log_to_file(snakemake.log[0])
wildcards = snakemake.wildcards
render_gallery(
    predictions_path=snakemake.params.files["predictions"],
    train_info_path=snakemake.params.files["info"],
    png_path=snakemake.output[0],
    title=f"{wildcards.dataset} / {wildcards.category} / {wildcards.model} (seed {wildcards.seed}, {wildcards.setting})",
)
