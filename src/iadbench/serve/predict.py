"""Score new images with a trained benchmark job: one Parquet row per image, anomaly-map overlays, an HTML page.

The images go through anomalib's ``Engine.predict`` with the job's model as training built it
(:mod:`iadbench.serve.job_model`): read as the benchmark reads its test images (anomalib's ``read_image``, RGB in
[0, 1]) and resized by the model's own pre-processor to its input size, so predicting the job's own test
images reproduces its saved scores. Batches hold images of one size (the job's ``eval_batch_size``).

The decision threshold (a sample is ``anomalous`` when ``score >= threshold``) comes from the job's test set:
``f1`` (default) the F1-optimal threshold, ``fpr`` the lowest threshold that keeps the false-positive rate on
the job's defect-free test images at or under ``max_fpr``. Each row records it.

A file that cannot be read as an image gets a row with ``status: error`` and the reason; the others are scored.
"""

from __future__ import annotations

import glob
import logging
import math
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from iadbench.config.predict import best_job
from iadbench.core.files import atomic_write, write_text
from iadbench.metrics.maps import f1_optimal_threshold, resize_maps_to
from iadbench.models.assets import ASSET_DIR
from iadbench.report.templating import environment
from iadbench.serve.job_model import load_hub_model, load_job_model

logger = logging.getLogger(__name__)

# Column -> pandas dtype, in the order predictions.parquet has them.
PREDICTION_SCHEMA: dict[str, str] = {
    "path": "string",            # the image as listed (relative to the working directory when given so)
    "status": "string",          # ok | error
    "error": "string",           # why the image was not scored ("" when ok)
    "image_score": "float64",    # the model's raw image score (anomalib pred_score, unnormalised)
    "decision": "string",        # anomalous (score >= threshold) | normal; "" for errors
    "threshold": "float64",
    "threshold_method": "string",  # f1 | fpr
    "max_fpr": "float64",        # the configured bound (fpr), NaN for f1
    "test_fpr": "float64",       # the threshold's false-positive rate on the job's defect-free test images
    "test_tpr": "float64",       # its true-positive rate on the job's anomalous test images
    "original_width": "Int64",
    "original_height": "Int64",
    "input_size": "Int64",       # the model's square input side: every image is resized to it
    "resized": "boolean",        # the image's size differs from the input size (resized, as training images were)
    "size_note": "string",       # set when the image's size differs from the job's test images'
    "overlay": "string",         # the overlay PNG, relative to the output folder ("" without an anomaly map)
    "model_source": "string",    # job path, model folder or Hub repo the model came from
    "job": "string",             # dataset/category/model/seed of the model
}
METHODS = ("f1", "fpr")


class PredictError(ValueError):
    """A predict request that cannot run; the message names the input or key."""


# ---------------------------------------------------------------------------------------------------------
# Inputs and thresholds
# ---------------------------------------------------------------------------------------------------------

def expand_images(patterns: str | list[str], base_dir: str | Path = ".") -> list[str]:
    """Files of ``patterns`` (each a folder: its files, recursively; a glob; or a file), relative to
    ``base_dir`` when given relative, sorted, each once. Every file is listed, images or not (a file that is
    not an image gets an error row). A pattern that matches nothing is an error naming it."""
    base_dir = Path(base_dir)
    found: list[str] = []
    for pattern in [patterns] if isinstance(patterns, str) else patterns:
        full = pattern if Path(pattern).is_absolute() else str(base_dir / pattern)
        if Path(full).is_dir():
            matches = [str(path) for path in Path(full).rglob("*") if path.is_file()]
        else:
            matches = [path for path in glob.glob(full, recursive=True) if Path(path).is_file()]
        matches = [path for path in matches if not Path(path).name.startswith(".")]
        if not matches:
            raise PredictError(f"images {pattern!r}: no file matches (looked in {Path(full).resolve()})")
        base = str(base_dir)
        found += [str(Path(path).relative_to(base)) if base != "." and not Path(pattern).is_absolute() else path
                  for path in sorted(matches)]
    return list(dict.fromkeys(found))


