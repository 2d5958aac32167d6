"""One evaluation job: saved predictions → metrics and their bootstrap intervals → the job's one-row Parquet
file, its per-image score table (``scores.parquet``) and its bootstrap replicates (``bootstrap.npz``)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from iadbench.config.base import Job
from iadbench.core.files import atomic_write, read_json
from iadbench.metrics import measures as metrics
from iadbench.metrics.maps import degenerate_maps, f1_optimal_threshold, resize_maps_to
from iadbench.results.rows import METRIC_COLUMNS, job_row, write_row
from iadbench.run import attempts
from iadbench.run.predictions import load_predictions
from iadbench.run.protocols import DEFAULT_TARGET_FPR, protocol_values
from iadbench.run.timing import read_timing
from iadbench.stats import jackknife, uncertainty

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


# The per-image score table: one row per test image, in the predictions' order. map_max / map_mean: of the
# anomaly map at evaluation resolution (NaN without maps); defect_type: as the reader recorded it (mvtec_layout,
# a multi-defect folder: the defect's name, "good" for defect-free images), else the folder after test/ in the path.
SCORE_COLUMNS = {"image_path": "string", "label": "int8", "defect_type": "string", "image_score": "float64",
                 "map_max": "float64", "map_mean": "float64"}


@dataclass
class Evaluation:
    values: dict[str, Any]   # the row's metric and interval columns
    scores: pd.DataFrame     # SCORE_COLUMNS
    names: list[str]         # the replicates' columns
    replicates: np.ndarray   # (resamples, metrics) bootstrap replicates
    jackknife: jackknife.Jackknife | None = None  # the pixel metrics without each image (the pixel tests)


def compute_metrics(predictions: dict[str, np.ndarray], resolution: str, fpr_limits, *, seed: int = 0,
                    n_resamples: int = uncertainty.N_RESAMPLES, target_fpr: float = DEFAULT_TARGET_FPR) -> dict[str, Any]:
    """Image metrics always; pixel metrics when the model produced anomaly maps; their intervals."""
    return evaluate_predictions(predictions, resolution, fpr_limits, seed=seed, n_resamples=n_resamples,
                                target_fpr=target_fpr).values


def evaluate_predictions(predictions: dict[str, np.ndarray], resolution: str, fpr_limits, *, seed: int = 0,
                         n_resamples: int = uncertainty.N_RESAMPLES, target_fpr: float = DEFAULT_TARGET_FPR,
                         ) -> Evaluation:
    """Metrics (exact), their bootstrap intervals (seeded by ``seed``) and the per-image score table.

    Pixel metrics cover the test images that have ground truth: every defect-free image (all-normal) and
    every anomalous image with a mask. Anomalous images without one (a defect without masks in an
    ``mvtec_layout`` or multi-defect ``folder`` dataset) are left out of them (counted in the row's
    ``n_test_without_mask``) but scored and in the image metrics; with no mask at all the pixel metrics are
    NaN (the report's "–"). The dataset's own protocol and the operating point (at ``target_fpr`` on the
    calibration images saved with the predictions) add their columns (:mod:`iadbench.run.protocols`).
    """
    scores, labels = predictions["scores"], predictions["labels"]
    values: dict[str, Any] = metrics.image_metrics(scores, labels)
    values["image_F1_threshold"], _ = f1_optimal_threshold(scores, labels)
    maps = predictions.get("maps", np.zeros(0))
    values["pixel_metrics_applicable"] = bool(maps.size)
    values["eval_resolution"] = resolution
    has_truth = ground_truth(predictions)
    values["n_test_without_mask"] = int(has_truth.size - has_truth.sum())
    table_maps, masks = None, None
    if maps.size:
        values["degenerate_maps"] = degenerate_maps(maps)
        if resolution == "native":
            masks = native_masks(predictions["image_paths"], predictions["mask_paths"])
            if isinstance(masks, list):
                maps = [resize_maps_to(one_map, mask.shape) for one_map, mask in zip(maps, masks, strict=True)]
            else:
                maps = resize_maps_to(maps, masks.shape[-2:])
        else:
            masks = predictions["masks"]
        table_maps = maps
        if not np.any(has_truth & (np.asarray(labels).reshape(-1) > 0)):
            masks = None  # no anomalous image with a mask: nothing for pixel metrics to find
            limits = [f"pixel_AUPRO_{round(limit * 100):02d}" for limit in fpr_limits]
            values.update(dict.fromkeys(["pixel_AUROC", "pixel_AP", "pixel_F1_max", "pixel_PRO", *limits]
                                        + (["pixel_AUPRO"] if limits else []), float("nan")))
        elif not has_truth.all():
            keep = np.flatnonzero(has_truth)
            maps, masks = [maps[index] for index in keep], [masks[index] for index in keep]
        if masks is not None:
            values.update(metrics.pixel_metrics(maps, masks, fpr_limits=tuple(fpr_limits)))
    maps = maps if masks is not None else None
    paths = predictions.get("image_paths")
    types = defect_types(predictions, [str(path) for path in ([] if paths is None else paths)])
    values.update(protocol_values(predictions, types, target_fpr=target_fpr, native_maps=maps, native_masks=masks))
    # Image and pixel metrics share the resamples; drawn in path order, so models of one seed pair up.
    counts = uncertainty.resample_counts(labels, n_resamples, seed, keys=paths)
    names, columns = list(uncertainty.IMAGE_NAMES), [uncertainty.image_replicates(scores, labels, counts)]
    left_out = None
    if maps is not None:
        counts = counts[:, has_truth]  # the resampled images that have ground truth
        statistics = uncertainty.pixel_statistics(maps, masks, tuple(fpr_limits))
        pixel = uncertainty.pixel_replicates(statistics, counts)
        keys = (np.arange(has_truth.size) if paths is None else np.asarray(paths)).astype(str)[has_truth]
        if np.unique(keys).size == keys.size:  # the rows pair up by path (repeated paths: the report's bootstrap)
            left_out = jackknife.pixel_jackknife(statistics, keys, (np.asarray(labels).reshape(-1) > 0)[has_truth],
                                                 {"pixel_AUPRO": statistics.names[2]} if fpr_limits else None)
        names += list(statistics.names) + (["pixel_AUPRO"] if fpr_limits else [])
        columns += [pixel, pixel[:, 2:3]] if fpr_limits else [pixel]
    replicates = np.concatenate(columns, axis=1)
    n_images = {name: int(np.asarray(labels).size) if name.startswith("image_") else int(has_truth.sum())
                for name in names}
    values.update(uncertainty.interval_columns(names, replicates, values, n_images))
    return Evaluation(values, score_table(predictions, table_maps), names, replicates, left_out)


def ground_truth(predictions: dict[str, np.ndarray]) -> np.ndarray:
    """Per test image: whether it has ground truth for the pixel metrics (defect-free, or a mask path)."""
    labels = np.asarray(predictions["labels"]).reshape(-1) > 0
    mask_paths = predictions.get("mask_paths")
    if mask_paths is None or len(mask_paths) != labels.size:  # predictions from before mask paths were kept
        return np.ones(labels.size, dtype=bool)
    return ~labels | (np.asarray(mask_paths, dtype=str) != "")


def evaluate_video_predictions(predictions: dict[str, np.ndarray], resolution: str, fpr_limits) -> Evaluation:
    """A video job's metrics: frame AUROC micro (every test frame pooled) and macro (mean over the test
    videos having both classes; the others excluded and counted), the counts, and pixel metrics where the
    frames have masks. Image metrics stay NaN (a frame is not an image of the image track), and there is no
    bootstrap: frames of one video are not independent draws, so resampling frames would understate the
    uncertainty (no replicates, NaN interval columns). The score table has one row per frame (its
    ``defect_type`` is the video's folder).

    Pixel metrics at ``native`` resolution read each frame's mask file (UCSDped layout); without mask
    files (Avenue, ShanghaiTech) they use the masks saved with the predictions (``eval_resolution:
    model``).
    """
    scores, labels, video_ids = predictions["scores"], predictions["labels"], predictions["video_ids"]
    macro, _, excluded = metrics.frame_auroc_macro(scores, labels, video_ids)
    values: dict[str, Any] = {
        "frame_AUROC": metrics.frame_auroc(scores, labels), "frame_AUROC_macro": macro,
        "n_videos": int(np.unique(video_ids).size), "n_videos_excluded_macro": excluded, "n_frames": int(scores.size),
    }
    maps, masks = predictions.get("maps", np.zeros(0)), predictions.get("masks", np.zeros(0))
    mask_paths = predictions.get("mask_paths", np.zeros(0))
    native = resolution == "native" and mask_paths.size == scores.size and all(str(path) for path in mask_paths)
    values["pixel_metrics_applicable"] = bool(maps.size and (native or masks.size))
    values["eval_resolution"] = "native" if native else "model"
    if values["pixel_metrics_applicable"]:
        values["degenerate_maps"] = degenerate_maps(maps)
        masks = native_masks(predictions["image_paths"], mask_paths) if native else masks
        if isinstance(masks, list):
            maps = [resize_maps_to(one_map, mask.shape) for one_map, mask in zip(maps, masks, strict=True)]
        else:
            maps = resize_maps_to(maps, masks.shape[-2:])
        values.update(metrics.pixel_metrics(maps, masks, fpr_limits=tuple(fpr_limits)))
    else:
        maps = None
    return Evaluation(values, score_table(predictions, maps), [], np.zeros((0, 0)))


def defect_type(image_path: str) -> str:
    """The folder after the last ``test`` in the path (``test/<defect>/000.png``), else the image's folder."""
    parts = Path(image_path).parts
    folders = parts[:-2]  # "test" must have a folder after it
    if "test" in folders:
        return parts[len(folders) - folders[::-1].index("test")]
    return Path(image_path).parent.name


def defect_types(predictions: dict[str, np.ndarray], paths: list[str]) -> list[str]:
    """Each image's defect type: as the reader recorded it (``defect_types``), else from its path."""
    recorded = predictions.get("defect_types")
    if recorded is not None and len(recorded) == len(paths):
        return [str(name) for name in recorded]
    return [defect_type(path) if path else "" for path in paths]


def score_table(predictions: dict[str, np.ndarray], maps=None) -> pd.DataFrame:
    """One row per test image (SCORE_COLUMNS); ``maps`` at evaluation resolution, or None."""
    scores = np.asarray(predictions["scores"], dtype=np.float64).reshape(-1)
    paths = [str(path) for path in predictions.get("image_paths", [""] * scores.size)]
    nan = np.full(scores.size, np.nan)
    table = pd.DataFrame({
        "image_path": paths, "label": (np.asarray(predictions["labels"]).reshape(-1) > 0).astype(np.int8),
        "defect_type": defect_types(predictions, paths), "image_score": scores,
        "map_max": [float(np.max(one_map)) for one_map in maps] if maps is not None else nan,
        "map_mean": [float(np.mean(one_map, dtype=np.float64)) for one_map in maps] if maps is not None else nan,
    })
    return table.astype(SCORE_COLUMNS)


def empty_score_table() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=dtype) for column, dtype in SCORE_COLUMNS.items()})


