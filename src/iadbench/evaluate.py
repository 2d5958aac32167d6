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
from iadbench.io import read_json
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


def compute_metrics(predictions: dict[str, np.ndarray], resolution: str, fpr_limits) -> dict[str, Any]:
    """Image metrics always; pixel metrics when the model produced anomaly maps."""
    values: dict[str, Any] = metrics.image_metrics(predictions["scores"], predictions["labels"])
    maps = predictions.get("maps", np.zeros(0))
    values["pixel_metrics_applicable"] = bool(maps.size)
    values["eval_resolution"] = resolution
    if maps.size:
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


def evaluate_job(
    *, job: Job, predictions_path: str | Path, train_info_path: str | Path, row_path: str | Path,
    resolution: str, fpr_limits, config_hash: str,
) -> pd.DataFrame:
    """Compute the job's metrics and write its row (a failed training gives a failed row)."""
    info = read_json(train_info_path)
    row: dict[str, Any] = {**job._asdict(), **{key: value for key, value in info.items() if key in ROW_SCHEMA}}
    row.update(config_hash=config_hash, finished_at=pd.Timestamp.now(tz="UTC"))
    if info["status"] == "ok":
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
