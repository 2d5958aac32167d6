"""The training scripts' one adapter: Snakemake's ``snakemake`` object to a training job's arguments.

``workflow/scripts/train.py``, ``train_unified.py`` and ``continual_train.py`` pass the same arguments (the GPU
slots, the attempt and retry round, the dataset, model, seed, image size, weights, output folder, threads, asset
cache and provenance) to their runner; they read them here, each adding only its own. The object is taken
duck-typed (``log``, ``input``, ``output``, ``params``, ``wildcards``, ``resources``, ``threads``, ``scriptdir``):
the package never imports snakemake.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from iadbench.core.files import log_to_file
from iadbench.core.provenance import git_commit
from iadbench.run.attempts import RetryWithMoreResources


def _first(paths: Any) -> str:
    """A named input's path, or the first of its paths (Snakemake's paths are ``str``)."""
    return str(paths if isinstance(paths, str | Path) else paths[0])


def training_args(snakemake: Any, **fields: Any) -> dict[str, Any]:
    """The arguments every training job takes from its rule (``fields``: the script's own, which win)."""
    params, resources, wildcards = snakemake.params, snakemake.resources, snakemake.wildcards
    return {
        "log_path": snakemake.log[0],
        "gpu_slots": resources.gpu_slots if resources.gpu else 0,
        "attempt": resources.attempt,
        "final_attempt": params.final_attempt,
        "retry_round": params.retry_round,
        "dataset_spec": params.dataset_spec,
        "dataset_root": str(Path(_first(snakemake.input.data)).parent),
        "model_name": wildcards.model,
        "model_spec": params.model_spec,
        "seed": int(wildcards.seed),
        "image_size": params.image_size,
        "weights": params.weights,
        "out_dir": str(Path(snakemake.output.info).parent),
        "threads": snakemake.threads,
        "asset_dir": params.asset_dir,
        "extra_info": {"git_commit": git_commit(Path(snakemake.scriptdir)), "train_config_hash": params.config_hash},
        **fields,
    }


def run_training_script(snakemake: Any, runner: Callable[..., Any], **fields: Any) -> None:
    """A training script's body: log to the job's log, run ``runner`` on :func:`training_args`; a job to retry
    with the next attempt's resources exits with the reason (Snakemake retries a failed job)."""
    log_to_file(snakemake.log[0])
    try:
        runner(**training_args(snakemake, **fields))
    except RetryWithMoreResources as retry:
        sys.exit(str(retry))