def write_scores(table: pd.DataFrame, path: str | Path) -> None:
    atomic_write(path, lambda temporary: table.to_parquet(temporary, index=False))


def evaluate_job(
    *, job: Job, predictions_path: str | Path, train_info_path: str | Path, row_path: str | Path,
    resolution: str, fpr_limits, config_hash: str, train_config_hash: str | None = None,
    timing_path: str | Path | None = None, scores_path: str | Path | None = None,
    n_resamples: int = uncertainty.N_RESAMPLES, target_fpr: float = DEFAULT_TARGET_FPR,
    attempt_number: int | None = None,
) -> pd.DataFrame:
    """Compute the job's metrics and write its row (a failed training gives a failed row).

    ``timing_path``: the model's timing.json (:mod:`iadbench.run.timing`), whose record joins every seed's row.
    ``scores_path``: the per-image score table (default ``scores.parquet`` beside the row; a failed job
    writes it empty); the bootstrap replicates go to ``bootstrap.npz`` beside the row (empty when failed).

    ``train_config_hash`` is what the current config expects the predictions to come from: predictions
    made under another config (e.g. by a job of an earlier run) give a failed row, never a mislabelled one.
    ``attempt_number``: the row's ``evaluation_attempts`` (:func:`iadbench.run.jobs.run_evaluation` counts them).
    """
    info = read_json(train_info_path)
    evaluation: Evaluation | None = None
    row: dict[str, Any] = {"status": info["status"], "config_hash": config_hash,
                           "finished_at": pd.Timestamp.now(tz="UTC")}
    ran_under = info.get("train_config_hash")
    if info["status"] == "ok" and train_config_hash and ran_under != train_config_hash:
        row.update(status="failed", error_type="StalePredictions", error_tail=(
            f"{predictions_path} was trained under config {ran_under}, this run's config is {train_config_hash}: "
            f"delete {Path(train_info_path).parent} and rerun to retrain it"))
    elif info["status"] == "ok":
        try:
            started = time.perf_counter()
            predictions = load_predictions(predictions_path)
            row["n_test_anomalous"] = int(predictions["labels"].sum())
            if "video_ids" in predictions:
                evaluation = evaluate_video_predictions(predictions, resolution, fpr_limits)
            else:
                evaluation = evaluate_predictions(predictions, resolution, fpr_limits, seed=job.seed,
                                                  n_resamples=n_resamples, target_fpr=target_fpr)
        except Exception as error:  # a broken prediction file is this job's failure, not the run's
            logger.exception("evaluating %s failed", predictions_path)
            row.update(status="failed", error_type=type(error).__name__, error_tail=str(error)[-2000:])
        else:
            # The job's real work (reading predictions and masks, metrics, bootstrap): benchmarks/job_overhead.py.
            row.update(evaluation.values, evaluation_seconds=time.perf_counter() - started)
    for column in METRIC_COLUMNS:
        row.setdefault(column, float("nan"))
    frame = job_row(job._asdict(), train_info=info, timing=read_timing(timing_path, job.model), **row)
    if attempt_number is not None:
        frame["evaluation_attempts"] = pd.array([attempt_number], dtype="Int64")
    if evaluation is None:
        write_side_outputs(row_path, scores_path, empty_score_table(), [], np.zeros((0, 0)))
    else:
        write_side_outputs(row_path, scores_path, evaluation.scores, evaluation.names, evaluation.replicates,
                           evaluation.jackknife)
    write_row(frame, row_path)  # last: a row means its side outputs are complete
    return frame


