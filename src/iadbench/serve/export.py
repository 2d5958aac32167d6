"""Export a benchmark job's model to ONNX and OpenVINO, and check that the exported model computes what the
checkpoint computes (parity), with CPU throughput at batch 1 for torch, onnxruntime and OpenVINO.

What is compared. anomalib's ``to_onnx``/``to_openvino`` export the whole ``AnomalibModule.forward``: the
pre-processor (resize to the model's input size, ImageNet normalisation), the model and the post-processor.
iadbench builds every model with the post-processor's normalisation off (:func:`iadbench.models.build.build_model`),
so the exported graph outputs the **raw** image score (``pred_score``) and the **raw** anomaly map
(``anomaly_map``, at the model's resolution): the quantities the benchmark job saved and its metrics are
computed from. The reference is the same ``forward`` of the checkpoint loaded in torch
(:func:`iadbench.serve.job_model.load_job_model`), on the same input tensors: the job's test images
(``results/train/<job>/predictions.npz``) read as anomalib's datasets read them (``read_image``: RGB, float in
[0, 1]); the graph is exported for the test images' size (the most common one; an image of another size is
resized to it, bilinear with antialiasing, and counted in ``resized_images``).

Parity (``tolerance`` t, default 1e-4, relative): a format passes when, on every test image,
``|exported - torch| <= t * max(1, |torch|)`` for the image score and for every anomaly-map pixel. The record
keeps ``max_abs_delta_score``, ``max_abs_delta_map`` and the relative maxima the test uses. A format that
cannot export (anomalib or the exporter raises), cannot run, or fails parity gets ``status: failed`` and its
reason; the job's status is ``ok`` only when every requested format passed.

Throughput: batch 1 on the CPU, the same forward (pre-processing in the graph) for the three runtimes; median
of ``repeats`` timed calls after 2 warm-up calls, as milliseconds and images per second.
"""

from __future__ import annotations

import logging
import math
import re
import shutil
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from iadbench.config.base import Job
from iadbench.core import provenance
from iadbench.core.files import atomic_write, write_json
from iadbench.models.assets import ASSET_DIR
from iadbench.run.predictions import load_predictions
from iadbench.run.timing import measure, median_ms
from iadbench.serve.job_model import load_job_model
from iadbench.serve.runtimes import _export, onnx_runner, openvino_runner, torch_runner

logger = logging.getLogger(__name__)

FORMATS = ("onnx", "openvino")
DEFAULT_TOLERANCE = 1e-4
COMPARED = ("raw image score (pred_score) and raw anomaly map (anomaly_map) of AnomalibModule.forward "
            "(pre-processor + model + post-processor without normalisation)")
SUMMARY_COLUMNS = ("dataset", "category", "model", "seed", "status", "reason", "input_size", "n_images",
                   "torch_ms_b1", *(f"{fmt}_{key}" for fmt in ("onnx", "openvino")
                     for key in ("status", "batch", "max_abs_delta_score", "max_abs_delta_map", "ms_b1")))


# Parity ---------------------------------------------------------------------------------------------------


def relative_deltas(reference: np.ndarray, other: np.ndarray) -> np.ndarray:
    """``|other - reference| / max(1, |reference|)`` elementwise (the quantity compared with the tolerance)."""
    reference = np.asarray(reference, dtype=np.float64)
    other = np.asarray(other, dtype=np.float64)
    if reference.shape != other.shape:
        raise ValueError(f"shapes differ: reference {reference.shape}, exported {other.shape}")
    return np.abs(other - reference) / np.maximum(1.0, np.abs(reference))


def parity(reference: dict[str, list[np.ndarray]], exported: dict[str, list[np.ndarray]],
           tolerance: float = DEFAULT_TOLERANCE) -> dict[str, Any]:
    """Compare per-image outputs ``{"score": [...], "map": [...]}`` (``map`` may be empty: no map).

    Returns the maxima (absolute and relative) and ``passed`` with, when not, the ``reason``. A non-finite
    value on either side fails (NaN compares as no number).
    """
    result: dict[str, Any] = {"tolerance": tolerance}
    failures = []
    for name in ("score", "map"):
        pairs = list(zip(reference.get(name) or [], exported.get(name) or [], strict=True))
        if not pairs:
            result[f"max_abs_delta_{name}"] = None
            result[f"max_rel_delta_{name}"] = None
            continue
        absolute = max(float(np.max(np.abs(np.asarray(b, np.float64) - np.asarray(a, np.float64)))) for a, b in pairs)
        relative = max(float(np.max(relative_deltas(a, b))) for a, b in pairs)
        finite = all(np.isfinite(a).all() and np.isfinite(b).all() for a, b in pairs)
        result[f"max_abs_delta_{name}"] = absolute
        result[f"max_rel_delta_{name}"] = relative
        if not finite or not relative <= tolerance:
            failures.append(f"{name}: max relative |Δ| {relative:.3g} > {tolerance:g}" if finite
                            else f"{name}: non-finite values")
    result["passed"] = not failures
    result["reason"] = "; ".join(failures)
    return result


