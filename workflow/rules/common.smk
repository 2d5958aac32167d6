# Config validation and input functions; all logic lives in the iadbench package.
import copy
import sys
import time
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

from iadbench.models.assets import ASSET_DIR
from iadbench.models.offline_check import downloads_summary
from iadbench.models.required_assets import missing_assets_summary
from iadbench.run.attempts import busy_jobs, retry_round
from iadbench.run.isolated import start_fork_servers, stop_fork_servers
from iadbench.config.base import (
    ConfigError,
    Job,
    config_hash,
    dataset_source,
    holdout_settings,
    job_config,
    jobs,
    model_image_size,
    train_config,
    training_files,
    training_outputs,
)
from iadbench.config.settings import ALL_CATEGORIES, PER_CATEGORY_SETTING, REAL_CATEGORY, SETTING_PATTERN
from iadbench.config.load import validate_config
from iadbench.datasets import dataset_categories, source_spec
from iadbench.run.resources import evaluation_mem_mb
from iadbench.core.gpus import detect_gpus
from iadbench.config.feature_maps import feature_map_warnings
from iadbench.models.specs import train_mem_mb, train_runtime_minutes
from iadbench.core.runlock import claim_workdir, read_only_invocation
from iadbench.report.templating import TEMPLATE_DIR

# A run's --configfile replaces config/config.yaml (the profiles' replace-workflow-config), but Snakemake
# 9.27 does not pass that flag to the jobs it spawns (SLURM): there the default's keys (e.g. its models)
# would be merged under the run's, and an input function reading the config (the timing job's models)
# would ask for other files than the run planned. Jobs get the run's config alone, as the run does.
if not workflow.is_main_process and workflow.overwrite_configfiles:
    run_config = copy.deepcopy(workflow.config_settings.overwrite_config)
    config.clear()
    config.update(run_config)

