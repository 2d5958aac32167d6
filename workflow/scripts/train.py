"""Fit one model on one category (in a child process) and save its checkpoint and predictions."""

import sys
from pathlib import Path

from iadbench.core.files import log_to_file
from iadbench.core.provenance import git_commit
from iadbench.run.attempts import RetryWithMoreResources
from iadbench.run.train import run_isolated

snakemake = globals()["snakemake"]
log_to_file(snakemake.log[0])
try:
    run_isolated(
        log_path=snakemake.log[0],
        gpu_slots=snakemake.resources.gpu_slots if snakemake.resources.gpu else 0,
        attempt=snakemake.resources.attempt,
        final_attempt=snakemake.params.final_attempt,
        retry_round=snakemake.params.retry_round,
        dataset_spec=snakemake.params.dataset_spec,
        dataset_root=str(Path(snakemake.input.data).parent),
        category=snakemake.wildcards.category,
        setting=snakemake.wildcards.setting,
        model_name=snakemake.wildcards.model,
        model_spec=snakemake.params.model_spec,
        seed=int(snakemake.wildcards.seed),
        image_size=snakemake.params.image_size,
        weights=snakemake.params.weights,
        out_dir=str(Path(snakemake.output.info).parent),
        threads=snakemake.threads,
        asset_dir=snakemake.params.asset_dir,
        operating_point=snakemake.params.operating_point,
        extra_info={"git_commit": git_commit(Path(snakemake.scriptdir)),
                    "train_config_hash": snakemake.params.config_hash},
    )
except RetryWithMoreResources as retry:
    sys.exit(str(retry))  # a failed job: Snakemake retries it with the next attempt's resources