# Timing ---------------------------------------------------------------------------------------------------


def call_ms(call: Callable[[], Any], repeats: int, warmup: int = 2) -> float:
    """Median milliseconds of ``repeats`` calls after ``warmup`` (the timing job's measure, without a budget)."""
    return median_ms(measure(call, warmup=warmup, repeats=max(1, repeats), budget_s=math.inf, min_repeats=1))


# Inputs ---------------------------------------------------------------------------------------------------


def load_images(paths: Iterable[str]) -> tuple[list[Any], tuple[int, int], int]:
    """The test images as anomalib reads them ([1, 3, H, W] float tensors in [0, 1]), each at the most common
    size (others resized, bilinear + antialias); returns (images, (H, W), how many were resized)."""
    from anomalib.data.utils import read_image
    from torch.nn import functional

    images = [read_image(path, as_tensor=True).unsqueeze(0) for path in paths]
    if not images:
        raise ValueError("the job has no test images to compare on")
    size = Counter(tuple(image.shape[-2:]) for image in images).most_common(1)[0][0]
    resized = 0
    for index, image in enumerate(images):
        if tuple(image.shape[-2:]) != size:
            images[index] = functional.interpolate(image, size=size, mode="bilinear", antialias=True,
                                                   align_corners=False)
            resized += 1
    return images, (int(size[0]), int(size[1])), resized


def _outputs(values: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None]:
    score = np.asarray(values["pred_score"], dtype=np.float64).reshape(-1)
    anomaly_map = values.get("anomaly_map")
    return score, None if anomaly_map is None else np.asarray(anomaly_map, dtype=np.float64).squeeze()


def _collect(run: Callable[[Any], dict[str, Any]], images: list[Any]) -> dict[str, list[np.ndarray]]:
    scores, maps = [], []
    for image in images:
        score, anomaly_map = _outputs(run(image))
        scores.append(score)
        if anomaly_map is not None:
            maps.append(anomaly_map)
    return {"score": scores, "map": maps}


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def error_summary(error: BaseException) -> str:
    """One line saying why: torch.export's own summary and the call that raised when the message has them
    (its first lines are generic advice), else the message."""
    text = ANSI.sub("", str(error))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if "## Exception summary" in lines:
        start = lines.index("## Exception summary") + 1
        summary = lines[start] if start < len(lines) else ""
        if "The following call raised this error:" in lines:
            at = lines.index("The following call raised this error:") + 1
            summary += " at " + " ".join(lines[at:at + 2])
        return re.sub(r'File "[^"]*site-packages/', 'File "', summary)
    return " ".join(text.split())


def _failure(error: BaseException, stage: str) -> dict[str, Any]:
    tail = ANSI.sub("", "".join(traceback.format_exception(error)))[-2000:]
    return {"status": "failed", "stage": stage, "error_type": type(error).__name__,
            "reason": f"{stage}: {type(error).__name__}: {error_summary(error)}"[:400], "error_tail": tail}


def export_model(job_model, image_paths: list[str], out_dir: str | Path, *, formats: Iterable[str] = FORMATS,
                 tolerance: float = DEFAULT_TOLERANCE, repeats: int = 10, threads: int = 1,
                 saved_scores: np.ndarray | None = None) -> dict[str, Any]:
    """Export ``job_model`` (an :class:`iadbench.serve.job_model.JobModel`) to ``formats`` in ``out_dir``, check
    parity on ``image_paths`` and time the three runtimes; returns the record (not written)."""
    import torch

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(threads)
    model = job_model.model.eval()
    images, input_size, resized = load_images(image_paths)
    record: dict[str, Any] = {"compared": COMPARED, "input_size": list(input_size), "resized_images": resized,
                              "n_images": len(images), "tolerance": tolerance, "threads": threads,
                              "timing": f"batch 1, CPU, median of {repeats} calls after 2 warm-up calls",
                              "formats": {}}
    with job_model.inference_guards():
        run_torch = torch_runner(model)
        reference = _collect(run_torch, images)
        record["torch_ms_b1"] = call_ms(lambda: run_torch(images[0]), repeats)
        record["torch_images_per_second"] = 1000.0 / record["torch_ms_b1"]
        if saved_scores is not None and len(saved_scores) == len(images):
            # How far this batch-1 forward is from the job's saved scores (engine.predict, batched): context only.
            record["torch_vs_saved_max_abs_delta_score"] = float(np.max(np.abs(
                np.concatenate(reference["score"]) - np.asarray(saved_scores, dtype=np.float64))))
        for fmt in formats:
            record["formats"][fmt] = _export_format(model, fmt, out_dir, input_size, images, reference, tolerance,
                                                    repeats, threads)
    failed = {fmt: entry["reason"] for fmt, entry in record["formats"].items() if entry["status"] != "ok"}
    record["status"] = "failed" if failed else "ok"
    record["reason"] = "; ".join(f"{fmt}: {reason}" for fmt, reason in failed.items())
    return record


