"""Fit one model on one category and save its checkpoint and predictions."""

from pathlib import Path

from iadbench.io import log_to_file
from iadbench.provenance import git_commit
from iadbench.train import train_job

snakemake = globals()["snakemake"]
log_to_file(snakemake.log[0])
out_dir = Path(snakemake.output.info).parent
train_job(
    dataset_root=Path(snakemake.input.data).parent,
    category=snakemake.wildcards.category,
    model_name=snakemake.wildcards.model,
    model_spec=snakemake.params.model_spec,
    seed=int(snakemake.wildcards.seed),
    image_size=snakemake.params.image_size,
    weights=snakemake.params.weights,
    out_dir=out_dir,
    threads=snakemake.threads,
    extra_info={"git_commit": git_commit(Path(snakemake.scriptdir))},
)
