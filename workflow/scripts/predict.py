"""Score one predict set's images with its model: predictions.parquet, overlays/ and index.html."""

from pathlib import Path

from iadbench.core.files import log_to_file
from iadbench.serve.predict import predict_set

snakemake = globals()["snakemake"]
log_to_file(snakemake.log[0])
predict_set(
    name=snakemake.wildcards.name,
    entry=snakemake.params.entry,
    config=snakemake.config,
    out_dir=str(Path(snakemake.output.html).parent),
    template_dir=str(Path(snakemake.input.template).parent),
    asset_dir=snakemake.params.asset_dir,
    threads=snakemake.threads,
    parquet_path=snakemake.output.predictions,
    html_path=snakemake.output.html,
    overlays_dir=snakemake.output.overlays,
)
