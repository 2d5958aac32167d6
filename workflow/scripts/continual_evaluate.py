"""One category after one continual step: its saved predictions → the main benchmark's row (iadbench.run.evaluate)."""

import sys
from pathlib import Path

from iadbench.core.files import log_to_file
from iadbench.run.attempts import RetryWithMoreResources
from iadbench.run.jobs import run_evaluation

snakemake = globals()["snakemake"]
log_to_file(snakemake.log[0])
wildcards = snakemake.wildcards
predictions = Path(snakemake.input.predictions)
try:
    run_evaluation(
        log_path=snakemake.log[0],
        attempt=snakemake.resources.attempt,
        final_attempt=snakemake.params.final_attempt,
        retry_round=snakemake.params.retry_round,
        results_dir="results/continual",
        job=(snakemake.params.dataset, wildcards.category, wildcards.model, int(wildcards.seed)),
        predictions_path=str(predictions / f"{wildcards.category}.npz"),
        train_info_path=str(predictions / f"{wildcards.category}.json"),
        row_path=snakemake.output.row,
        scores_path=snakemake.output.scores,
        timing_path=None,  # no timing job in the continual setting: NaN timing columns
        resolution=snakemake.params.evaluation["resolution"],
        fpr_limits=snakemake.params.evaluation["fpr_limits"],
        config_hash=snakemake.params.config_hash,
        train_config_hash=snakemake.params.train_config_hash,
    )
except RetryWithMoreResources as retry:
    sys.exit(str(retry))  # a failed job: Snakemake retries it with the next attempt's resources