def choose_threshold(scores, labels, method: str = "f1", max_fpr: float = 0.01) -> dict[str, float]:
    """The decision threshold from the job's test scores: ``{"threshold", "test_fpr", "test_tpr"}``.

    ``f1``: the F1-optimal threshold (:func:`iadbench.metrics.maps.f1_optimal_threshold`, the row's
    image_F1_threshold). ``fpr``: the lowest threshold whose false-positive rate on the defect-free test
    images is at most ``max_fpr``: just above the (k+1)-th highest good score, k = floor(max_fpr x goods)."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    good, bad = scores[~labels], scores[labels]
    if method == "f1":
        if not bad.size or not good.size:
            raise PredictError("threshold method f1 needs defect-free and anomalous test images in the job's "
                               "test set; use method fpr")
        threshold, _ = f1_optimal_threshold(scores, labels)
    elif method == "fpr":
        if not 0 <= max_fpr < 1:
            raise PredictError(f"max_fpr must be in [0, 1), got {max_fpr}")
        if not good.size:
            raise PredictError("threshold method fpr needs defect-free test images in the job's test set")
        allowed = math.floor(max_fpr * good.size + 1e-9)
        ranked = np.sort(good)[::-1]
        threshold = float(np.nextafter(ranked[allowed], np.inf)) if allowed < good.size else float(ranked[-1])
    else:
        raise PredictError(f"threshold method must be one of {', '.join(METHODS)}, got {method!r}")
    return {"threshold": float(threshold), "test_fpr": float(np.mean(good >= threshold)) if good.size else math.nan,
            "test_tpr": float(np.mean(bad >= threshold)) if bad.size else math.nan}


def _read_size(path: str) -> tuple[tuple[int, int] | None, str]:
    """(width, height) of a readable image, else (None, the reason)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.convert("RGB").load()  # decode it all: a truncated file fails here, not in the batch
            return image.size, ""
    except UnidentifiedImageError:
        return None, "not an image file PIL can read"
    except (OSError, ValueError, SyntaxError) as error:
        return None, f"unreadable image: {type(error).__name__}: {error}"


# ---------------------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------------------

def _size_groups(paths: list[str], sizes: list[tuple[int, int]]) -> list[list[str]]:
    """The paths grouped by image size (a batch stacks images of one size), in input order within a size."""
    groups: dict[tuple[int, int], list[str]] = {}
    for path, size in zip(paths, sizes, strict=True):
        groups.setdefault(size, []).append(path)
    return list(groups.values())


def _predict(job_model, paths: list[str], sizes: list[tuple[int, int]]) -> tuple[dict[str, float], dict[str, Any]]:
    """Scores and anomaly maps (input resolution, or None) by path, through anomalib's Engine.predict."""
    from anomalib.data import ImageBatch, PredictDataset
    from anomalib.engine import Engine
    from torch.utils.data import DataLoader

    class Files(PredictDataset):
        """anomalib's predict dataset (its reader, no transform) over a list of files of any extension."""

        def __init__(self, files: list[str]) -> None:
            super(PredictDataset, self).__init__()
            self.image_filenames, self.transform, self.image_size = [Path(path) for path in files], None, None

    batch_size = int(job_model.manifest["model_spec"].get("eval_batch_size", 32))
    batches = []
    with tempfile.TemporaryDirectory(prefix="iadbench-predict-") as engine_dir, job_model.inference_guards():
        for group in _size_groups(paths, sizes):
            loader = DataLoader(Files(group), batch_size=batch_size, shuffle=False, collate_fn=ImageBatch.collate,
                                num_workers=0)
            engine = Engine(default_root_dir=engine_dir, logger=False, enable_progress_bar=False, devices=1)
            batches += engine.predict(model=job_model.model, dataloaders=loader, return_predictions=True) or []
    scores, maps = {}, {}
    for batch in batches:
        count = len(batch.image_path)
        batch_scores = batch.pred_score.detach().cpu().numpy().reshape(count).astype(np.float64)
        batch_maps = None
        if batch.anomaly_map is not None:
            batch_maps = batch.anomaly_map.detach().cpu().numpy().astype(np.float32)
            batch_maps = batch_maps.reshape(count, *batch_maps.shape[-2:])
        for index, path in enumerate(batch.image_path):
            scores[str(path)] = float(batch_scores[index])
            maps[str(path)] = None if batch_maps is None else batch_maps[index]
    return scores, maps


