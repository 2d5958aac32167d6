"""Compute one job's metrics from its saved predictions (in a child process) and write its row."""

import sys

from iadbench.core.files import log_to_file
from iadbench.run.attempts import RetryWithMoreResources
from iadbench.run.jobs import run_evaluation

snakemake = globals()["snakemake"]
log_to_file(snakemake.log[0])
wildcards = snakemake.wildcards
try:
    run_evaluation(
        log_path=snakemake.log[0],
        attempt=snakemake.resources.attempt,
        final_attempt=snakemake.params.final_attempt,
        retry_round=snakemake.params.retry_round,
        job=(wildcards.dataset, wildcards.category, wildcards.model, int(wildcards.seed), wildcards.setting),
        predictions_path=snakemake.params.files["predictions"],
        train_info_path=snakemake.params.files["info"],
        timing_path=snakemake.input.timing,
        row_path=snakemake.output.row,
        scores_path=snakemake.output.scores,
        resolution=snakemake.params.evaluation["resolution"],
        fpr_limits=snakemake.params.evaluation["fpr_limits"],
        config_hash=snakemake.params.config_hash,
        train_config_hash=snakemake.params.train_config_hash,
        target_fpr=snakemake.params.operating_point["target_fpr"],
    )
except RetryWithMoreResources as retry:
    sys.exit(str(retry))  # a failed job: Snakemake retries it with the next attempt's resources