def write_side_outputs(row_path: str | Path, scores_path: str | Path | None, table: pd.DataFrame,
                       names: list[str], replicates: np.ndarray, left_out: jackknife.Jackknife | None = None) -> None:
    """The score table and ``bootstrap.npz`` (beside the row, with the pixel metrics' jackknife values) of a job;
    empty ones for a failed job."""
    write_scores(table, scores_path or Path(row_path).with_name("scores.parquet"))
    uncertainty.save_replicates(Path(row_path).with_name("bootstrap.npz"), names, replicates,
                                extra=jackknife.members(left_out))


def write_failed_row(job_args: dict[str, Any], outcome: attempts.Outcome, attempt_number: int,
                     scores_path: Path) -> None:
    """The row (and empty side outputs) of an evaluation whose child died: the training record's provenance
    (same host, versions, commit), ``outcome``'s status and error (:func:`iadbench.run.jobs.run_evaluation`)."""
    frame = job_row(Job(*job_args["job"])._asdict(), train_info=read_json(job_args["train_info_path"]),
                    timing=read_timing(job_args["timing_path"], job_args["job"][2]), status="failed",
                    error_type=outcome.error_type, error_tail=outcome.error_tail, config_hash=job_args["config_hash"],
                    finished_at=pd.Timestamp.now(tz="UTC"))
    frame["evaluation_attempts"] = pd.array([attempt_number], dtype="Int64")
    row_path = Path(job_args["row_path"])
    write_side_outputs(row_path, scores_path, empty_score_table(), [], np.zeros((0, 0)))
    write_row(frame, row_path)  # last: a row means its side outputs are complete


if __name__ == "__main__":  # the child of iadbench.run.jobs.run_evaluation
    import sys

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    child_args = read_json(sys.argv[1])
    child_args.pop("log_path", None)
    evaluate_job(**{**child_args, "job": Job(*child_args["job"])})
