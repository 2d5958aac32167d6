# Config validation and input functions; all logic lives in the iadbench package.
from pathlib import Path

from snakemake.exceptions import WorkflowError

from iadbench.config import ConfigError, Job, config_hash, job_config, jobs, validate_config

try:
    validate_config(config, Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml")
except ConfigError as error:
    raise WorkflowError(str(error)) from None

JOBS = jobs(config)
JOB_PATH = "{dataset}/{category}/{model}/{seed}"


wildcard_constraints:
    dataset=r"[A-Za-z0-9_\-]+",
    category=r"[A-Za-z0-9_\-]+",
    model=r"[A-Za-z0-9_\-]+",
    seed=r"\d+",


def job_of(wildcards):
    return Job(wildcards.dataset, wildcards.category, wildcards.model, int(wildcards.seed))


def job_config_hash(wildcards):
    return config_hash(job_config(config, job_of(wildcards)))


def all_rows(wildcards):
    return [f"results/evaluate/{job.dataset}/{job.category}/{job.model}/{job.seed}/row.parquet" for job in JOBS]