try:
    validate_config(config, Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml")
except ConfigError as error:
    raise WorkflowError(str(error)) from None

JOBS = jobs(config)
for warning in feature_map_warnings(config):
    logger.warning(f"config warning: {warning}")

# GPUs: `--resources gpu=N` caps concurrent training jobs; without it, a machine with GPUs gets one
# slot per GPU and a CPU-only machine needs no flag. Train jobs get the slot count (resource gpu_slots)
# to pick a device.
def global_resource(name):
    resource = workflow.global_resources.get(name)
    return getattr(resource, "value", resource)


# detect_gpus runs nvidia-smi: once, and only when `--resources gpu` is not given.
if global_resource("gpu") is None and (n_gpus := detect_gpus()) > 0:
    workflow.register_resource("gpu", n_gpus)
GPU_SLOTS = global_resource("gpu")
TRAIN_GPUS = 1 if GPU_SLOTS else 0

# Attempts of a training or evaluation job within one run: a job killed for memory is retried with
# more (mem_mb * attempt) up to this many times; other failures are final at once (iadbench.run.attempts).
RETRIES = 2

# Resume after a kill: Snakemake's locks left by a dead run are cleared, unless a job of that run is
# still running (its child holds the job folder's lock): then this run must not start beside it.
# Only a run that executes jobs does so: `-n`, `--lint`, `--summary` leave .snakemake/ and results/ as they are.
if workflow.is_main_process and not read_only_invocation(sys.argv) and claim_workdir():
    orphans = busy_jobs("results")
    if orphans:
        raise WorkflowError("jobs of an earlier run are still running: " + "; ".join(orphans)
                            + ". Wait for them to end (or kill them), then rerun.")
# Every job's part of a result path (iadbench.config.base.Job.path); {setting}: iadbench.config.settings.
JOB_PATH = "{setting}/{dataset}/{category}/{model}/{seed}"


wildcard_constraints:
    setting=SETTING_PATTERN,
    dataset=r"[A-Za-z0-9_\-]+",
    category=r"[A-Za-z0-9_\-]+",
    model=r"[A-Za-z0-9_\-]+",
    seed=r"\d+",


def job_of(wildcards):
    return Job(wildcards.dataset, wildcards.category, wildcards.model, int(wildcards.seed), wildcards.setting)


def job_config_hash(wildcards):
    return config_hash(job_config(config, job_of(wildcards)))


def train_config_hash(wildcards):
    return config_hash(train_config(config, job_of(wildcards)))


def retry_round_of(stage):
    """A rule parameter that changes (so Snakemake reruns the job) only when `retry_failed` asks for a
    failed job to be retried; reads the job's attempt ledger, writes nothing."""

    def round_of(wildcards):
        job_dir = Path("results", stage, job_of(wildcards).path)
        return retry_round(job_dir, config["retry_failed"], config["max_attempts"])

    return round_of


def all_rows(wildcards):
    return [f"results/evaluate/{job.path}/row.parquet" for job in JOBS]


def all_scores(wildcards):
    """Every job's per-image scores (the report's paired tests and score distributions); outputs of evaluate."""
    return [f"results/evaluate/{job.path}/scores.parquet" for job in JOBS]


def all_bootstraps(wildcards):
    """Every job's bootstrap replicates (the report's paired tests and intervals over seeds)."""
    return [f"results/evaluate/{job.path}/bootstrap.npz" for job in JOBS]


def all_galleries(wildcards):
    """The first seed's gallery strip of every dataset x category x model."""
    first_seed = config["seeds"][0]
    return [f"results/gallery/{job.path}.png" for job in JOBS if job.seed == first_seed]


def video_predictions(wildcards):
    """Every video job's predictions (the report's frame-score plot per test video); outputs of train."""
    from iadbench.datasets.prepare import is_video

    return [f"results/train/{job.path}/predictions.npz" for job in JOBS
            if is_video(config["datasets"][job.dataset])]


def asset_manifests(models):
    """Pretrained weights are fetched (head node) before a job trains; random weights need none."""
    return [f"{ASSET_DIR}/manifests/{model}.json" for model in models] if config["weights"] == "pretrained" else []


def asset_manifest(wildcards):
    return asset_manifests([wildcards.model])


def all_asset_manifests(wildcards):
    return asset_manifests(config["models"])


RUN_STARTED = time.time()  # this run's records of unreachable assets are those written since


def missing_assets_record(model):
    return f"results/logs/fetch_assets/{model}.missing.json"


def missing_archive_record(dataset):
    return f"results/logs/download_dataset/{dataset}.missing.json"


def exit_if_downloads_unreachable():
    """Before any job starts: the run's fetch_assets and download_dataset jobs checked in this process (recorded
    asset table, one probe per host; no torch). When a download cannot be reached, one summary and status 2."""
    todo = list(workflow.dag.needrun_jobs())
    models = sorted({job.wildcards["model"] for job in todo if job.rule.name == "fetch_assets"})
    datasets = sorted({job.wildcards["dataset"] for job in todo if job.rule.name == "download_dataset"})
    if not models and not datasets:
        return
    summary = downloads_summary(
        [(model, config["models"][model], model_image_size(config, model)) for model in models],
        [(name, source_spec(config["datasets"][name]), Path("resources/datasets") / name) for name in datasets],
        ASSET_DIR, config["assets"]["mirror"])
    if summary:
        print(summary, file=sys.stderr, flush=True)
        sys.exit(2)


# Jobs whose work runs in a child process (iadbench.run.isolated): with weights, those that load them.
CHILD_RULES = {"train": True, "train_unified": True, "continual_train": True, "timing": True, "evaluate": False,
               "continual_evaluate": False}


def start_job_fork_servers():
    """A local run (not a cluster's, whose jobs run elsewhere): one fork server per environment of the children
    its jobs will start (iadbench.core.forkserver), so that they do not each import torch and anomalib."""
    if workflow.non_local_exec or workflow.remote_exec or workflow.subprocess_exec:
        return
    jobs = {(job.resources.get("tmpdir"), config["weights"] if CHILD_RULES[job.rule.name] else None)
            for job in workflow.dag.needrun_jobs() if job.rule.name in CHILD_RULES}
    start_fork_servers(sorted(jobs, key=str), log_path=".snakemake/iadbench/forkserver.log")


def exit_on_missing_assets():
    """A failed run whose fetch_assets or download_dataset jobs could not reach the network ends with one
    summary of every missing download (URL, where to place it by hand) and exit status 2."""
    records = [missing_assets_record(model) for model in config["models"]]
    records += [missing_archive_record(dataset) for dataset in config["datasets"]]
    summary = missing_assets_summary(records, RUN_STARTED)
    if summary:
        print(summary, file=sys.stderr, flush=True)
        sys.exit(2)


def job_benchmarks(wildcards):
    """Benchmark TSVs of the train and evaluate jobs behind the rows, for the report's "Job resources".

    A TSV is an output of its job, so asking for a missing one reruns the job. A job finished before
    benchmarks were recorded has its output but no TSV: that TSV is left out, so the report never
    retrains anything; every other TSV exists or comes with a job that runs anyway.
    """
    paths = []
    for job in JOBS:
        # unified: the one training job of the dataset x model x seed
        for stage, output, target in (("train", "train_info.json", job.training), ("evaluate", "row.parquet", job)):
            benchmark = Path("results", "benchmarks", stage, f"{target.path}.tsv")
            if benchmark.exists() or not Path("results", stage, target.path, output).exists():
                paths.append(str(benchmark))
    return list(dict.fromkeys(paths))


def training_inputs(wildcards):
    """The training job's outputs an evaluation (or gallery) job needs (iadbench.config.base.training_outputs)."""
    return training_outputs(job_of(wildcards))


def training_files_of(wildcards):
    """The files in them the job reads (iadbench.config.base.training_files; unified: its category's)."""
    return training_files(job_of(wildcards))


def timing_input(wildcards):
    job = job_of(wildcards).training
    return f"results/timing/{job.setting}/{job.dataset}/{job.category}/{job.model}/timing.json"


def unified_categories(wildcards):
    """Every configured category of the dataset: what its unified training job trains on and predicts."""
    return dataset_categories(config["datasets"][wildcards.dataset])


# The timing rule: one job per setting x dataset x category x model (unified: per training job), timed on the
# first seed's checkpoint.
TIMED_SEED = config["seeds"][0]
MODEL_PATH = "{setting}/{dataset}/{category}/{model}"


def timing_specs(wildcards):
    """What iadbench.run.jobs.run_timing needs for the job's model (its first seed's files: the rule's inputs)."""
    job_dir = f"results/train/{wildcards.setting}/{wildcards.dataset}/{wildcards.category}/{wildcards.model}/{TIMED_SEED}"
    return {wildcards.model: {"model_spec": config["models"][wildcards.model],
                              "image_size": model_image_size(config, wildcards.model),
                              "checkpoint_path": f"{job_dir}/model.ckpt", "train_info_path": f"{job_dir}/train_info.json"}}