def score_images(job_model, paths: list[str], method: str = "f1", max_fpr: float = 0.01,
                 read_base: str | Path = ".") -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Rows (:data:`PREDICTION_SCHEMA`, ``overlay`` empty) for ``paths`` and the anomaly maps of the scored
    ones by path. ``read_base``: the folder relative paths are read from."""
    manifest = job_model.manifest
    chosen = choose_threshold(manifest["test_scores"], manifest["test_labels"], method, max_fpr)
    input_size = int(manifest["image_size"])
    test_size = manifest.get("test_image_size")
    readable, sizes, rows = [], [], []
    for path in paths:
        full = str(Path(read_base) / path)
        size, reason = _read_size(full)
        row: dict[str, Any] = {
            "path": path, "status": "ok" if size else "error", "error": reason, "image_score": math.nan,
            "decision": "", "threshold": chosen["threshold"], "threshold_method": method,
            "max_fpr": max_fpr if method == "fpr" else math.nan, "test_fpr": chosen["test_fpr"],
            "test_tpr": chosen["test_tpr"], "original_width": size[0] if size else None,
            "original_height": size[1] if size else None, "input_size": input_size,
            "resized": (size != (input_size, input_size)) if size else None, "size_note": "", "overlay": "",
            "model_source": job_model.source, "job": job_model.name,
        }
        if size and test_size and tuple(size) != tuple(test_size):
            row["size_note"] = (f"{size[0]}x{size[1]} differs from the job's test images ({test_size[0]}x"
                                f"{test_size[1]}); resized to {input_size}x{input_size} like them")
        if size:
            readable.append(full)
            sizes.append(size)
        else:
            logger.warning("%s: %s", path, reason)
        rows.append(row)
    scores, maps = _predict(job_model, readable, sizes) if readable else ({}, {})
    by_path = {}
    for row in rows:
        if row["status"] != "ok":
            continue
        full = str(Path(read_base) / row["path"])
        row["image_score"] = scores[full]
        row["decision"] = "anomalous" if scores[full] >= chosen["threshold"] else "normal"
        if maps.get(full) is not None:
            by_path[row["path"]] = maps[full]
    return prediction_frame(rows), by_path


def prediction_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(PREDICTION_SCHEMA))
    for column, dtype in PREDICTION_SCHEMA.items():
        frame[column] = frame[column].astype(dtype)
    return frame


# ---------------------------------------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------------------------------------

def overlay_png(image_path: str | Path, anomaly_map: np.ndarray, low: float, high: float) -> bytes:
    """The image and, beside it, the image with the anomaly map (resized to the image, jet, scaled to
    [low, high]) blended over it, as PNG bytes."""
    import io

    from matplotlib import colormaps
    from PIL import Image

    image = np.asarray(Image.open(image_path).convert("RGB"), dtype=np.float32) / 255.0
    resized = resize_maps_to(anomaly_map[None], image.shape[:2])[0]
    scaled = np.clip((resized - low) / ((high - low) or 1.0), 0.0, 1.0)
    heat = colormaps["jet"](scaled)[..., :3]
    blended = 0.55 * image + 0.45 * heat
    side_by_side = np.concatenate([image, blended], axis=1)
    buffer = io.BytesIO()
    Image.fromarray((side_by_side * 255).round().astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _overlay_name(index: int, path: str) -> str:
    return f"{index:04d}_{re.sub(r'[^A-Za-z0-9_-]+', '_', Path(path).stem)[:60]}.png"


def write_overlays(frame: pd.DataFrame, maps: dict[str, np.ndarray], folder: str | Path,
                   read_base: str | Path = ".") -> pd.DataFrame:
    """One overlay PNG per image with a map into ``folder`` (emptied first); the frame with ``overlay`` set
    (``<folder name>/<file>``). One colour scale for the whole set: the range of its maps."""
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    frame = frame.copy()
    if not maps:
        return frame
    low, high = map_range(maps)
    for index, path in enumerate(frame["path"]):
        if path not in maps:
            continue
        name = _overlay_name(index, path)
        (folder / name).write_bytes(overlay_png(Path(read_base) / path, maps[path], low, high))
        frame.loc[index, "overlay"] = f"{folder.name}/{name}"
    return frame


def map_range(maps: dict[str, np.ndarray]) -> tuple[float, float] | None:
    """The set's one colour scale: the smallest and largest value of all its maps (None without maps)."""
    return (min(float(one.min()) for one in maps.values()), max(float(one.max()) for one in maps.values())) \
        if maps else None


