"""One step of the continual setting: fit on the step's task (from the previous step's model) and predict
every category seen so far, in a child process (iadbench.continual.step.run_step)."""

import sys
from pathlib import Path

from iadbench.continual.step import run_step
from iadbench.core.files import log_to_file
from iadbench.core.provenance import git_commit
from iadbench.run.attempts import RetryWithMoreResources

snakemake = globals()["snakemake"]
log_to_file(snakemake.log[0])
continual = snakemake.params.continual
try:
    run_step(
        seen_categories=continual["seen_categories"],
        log_path=snakemake.log[0],
        gpu_slots=snakemake.resources.gpu_slots if snakemake.resources.gpu else 0,
        attempt=snakemake.resources.attempt,
        final_attempt=snakemake.params.final_attempt,
        retry_round=snakemake.params.retry_round,
        results_dir="results/continual",
        dataset_spec=snakemake.params.dataset_spec,
        dataset_root=str(Path(snakemake.input.data[0]).parent),
        category=continual["train_categories"][0],
        model_name=snakemake.wildcards.model,
        model_spec=snakemake.params.model_spec,
        seed=int(snakemake.wildcards.seed),
        image_size=snakemake.params.image_size,
        weights=snakemake.params.weights,
        out_dir=str(Path(snakemake.output.info).parent),
        threads=snakemake.threads,
        asset_dir=snakemake.params.asset_dir,
        continual=continual,
        extra_info={"git_commit": git_commit(Path(snakemake.scriptdir)),
                    "train_config_hash": snakemake.params.config_hash},
    )
except RetryWithMoreResources as retry:
    sys.exit(str(retry))  # a failed job: Snakemake retries it with the next attempt's resources