def _export_format(model, fmt: str, out_dir: Path, input_size: tuple[int, int], images: list[Any],
                   reference: dict[str, list[np.ndarray]], tolerance: float, repeats: int,
                   threads: int) -> dict[str, Any]:
    if fmt not in FORMATS:
        return {"status": "failed", "stage": "export", "reason": f"unknown format {fmt!r} (known: {', '.join(FORMATS)})"}
    entry: dict[str, Any] = {"batch": "dynamic"}
    for static_batch in (False, True):
        started = time.perf_counter()
        try:
            path = _export(model, out_dir, fmt, input_size, static_batch)
        except Exception as error:  # the model cannot export: its record says why
            logger.exception("exporting to %s failed", fmt)
            return {**entry, **_failure(error, "export")}
        entry.update(path=str(path.relative_to(out_dir)), export_seconds=time.perf_counter() - started)
        try:
            run = onnx_runner(path, threads) if fmt == "onnx" else openvino_runner(path, threads)
            outputs = _collect(run, images)
            break
        except Exception as error:  # exported, but the runtime cannot load or run it
            logger.exception("running the %s export failed", fmt)
            failure = _failure(error, "inference")
            if static_batch:
                return {**entry, **failure}
            # e.g. a graph whose batch axis the tracer specialised to its example's 2: one image fails.
            entry["batch"] = f"static 1 (the dynamic-batch graph failed: {failure['reason']})"[:500]
    try:
        check = parity(reference, outputs, tolerance)
    except ValueError as error:  # e.g. an output of another shape
        return {**entry, **_failure(error, "parity")}
    entry.update({key: value for key, value in check.items() if key not in ("passed", "reason", "tolerance")})
    entry["ms_b1"] = call_ms(lambda: run(images[0]), repeats)
    entry["images_per_second"] = 1000.0 / entry["ms_b1"]
    entry["status"] = "ok" if check["passed"] else "failed"
    entry["reason"] = "" if check["passed"] else f"parity: {check['reason']}"
    if not check["passed"]:
        entry["stage"] = "parity"
    return entry


def export_job(*, results_dir: str | Path, job: Job, config: dict[str, Any], out_dir: str | Path,
               formats: Iterable[str] = FORMATS, tolerance: float = DEFAULT_TOLERANCE, repeats: int = 10,
               threads: int = 1, asset_dir: str | Path = ASSET_DIR) -> dict[str, Any]:
    """Export one benchmark job (``results/train/<job>``) and write ``out_dir/export.json`` and
    ``out_dir/row.parquet``; never raises for the model's sake (a job that cannot be loaded, e.g. because its
    training failed, gets a failed record naming the reason)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("model.onnx", "model.onnx.data", "openvino"):
        path = out_dir / stale
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    base = {**job._asdict(), "formats_requested": list(formats), "onnxruntime_version":
            provenance.package_version("onnxruntime"), "openvino_version": provenance.package_version("openvino"),
            "onnx_version": provenance.package_version("onnx"), **provenance.versions()}
    try:
        job_model = load_job_model(results_dir, job.dataset, job.category, job.model, job.seed, config, asset_dir=asset_dir)
        predictions = load_predictions(Path(results_dir, "train", job.path, "predictions.npz"))
        record = {**base, **export_model(job_model, [str(path) for path in predictions["image_paths"]], out_dir,
                                         formats=formats, tolerance=tolerance, repeats=repeats, threads=threads,
                                         saved_scores=predictions["scores"])}
    except Exception as error:  # the job's model cannot be loaded or read: a failed record, no crash
        logger.exception("exporting %s failed", job.path)
        failure = _failure(error, "load")
        record = {**base, "status": "failed", "reason": failure["reason"], "error_tail": failure["error_tail"],
                  "formats": {}}
    write_json(out_dir / "export.json", record)

    row = pd.DataFrame([summary_row(record)])
    atomic_write(out_dir / "row.parquet", lambda temporary: row.to_parquet(temporary, index=False))
    return record


def summary_row(record: dict[str, Any]) -> dict[str, Any]:
    """One flat row of an export record (the summary's columns)."""
    row = {key: record.get(key) for key in ("dataset", "category", "model", "seed", "status", "reason",
                                             "n_images", "torch_ms_b1")}
    row["input_size"] = "x".join(map(str, record.get("input_size") or [])) or None
    for fmt in FORMATS:
        entry = record.get("formats", {}).get(fmt, {})
        row[f"{fmt}_status"] = entry.get("status", "not requested" if record.get("formats") else None)
        row[f"{fmt}_batch"] = (entry.get("batch") or "").split(" (")[0] or None
        for key in ("max_abs_delta_score", "max_abs_delta_map", "ms_b1"):
            row[f"{fmt}_{key}"] = entry.get(key)
    return {column: row.get(column) for column in SUMMARY_COLUMNS}


def write_summary(row_paths: Iterable[str | Path], out_path: str | Path) -> pd.DataFrame:
    """results/export/summary.csv: one line per exported job."""
    frames = [pd.read_parquet(path) for path in row_paths]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    atomic_write(out_path, lambda temporary: frame.to_csv(temporary, index=False))
    return frame
