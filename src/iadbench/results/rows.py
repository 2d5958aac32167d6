"""The result row: one job, one row. Its schema, the one writer, the one reader and the one merger."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from iadbench.core.files import atomic_write
from iadbench.results.columns import PROTOCOL_COLUMNS, metric_names

KEY_COLUMNS = ("setting", "dataset", "category", "model", "seed")
# The setting of a row written before settings existed (iadbench.config.settings.DEFAULT_SETTING; this layer
# cannot import config, a unit test keeps the two equal).
DEFAULT_SETTING = "one_class"
# The metric columns, from the one table (iadbench.results.columns.METRICS).
IMAGE_METRICS = metric_names("image")
PIXEL_METRICS = metric_names("pixel")
METRIC_COLUMNS = IMAGE_METRICS + PIXEL_METRICS
# The video track's frame-level metrics (iadbench.run.evaluate.evaluate_video_predictions).
FRAME_METRICS = metric_names("frame")
# Bootstrap confidence intervals of these metrics (iadbench.stats.uncertainty); pixel_AUPRO's at the first limit.
CI_METRICS = metric_names(interval=True)
CI_COLUMNS = tuple(f"{metric}_ci_{side}" for metric in CI_METRICS for side in ("low", "high"))
# Extra AU-PRO limits appear as pixel_AUPRO_<percent> (e.g. pixel_AUPRO_05); they are floats too.
AUPRO_PREFIX = "pixel_AUPRO_"



def metric_columns(columns: Iterable[str], *, frame_metrics: bool = True) -> list[str]:
    """The metric columns among ``columns`` (a row's keys, a table's columns): the schema's image and pixel
    metrics (and frame metrics unless ``frame_metrics`` is false), then the extra AU-PRO limits
    (pixel_AUPRO_05...); never the interval bounds."""
    present = set(columns)
    extra = sorted(name for name in present if name.startswith(AUPRO_PREFIX) and "_ci_" not in name)
    known = METRIC_COLUMNS + (FRAME_METRICS if frame_metrics else ())
    return [*(name for name in known if name in present), *extra]


# Column → pandas dtype, in the order rows are written.
ROW_SCHEMA: dict[str, str] = {
    "setting": "string", "dataset": "string", "category": "string", "model": "string", "seed": "int64",
    **dict.fromkeys(METRIC_COLUMNS, "float64"),
    # Test-set uncertainty of one job: interval bounds, how they were made (logit bootstrap), resamples,
    # coverage (0.95). Several seeds: iadbench.stats.uncertainty.combine_seed_intervals of the bootstrap.npz files.
    **dict.fromkeys(CI_COLUMNS, "float64"), "ci_method": "string", "ci_resamples": "Int64", "ci_level": "float64",
    # "image" or "video" (the video track: frame metrics, image_* NaN). frame_AUROC pools every test frame
    # (micro); frame_AUROC_macro is the mean over the n_videos - n_videos_excluded_macro test videos having
    # both normal and anomalous frames; n_frames: test frames scored (each exactly once).
    "track": "string", **dict.fromkeys(FRAME_METRICS, "float64"), "n_videos": "Int64",
    "n_videos_excluded_macro": "Int64", "n_frames": "Int64",
    "status": "string", "error_type": "string", "error_tail": "string",
    # Attempts in all (across runs) of the training and of the evaluation; the retry round they ran in.
    "attempts": "Int64", "evaluation_attempts": "Int64", "retry_round": "Int64",
    # The raw image score at which image F1 is maximal (score >= threshold: anomalous), found on the test
    # set: an oracle. The operating point's threshold, set without test labels, is image_threshold.
    "image_F1_threshold": "float64",
    # The operating point's and the datasets' protocols' columns that are not metrics (docs/protocols.md).
    **PROTOCOL_COLUMNS,
    "task_type": "string", "pixel_metrics_applicable": "boolean", "eval_resolution": "string",
    "degenerate_maps": "boolean",
    "n_train": "Int64", "n_test": "Int64", "n_test_anomalous": "Int64",
    # few_shot: the training images the seed picked; noisy: the anomalous test images moved into training
    # (never scored); both relative to the dataset's folder, "; "-separated, in sorted order.
    "few_shot_files": "string", "noisy_files": "string",
    # Anomalous test images without a ground-truth mask (left out of the pixel metrics); files the
    # category's preparation skipped as not images (mvtec_layout, folder; null for other types).
    "n_test_without_mask": "Int64", "n_skipped_files": "Int64",
    "fit_seconds": "float64", "inference_seconds": "float64", "images_per_second": "float64",
    # The evaluation's work: predictions and masks read, metrics and their bootstrap computed.
    "evaluation_seconds": "float64",
    # fit_seconds is training alone; fit_wall_seconds all of anomalib's fit (with its validation passes).
    # The timing job's (iadbench.run.timing): the torch model alone on synthetic inputs, nothing else running.
    "fit_wall_seconds": "float64", "latency_ms_b1": "float64", "throughput_b32": "float64",
    "gflops_per_image": "float64", "timing_peak_gpu_mb": "float64", "timing_device": "string",
    "timing_batch": "Int64", "timing_threads": "Int64", "timing_error": "string", "timing_seed": "Int64",
    "peak_rss_mb": "float64", "peak_gpu_mb": "float64", "n_parameters": "Int64",
    "weights": "string", "pretrained_assets": "string", "image_size": "Int64", "max_epochs": "Int64", "threads": "Int64",
    "device": "string", "cuda_visible_devices": "string", "hostname": "string", "cpu": "string", "gpu": "string",
    "python_version": "string", "torch_version": "string", "anomalib_version": "string",
    "torchvision_version": "string", "timm_version": "string", "lightning_version": "string",
    "torchmetrics_version": "string", "freia_version": "string", "numpy_version": "string",
    "sklearn_version": "string", "opencv_version": "string",
    "iadbench_version": "string", "git_commit": "string", "config_hash": "string",
    "finished_at": "datetime64[ns, UTC]",
}


class RowError(ValueError):
    """A row that does not follow the schema."""


def make_row(values: dict[str, Any]) -> pd.DataFrame:
    """A one-row frame in schema order; unknown columns (except AU-PRO limits) are an error."""
    return make_rows([values])


def make_rows(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """:func:`make_row` for many rows at once (one frame, dtypes applied once: fast for thousands of rows)."""
    extra: set[str] = set()
    rows = [{"setting": DEFAULT_SETTING, **values} for values in rows]
    for values in rows:
        unknown = [key for key in values if key not in ROW_SCHEMA and not key.startswith(AUPRO_PREFIX)]
        if unknown:
            raise RowError(f"row has columns outside the schema: {unknown}")
        missing = [key for key in KEY_COLUMNS + ("status",) if key not in values]
        if missing:
            raise RowError(f"row lacks required columns: {missing}")
        extra.update(key for key in values if key.startswith(AUPRO_PREFIX) and key not in ROW_SCHEMA)
    # (pixel_AUPRO_ci_low/high share the prefix but are schema columns, placed with the other CIs.)
    columns = list(ROW_SCHEMA) + sorted(extra)
    frame = pd.DataFrame([{column: values.get(column) for column in columns} for values in rows], columns=columns)
    return _apply_dtypes(frame)


def job_row(job: dict[str, Any], *, train_info: dict[str, Any], timing: dict[str, Any],
            **values: Any) -> pd.DataFrame:
    """A job's row, assembled in one place: its keys, the schema's columns of its training record (the record
    holds more than the row: the train config hash, a continual step's per-category counts), its timing
    record, then ``values`` (the evaluation's metrics, status, config hash). The one rule for unknown keys:
    the training record is filtered to the schema; any other value outside it is an error (:func:`make_row`).
    A record from before the video track is an image job's."""
    row = {**job, **{key: value for key, value in train_info.items() if key in ROW_SCHEMA}, **timing, **values}
    row.setdefault("track", "image")
    return make_row(row)


def _apply_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    if "setting" not in frame:  # rows written before settings existed are one-class
        frame.insert(0, "setting", DEFAULT_SETTING)
    else:
        frame["setting"] = frame["setting"].fillna(DEFAULT_SETTING)
    for column in frame.columns:
        dtype = ROW_SCHEMA.get(column, "float64")
        if dtype.startswith("datetime"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        else:
            frame[column] = frame[column].astype(dtype)
    return frame


def write_row(row: pd.DataFrame, path: str | Path) -> None:
    atomic_write(path, lambda temporary: row.to_parquet(temporary, index=False))


def read_rows(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Read row (or benchmark) Parquet files into one frame with the schema's dtypes."""
    frames = []
    for path in paths:
        try:
            frames.append(pd.read_parquet(path))
        except Exception as error:
            raise RowError(f"cannot read result file {path}: {error}") from error
    if not frames:
        return _apply_dtypes(pd.DataFrame(columns=list(ROW_SCHEMA)))
    return _apply_dtypes(pd.concat(frames, ignore_index=True))


def merge_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (setting, dataset, category, model, seed): the newest by ``finished_at`` wins."""
    ordered = frame.sort_values("finished_at", kind="stable")
    merged = ordered.drop_duplicates(list(KEY_COLUMNS), keep="last")
    return merged.sort_values(list(KEY_COLUMNS), kind="stable").reset_index(drop=True)


def is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def aggregate(row_paths: Iterable[str | Path], benchmark_path: str | Path) -> pd.DataFrame:
    """Read the jobs' rows, merge them and write the benchmark table."""
    merged = merge_rows(read_rows(row_paths))
    write_row(merged, benchmark_path)
    return merged
