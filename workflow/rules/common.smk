# Config validation and input functions; all logic lives in the iadbench package.
from pathlib import Path

from snakemake.exceptions import WorkflowError

import os

from iadbench.assets import ASSET_DIR
from iadbench.config import ConfigError, Job, config_hash, job_config, jobs, model_image_size, validate_config
from iadbench.datasets.real import source_spec
from iadbench.gpus import SLOTS_VARIABLE, detect_gpus
from iadbench.models import train_mem_mb, train_runtime_minutes
from iadbench.results import retire_failed_attempts
from iadbench.runlock import claim_workdir

try:
    validate_config(config, Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml")
except ConfigError as error:
    raise WorkflowError(str(error)) from None

JOBS = jobs(config)

# GPUs: `--resources gpu=N` caps concurrent training jobs; without it, a machine with GPUs gets one
# slot per GPU and a CPU-only machine needs no flag. Jobs inherit the slot count to pick a device.
def global_resource(name):
    resource = workflow.global_resources.get(name)
    return getattr(resource, "value", resource)


if global_resource("gpu") is None and detect_gpus() > 0:
    workflow.register_resource("gpu", detect_gpus())
GPU_SLOTS = global_resource("gpu")
os.environ[SLOTS_VARIABLE] = str(GPU_SLOTS or 0)
TRAIN_GPUS = 1 if GPU_SLOTS else 0

# Only while no other run is alive here (a killed run's stale locks are then cleared): a job that
# failed last time is moved aside (kept under results/failed_attempts/) so that it reruns.
if workflow.is_main_process and claim_workdir():
    retire_failed_attempts("results")
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


def all_galleries(wildcards):
    """The first seed's gallery strip of every dataset x category x model."""
    first_seed = config["seeds"][0]
    return [f"results/gallery/{job.dataset}/{job.category}/{job.model}/{job.seed}.png"
            for job in JOBS if job.seed == first_seed]


def asset_manifests(models):
    """Pretrained weights are fetched (head node) before a job trains; random weights need none."""
    return [f"{ASSET_DIR}/manifests/{model}.json" for model in models] if config["weights"] == "pretrained" else []


def asset_manifest(wildcards):
    return asset_manifests([wildcards.model])


def all_asset_manifests(wildcards):
    return asset_manifests(config["models"])


def category_spec(spec):
    """A dataset entry without its category list: editing `categories:` must not redo prepared ones."""
    return {key: value for key, value in spec.items() if key != "categories"}
