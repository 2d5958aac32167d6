"""One evaluation job: saved predictions → metrics → the job's one-row Parquet file."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from iadbench import metrics
from iadbench.config import Job
from iadbench.files import read_json
from iadbench.results import METRIC_COLUMNS, ROW_SCHEMA, make_row, write_row
from iadbench.train import load_predictions

logger = logging.getLogger(__name__)


def native_masks(image_paths: np.ndarray, mask_paths: np.ndarray) -> np.ndarray | list[np.ndarray]:
    """Ground-truth masks at the dataset's own resolution (defect-free images: all zero).

    One ``(N, H, W)`` stack when all images share a size, else a list of ``(H_i, W_i)`` masks
    (Kolektor's images differ in height): the metrics take either.
    """
    masks = []
    for image_path, mask_path in zip(image_paths, mask_paths, strict=True):
        if mask_path:
            try:
                masks.append(np.asarray(Image.open(mask_path).convert("L")) > 0)
            except OSError as error:
                raise ValueError(f"cannot read mask {mask_path}: {error}") from error
        else:
            with Image.open(image_path) as image:
                masks.append(np.zeros(image.size[::-1], dtype=bool))
    if len({mask.shape for mask in masks}) > 1:
        return masks
    return np.stack(masks)


def degenerate_maps(maps) -> bool:
    """Every anomaly map constant (relative range < 1e-6): pixel metrics then only rank images, not pixels."""
    maps = maps if isinstance(maps, list) else list(maps)
    for one_map in maps:
        low, high = float(np.min(one_map)), float(np.max(one_map))
        if high - low > 1e-6 * max(abs(low), abs(high), np.finfo(np.float64).tiny):
            return False
    return bool(maps)


def compute_metrics(predictions: dict[str, np.ndarray], resolution: str, fpr_limits) -> dict[str, Any]:
    """Image metrics always; pixel metrics when the model produced anomaly maps."""
    values: dict[str, Any] = metrics.image_metrics(predictions["scores"], predictions["labels"])
    values["image_F1_threshold"], _ = metrics.f1_optimal_threshold(predictions["scores"], predictions["labels"])
    maps = predictions.get("maps", np.zeros(0))
    values["pixel_metrics_applicable"] = bool(maps.size)
    values["eval_resolution"] = resolution
    if maps.size:
        values["degenerate_maps"] = degenerate_maps(maps)
        if resolution == "native":
            masks = native_masks(predictions["image_paths"], predictions["mask_paths"])
            if isinstance(masks, list):
                maps = [metrics.resize_maps_to(one_map, mask.shape) for one_map, mask in zip(maps, masks, strict=True)]
            else:
                maps = metrics.resize_maps_to(maps, masks.shape[-2:])
        else:
            masks = predictions["masks"]
        values.update(metrics.pixel_metrics(maps, masks, fpr_limits=tuple(fpr_limits)))
    return values


# Peak memory of a native-resolution evaluation per evaluated pixel (maps upsampled to float32, masks,
# sort keys and the sweep's arrays), measured ~13 B; the base covers the interpreter and libraries.
BYTES_PER_PIXEL = 16
BASE_MEM_MB = 1500


def evaluation_mem_mb(predictions_path: str | Path, resolution: str, attempt: int = 1) -> int:
    """RAM to ask for to evaluate a job: grows with the category's pixel count and with each retry.

    Reads only image headers; before the predictions exist (planning) it answers the base amount.
    """
    try:
        with np.load(predictions_path, allow_pickle=False) as data:
            paths = data["image_paths"] if "image_paths" in data.files else []
            model_maps = data["maps"].size if resolution == "model" and "maps" in data.files else 0
    except (OSError, ValueError):
        return BASE_MEM_MB * attempt
    pixels = model_maps
    if not model_maps:
        for path in paths:
            try:
                with Image.open(path) as image:
                    pixels += image.size[0] * image.size[1]
            except OSError:
                continue
    return int((BASE_MEM_MB + BYTES_PER_PIXEL * pixels / 2**20) * attempt)


def evaluate_job(
    *, job: Job, predictions_path: str | Path, train_info_path: str | Path, row_path: str | Path,
    resolution: str, fpr_limits, config_hash: str, train_config_hash: str | None = None,
) -> pd.DataFrame:
    """Compute the job's metrics and write its row (a failed training gives a failed row).

    ``train_config_hash`` is what the current config expects the predictions to come from: predictions
    made under another config (e.g. by a job of an earlier run) give a failed row, never a mislabelled one.
    """
    info = read_json(train_info_path)
    row: dict[str, Any] = {**job._asdict(), **{key: value for key, value in info.items() if key in ROW_SCHEMA}}
    row.update(config_hash=config_hash, finished_at=pd.Timestamp.now(tz="UTC"))
    ran_under = info.get("train_config_hash")
    if info["status"] == "ok" and train_config_hash and ran_under != train_config_hash:
        row.update(status="failed", error_type="StalePredictions", error_tail=(
            f"{predictions_path} was trained under config {ran_under}, this run's config is {train_config_hash}: "
            f"delete {Path(train_info_path).parent} and rerun to retrain it"))
    elif info["status"] == "ok":
        try:
            predictions = load_predictions(predictions_path)
            row["n_test_anomalous"] = int(predictions["labels"].sum())
            row.update(compute_metrics(predictions, resolution, fpr_limits))
        except Exception as error:  # a broken prediction file is this job's failure, not the run's
            logger.exception("evaluating %s failed", predictions_path)
            row.update(status="failed", error_type=type(error).__name__, error_tail=str(error)[-2000:])
    for column in METRIC_COLUMNS:
        row.setdefault(column, float("nan"))
    frame = make_row(row)
    write_row(frame, row_path)
    return frame


def run_evaluation(*, log_path: str | Path | None = None, attempt: int = 1, final_attempt: int = 1,
                   retry_round: int = 0, results_dir: str | Path = "results", **job_args: Any) -> pd.DataFrame:
    """Run :func:`evaluate_job` in a child process holding the job folder's lock, like training
    (:func:`iadbench.train.run_isolated`): an evaluation killed for memory is retried with more while
    this run has attempts left, and leaves a failed row on the last one."""
    from iadbench import attempts
    from iadbench.results import read_rows

    row_path = Path(job_args["row_path"])
    job_dir = row_path.parent
    job_dir.mkdir(parents=True, exist_ok=True)
    with attempts.job_lock(job_dir) as lock:
        row_path.unlink(missing_ok=True)
        returncode = attempts.run_child("iadbench.evaluate", {**job_args, "job": list(job_args["job"])}, job_dir, lock)
        if returncode == 0 and row_path.exists():
            frame = read_rows([row_path])
            text = {key: "" if pd.isna(value) else str(value)
                    for key, value in frame.iloc[0][["status", "error_type", "error_tail"]].items()}
            outcome = attempts.Outcome(**text)
        else:
            frame = None
            outcome = attempts.child_failure(returncode, log_path)
        try:
            count = attempts.settle(job_dir, outcome, stage="evaluate", attempt=attempt, final_attempt=final_attempt,
                                    retry_round_=retry_round, log_path=log_path, results_dir=results_dir)
        except attempts.RetryWithMoreResources:
            row_path.unlink(missing_ok=True)
            raise
        if frame is None:
            info = read_json(job_args["train_info_path"])  # training's provenance: same host, versions, commit
            provenance = {key: value for key, value in info.items() if key in ROW_SCHEMA}
            frame = make_row({**provenance, **Job(*job_args["job"])._asdict(), "status": "failed",
                              "error_type": outcome.error_type, "error_tail": outcome.error_tail,
                              "config_hash": job_args["config_hash"], "finished_at": pd.Timestamp.now(tz="UTC")})
        frame["evaluation_attempts"] = pd.array([count], dtype="Int64")
        write_row(frame, row_path)
    return frame


if __name__ == "__main__":  # the child of run_evaluation
    import sys

    from iadbench.files import read_json as _read_args

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    child_args = _read_args(sys.argv[1])
    child_args.pop("log_path", None)
    evaluate_job(**{**child_args, "job": Job(*child_args["job"])})