def render_page(frame: pd.DataFrame, template_dir: str | Path | None, title: str, model: dict[str, Any],
                scale: tuple[float, float] | None = None) -> str:
    """The HTML page of a predict set: the threshold, the gallery sorted by score (highest first), errors."""
    ok = frame[frame["status"] == "ok"].sort_values("image_score", ascending=False, kind="stable")
    errors = frame[frame["status"] != "ok"]
    first = frame.iloc[0]
    threshold = {"value": float(first["threshold"]), "method": str(first["threshold_method"]),
                 "max_fpr": None if pd.isna(first["max_fpr"]) else float(first["max_fpr"]),
                 "test_fpr": float(first["test_fpr"]), "test_tpr": float(first["test_tpr"])}
    return environment(template_dir, latex=False).get_template("predict.html.j2").render(
        title=title, model=model, threshold=threshold, rows=ok.to_dict("records"),
        errors=errors.to_dict("records"), n_images=len(frame),
        n_anomalous=int((ok["decision"] == "anomalous").sum()), scale=scale)


def write_outputs(frame: pd.DataFrame, maps: dict[str, np.ndarray], out_dir: str | Path, template_dir: str | Path | None,
                  title: str, model: dict[str, Any], read_base: str | Path = ".",
                  parquet_path: str | Path | None = None, html_path: str | Path | None = None,
                  overlays_dir: str | Path | None = None) -> pd.DataFrame:
    """``overlays/``, ``index.html`` and ``predictions.parquet`` (written last) under ``out_dir``."""
    out_dir = Path(out_dir)
    frame = write_overlays(frame, maps, overlays_dir or out_dir / "overlays", read_base)
    write_text(html_path or out_dir / "index.html", render_page(frame, template_dir, title, model, map_range(maps)))
    atomic_write(parquet_path or out_dir / "predictions.parquet", lambda temporary: frame.to_parquet(temporary))
    return frame


# ---------------------------------------------------------------------------------------------------------
# One predict set
# ---------------------------------------------------------------------------------------------------------

def model_summary(job_model) -> dict[str, Any]:
    manifest = job_model.manifest
    return {"source": job_model.source, "job": job_model.name, "weights": manifest["weights"],
            "image_size": manifest["image_size"], "metrics": manifest.get("metrics") or {}}


def load_source(entry: dict[str, Any], config: dict[str, Any] | None, results_dir: str | Path,
                asset_dir: str | Path, configfile: str | Path | None = None):
    """The model of a predict entry (``job``, ``best`` or ``hub``), loaded."""
    if "hub" in entry:
        return load_hub_model(entry["hub"], entry.get("revision"), asset_dir)
    if config is None:
        raise PredictError("a benchmark job's model needs the config that trained it")
    if "best" in entry:
        spec = entry["best"]
        job = best_job(Path(results_dir) / "benchmark.parquet", spec["dataset"], spec["category"],
                       spec.get("metric", "image_AUROC"), list(config["models"]))
        logger.info("best %s of %s/%s: %s", spec.get("metric", "image_AUROC"), spec["dataset"], spec["category"],
                    job.path)
        job_model = load_job_model(results_dir, job.dataset, job.category, job.model, job.seed, config, asset_dir,
                                   configfile)
        job_model.source = (f"the best job of {spec['dataset']}/{spec['category']} by "
                            f"{spec.get('metric', 'image_AUROC')}, {job_model.source}")
        return job_model
    spec = entry["job"]
    job = (spec["dataset"], spec["category"], spec["model"], int(spec["seed"]))
    return load_job_model(results_dir, *job, config, asset_dir, configfile)


def predict_set(*, name: str, entry: dict[str, Any], config: dict[str, Any] | None, out_dir: str | Path,
                template_dir: str | Path | None, results_dir: str | Path = "results", workdir: str | Path = ".",
                asset_dir: str | Path | None = None, threads: int = 1, model_loader=None,
                configfile: str | Path | None = None, **output_paths: Any) -> pd.DataFrame:
    """Score a predict entry's images and write its outputs (see :func:`write_outputs`); returns the rows.
    ``model_loader``: a function returning the model, in place of the entry's source (a model folder)."""
    import torch

    torch.set_num_threads(threads)
    paths = expand_images(entry["images"], workdir)
    job_model = model_loader() if model_loader else load_source(entry, config, results_dir, asset_dir or ASSET_DIR,
                                                                        configfile)
    threshold = entry.get("threshold") or {}
    frame, maps = score_images(job_model, paths, threshold.get("method", "f1"), threshold.get("max_fpr", 0.01),
                               read_base=workdir)
    logger.info("%s: %d images, %d errors, %d anomalous", name, len(frame), int((frame["status"] != "ok").sum()),
                int((frame["decision"] == "anomalous").sum()))
    return write_outputs(frame, maps, out_dir, template_dir, f"Predictions: {name}", model_summary(job_model),
                         read_base=workdir, **output_paths)
