"""A benchmark job's trained model, ready for inference, and the manifest that describes it.

A job's model is rebuilt exactly as :func:`iadbench.run.train.train_job` built it (the config's model entry,
image size and weights, through :func:`iadbench.models.build.build_model`; with ``weights: random`` inside the
random-weights patches and with the network forbidden) and its checkpoint is loaded into it.

It comes from a job of a results folder (``results/train/<dataset>/<category>/<model>/<seed>/model.ckpt``
and the config that trained it) or from a *model folder*, the layout a published job has::

    <folder>/model.safetensors   the job's weights (:func:`iadbench.models.checkpoint.write_safetensors`)
    <folder>/iadbench_job.json   :func:`job_manifest`: what rebuilds the model, its metrics and its test scores

The weights go in through :func:`iadbench.models.checkpoint.load_checkpoint`: a ``model.ckpt`` is read with
``torch.load(weights_only=True)`` and an allowlist, never unpickled with arbitrary classes; from the Hugging Face
Hub only ``model.safetensors`` and the JSON manifest are downloaded and read, never a pickle.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from iadbench.config.base import Job, config_hash, dataset_categories, train_config
from iadbench.core.files import read_json
from iadbench.core.provenance import package_version
from iadbench.metrics.maps import f1_optimal_threshold
from iadbench.models.assets import ASSET_DIR
from iadbench.models.build import build_model
from iadbench.models.checkpoint import UnsafeCheckpointError, load_checkpoint
from iadbench.models.random_weights import offline_model
from iadbench.results.rows import is_missing, metric_columns
from iadbench.run.predictions import load_predictions

MANIFEST_NAME = "iadbench_job.json"
CHECKPOINT_NAME = "model.ckpt"
WEIGHTS_NAME = "model.safetensors"
DEFAULT_CONFIG = "config/config.yaml"


class JobModelError(ValueError):
    """A job whose model cannot be loaded; the message names the job and what to do."""


def job_path(dataset: str, category: str, model: str, seed: int) -> str:
    return Job(dataset, category, model, int(seed)).path


def train_command(results_dir: str | Path, dataset: str, category: str, model: str, seed: int,
                  configfile: str | Path | None = None) -> str:
    """The command that trains a job (its checkpoint as Snakemake target; ``--configfile`` unless the default)."""
    target = Path(results_dir) / "train" / job_path(dataset, category, model, seed) / CHECKPOINT_NAME
    option = f" --configfile {configfile}" if configfile and Path(configfile) != Path(DEFAULT_CONFIG) else ""
    return f"snakemake --cores all {target}{option}"


def _job_spec(config: dict[str, Any], dataset: str, category: str, model: str, seed: int) -> tuple[Any, dict]:
    name = job_path(dataset, category, model, seed)
    if dataset not in config["datasets"]:
        raise JobModelError(f"job {name}: dataset {dataset!r} is not in the config (datasets: "
                            f"{', '.join(config['datasets'])})")
    if category not in dataset_categories(config["datasets"][dataset]):
        raise JobModelError(f"job {name}: category {category!r} is not one of dataset {dataset!r}'s in the config")
    if model not in config["models"]:
        raise JobModelError(f"job {name}: model {model!r} is not in the config (models: {', '.join(config['models'])})")
    job = Job(dataset, category, model, int(seed))
    return job, train_config(config, job)


def job_manifest(results_dir: str | Path, dataset: str, category: str, model: str, seed: int,
                 config: dict[str, Any], configfile: str | Path | None = None) -> dict[str, Any]:
    """The content of ``iadbench_job.json`` for a trained job of ``results_dir`` (config: the validated
    config that trained it).

    Raises :class:`JobModelError` when the job has no usable checkpoint (never trained, failed) or was
    trained with another config (its ``train_config_hash`` differs), naming the command that trains it.
    ``config_hash`` is the job's train-config hash (what determines the checkpoint); ``metrics``: the
    evaluated row's image_*/pixel_* values when ``results/evaluate/<job>/row.parquet`` exists, else {}.
    """
    job, trained_by = _job_spec(config, dataset, category, model, seed)
    name = job.path
    results_dir = Path(results_dir)
    train_dir = results_dir / "train" / name
    command = train_command(results_dir, job.dataset, job.category, job.model, job.seed, configfile=configfile)
    info_path, checkpoint = train_dir / "train_info.json", train_dir / CHECKPOINT_NAME
    if not checkpoint.exists() or not info_path.exists():
        raise JobModelError(f"job {name} has no checkpoint ({checkpoint} is missing); train it with `{command}`")
    info = read_json(info_path)
    if info.get("status") != "ok" or checkpoint.stat().st_size == 0:
        raise JobModelError(f"job {name} failed in training ({info.get('error_type') or 'no checkpoint'}; see "
                            f"{info_path}); no model to load. Fix it and retrain with `{command}`")
    wanted = config_hash(trained_by)
    recorded = info.get("train_config_hash")
    if recorded and recorded != wanted:
        raise JobModelError(f"job {name}: its checkpoint was trained with another configuration (train config hash "
                            f"{recorded}, the config's is {wanted}); retrain it with `{command}`")
    predictions = load_predictions(train_dir / "predictions.npz")
    scores = np.asarray(predictions["scores"], dtype=np.float64)
    labels = np.asarray(predictions["labels"], dtype=np.int64)
    metrics: dict[str, float] = {}
    row_path = results_dir / "evaluate" / name / "row.parquet"
    if row_path.exists():
        import pandas as pd

        row = pd.read_parquet(row_path).iloc[0]
        metrics = {key: float(row[key]) for key in metric_columns(row.index) if not is_missing(row[key])}
    test_sizes = {_image_size(path) for path in predictions["image_paths"][:64]}
    threshold, _ = f1_optimal_threshold(scores, labels) if labels.any() and not labels.all() else (math.nan, None)
    return {
        "dataset": dataset, "category": category, "model": model, "seed": int(seed),
        "model_spec": config["models"][model], "image_size": trained_by["image_size"], "weights": config["weights"],
        "dataset_type": trained_by["dataset"].get("type", "embedded"), "metrics": metrics,
        "test_scores": scores.tolist(), "test_labels": labels.tolist(),
        # [width, height] of the job's test images (None: several sizes or unreadable); predict notes others.
        "test_image_size": list(next(iter(test_sizes))) if len(test_sizes) == 1 and None not in test_sizes else None,
        "image_F1_threshold": None if math.isnan(threshold) else float(threshold),
        "config_hash": wanted, "iadbench_version": package_version("iadbench"),
    }


def _image_size(path: str) -> tuple[int, int] | None:
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.size
    except OSError:
        return None


@dataclass
class JobModel:
    """A loaded model with its manifest; run inference inside :meth:`inference_guards`."""

    model: Any                 # the anomalib module, checkpoint loaded, in eval mode
    manifest: dict[str, Any]   # iadbench_job.json's content
    checkpoint: Path
    source: str                # where it came from (job path, folder, Hub repo), for messages and rows
    asset_dir: Path

    @property
    def name(self) -> str:
        manifest = self.manifest
        return job_path(manifest["dataset"], manifest["category"], manifest["model"], manifest["seed"])

    @contextlib.contextmanager
    def inference_guards(self) -> Iterator[None]:
        """The guards training ran under: ``weights: random`` forbids the network and keeps the random-weights
        patches on (some models fetch weights at predict time); ``pretrained`` forbids downloads too."""
        with _guards(self.manifest["model"], self.manifest["model_spec"], self.manifest["weights"], self.asset_dir):
            yield


def _guards(model_name: str, model_spec: dict[str, Any], weights: str, asset_dir: Path):
    return offline_model(model_name, model_spec, weights,
                         f"weights: pretrained: models read weights from {asset_dir} and never download")


def _load(manifest: dict[str, Any], checkpoint: Path, source: str, asset_dir: str | Path) -> JobModel:
    asset_dir = Path(asset_dir)
    with _guards(manifest["model"], manifest["model_spec"], manifest["weights"], asset_dir):
        model = build_model(manifest["model"], manifest["model_spec"], int(manifest["image_size"]),
                            manifest["weights"], asset_dir)
    try:
        load_checkpoint(model, checkpoint)
    except UnsafeCheckpointError as error:
        raise JobModelError(f"{source}: {error}") from None
    except Exception as error:
        raise JobModelError(f"{source}: cannot load checkpoint {checkpoint}: {type(error).__name__}: {error}") from error
    model.eval()
    return JobModel(model, manifest, checkpoint, source, asset_dir)


def load_job_model(results_dir: str | Path, dataset: str, category: str, model: str, seed: int,
                   config: dict[str, Any], asset_dir: str | Path = ASSET_DIR,
                   configfile: str | Path | None = None) -> JobModel:
    """The trained model of a benchmark job of ``results_dir`` (``config``: the validated config, read from
    ``configfile``, named in the error messages' training command)."""
    manifest = job_manifest(results_dir, dataset, category, model, seed, config, configfile)
    checkpoint = Path(results_dir) / "train" / job_path(dataset, category, model, seed) / CHECKPOINT_NAME
    return _load(manifest, checkpoint, f"job {job_path(dataset, category, model, seed)}", asset_dir)


MANIFEST_KEYS = ("dataset", "category", "model", "seed", "model_spec", "image_size", "weights", "test_scores",
                 "test_labels")


def load_model_folder(folder: str | Path, asset_dir: str | Path = ASSET_DIR, source: str | None = None,
                      allow_pickle: bool = True) -> JobModel:
    """The model of a model folder (``iadbench_job.json`` + ``model.safetensors``, as ``publish`` writes it; or,
    with ``allow_pickle``, a local ``model.ckpt``, read with ``weights_only=True`` and the allowlist)."""
    folder = Path(folder)
    source = source or f"model folder {folder}"
    manifest_path = folder / MANIFEST_NAME
    if not manifest_path.is_file():
        raise JobModelError(f"{source}: {MANIFEST_NAME} is missing (a model folder holds {WEIGHTS_NAME} and "
                            f"{MANIFEST_NAME})")
    checkpoint = folder / WEIGHTS_NAME
    if not checkpoint.is_file():
        if not allow_pickle:
            raise JobModelError(_no_safetensors(source, (folder / CHECKPOINT_NAME).is_file()))
        checkpoint = folder / CHECKPOINT_NAME
        if not checkpoint.is_file():
            raise JobModelError(f"{source}: {WEIGHTS_NAME} is missing (a model folder holds {WEIGHTS_NAME} and "
                                f"{MANIFEST_NAME})")
    manifest = read_json(manifest_path)
    missing = [key for key in MANIFEST_KEYS if key not in manifest]
    if missing:
        raise JobModelError(f"{source}: {manifest_path.name} lacks {', '.join(missing)}")
    return _load(manifest, checkpoint, source, asset_dir)


def _no_safetensors(source: str, has_pickle: bool) -> str:
    held = f" (it holds {CHECKPOINT_NAME}, a pickle)" if has_pickle else ""
    return (f"{source}: no {WEIGHTS_NAME}{held}: iadbench loads a Hub model only from {WEIGHTS_NAME} + "
            f"{MANIFEST_NAME}, never from a pickle such as {CHECKPOINT_NAME} (unpickling runs code its author "
            f"chose); republish the job with `snakemake publish`, which writes {WEIGHTS_NAME}")


def load_hub_model(repo_id: str, revision: str | None = None, asset_dir: str | Path = ASSET_DIR) -> JobModel:
    """The model of a model folder published on the Hugging Face Hub: ``iadbench_job.json`` and
    ``model.safetensors`` only, through ``hf_hub_download`` (from the local cache when there, offline with
    ``HF_HUB_OFFLINE=1``); a pickle (``model.ckpt``) is neither downloaded nor read, even when cached."""
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    at = f"@{revision}" if revision else ""
    source = f"Hugging Face Hub model {repo_id}{at}"
    fetch = f"`hf download {repo_id}{f' --revision {revision}' if revision else ''}`"
    folders = set()
    for filename in (MANIFEST_NAME, WEIGHTS_NAME):
        try:
            folders.add(Path(hf_hub_download(repo_id, filename, revision=revision)).parent)
        except LocalEntryNotFoundError:
            if filename == WEIGHTS_NAME and folders and (next(iter(folders)) / CHECKPOINT_NAME).exists():
                raise JobModelError(_no_safetensors(source, True)) from None
            raise JobModelError(
                f"{source}: {filename} is not in the local Hugging Face cache ({constants.HF_HUB_CACHE}) and "
                f"cannot be downloaded (offline: HF_HUB_OFFLINE={int(constants.HF_HUB_OFFLINE)}); fetch it where "
                f"the Hub is reachable with {fetch} (same HF_HOME), then run again") from None
        except (RepositoryNotFoundError, RevisionNotFoundError) as error:
            raise JobModelError(f"{source}: no such repository or revision on the Hub ({type(error).__name__}); "
                                "check the repo id (owner/name) and, for a private repository, HF_TOKEN") from None
        except EntryNotFoundError:
            if filename == WEIGHTS_NAME:
                raise JobModelError(_no_safetensors(source, False)) from None
            raise JobModelError(f"{source}: the repository has no {filename}: not an iadbench model folder "
                                f"({WEIGHTS_NAME} + {MANIFEST_NAME})") from None
        except HfHubHTTPError as error:
            raise JobModelError(f"{source}: download failed: {error}") from None
    folder, = folders if len(folders) == 1 else (None,)
    if folder is None:
        raise JobModelError(f"{source}: {MANIFEST_NAME} and {WEIGHTS_NAME} resolved to different revisions")
    return load_model_folder(folder, asset_dir, source=source, allow_pickle=False)
