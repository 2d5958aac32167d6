"""Compute one job's metrics from its saved predictions and write its row."""

from iadbench.config import Job
from iadbench.evaluate import evaluate_job
from iadbench.io import log_to_file

snakemake = globals()["snakemake"]
log_to_file(snakemake.log[0])
wildcards = snakemake.wildcards
evaluate_job(
    job=Job(wildcards.dataset, wildcards.category, wildcards.model, int(wildcards.seed)),
    predictions_path=snakemake.input.predictions,
    train_info_path=snakemake.input.info,
    row_path=snakemake.output[0],
    resolution=snakemake.params.evaluation["resolution"],
    fpr_limits=snakemake.params.evaluation["fpr_limits"],
    config_hash=snakemake.params.config_hash,
)
