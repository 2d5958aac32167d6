"""One training job: fit an anomalib model on one category, save its checkpoint and predictions.

The predictions file holds everything metrics need (raw image scores, raw anomaly maps, labels,
masks and file paths), so evaluation never retrains. A job that raises still writes its outputs,
marked ``status: failed`` with the error, so the benchmark keeps a row for it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from iadbench.config.settings import DEFAULT_SETTING, ZERO_SHOT, parse_setting
from iadbench.core import provenance
from iadbench.core.files import read_json, write_json
from iadbench.datasets import datamodule_for
from iadbench.datasets.prepare import is_video, source_root
from iadbench.datasets.selection import apply_selection
from iadbench.models.assets import ASSET_DIR, FETCH_COMMAND
from iadbench.models.build import build_model
from iadbench.models.random_weights import offline_model
from iadbench.models.required_assets import check_assets
from iadbench.models.specs import spec_for_class
from iadbench.run import calibration
from iadbench.run.clock import training_clock
from iadbench.run.continual_step import ContinualStep
from iadbench.run.predictions import EMPTY, predict_to, predict_video_to, save_predictions
from iadbench.run.submission import export_submission

logger = logging.getLogger(__name__)


def _fit_and_predict(
    dataset_spec: dict[str, Any], dataset_root: Path, category: str, model_name: str, model_spec: dict[str, Any],
    seed: int, image_size: int, weights: str, out_dir: Path, asset_dir: Path, continual: dict[str, Any] | None = None,
    operating_point: dict[str, Any] | None = None, setting: str = DEFAULT_SETTING,
) -> dict[str, Any]:
    """``continual``: a step of the continual setting (:class:`iadbench.run.continual_step.ContinualStep`'s fields):
    it trains on its task's categories from the previous step's checkpoint and predicts every category
    seen so far; None (a standalone job) runs exactly as a continual step 1 of one category does (with
    ``operating_point: {holdout_share: 0}`` where the category has no validation split).
    ``operating_point``: the hold-out settings (:mod:`iadbench.datasets.holdout`); an image job then
    trains without its held-out images and saves the calibration images' scores with the predictions.
    ``setting``: few-shot and noisy jobs train and predict on the seed's selection
    (:mod:`iadbench.datasets.selection`), listed in the record; the calibration images are held out first,
    so a few-shot job's k images and a noisy job's anomalous training images never calibrate. A zero-shot job
    fits nothing and holds nothing out: it builds the model for the category and predicts its test set."""
    import torch
    from anomalib.engine import Engine
    from lightning.pytorch import seed_everything

    step = ContinualStep(**continual) if continual else None
    seed_everything(seed, workers=True, verbose=False)
    model = build_model(model_name, model_spec, image_size, weights, asset_dir)
    loader_args = {"num_workers": 0, "seed": seed, "train_batch_size": model_spec["train_batch_size"],
                   "eval_batch_size": model_spec["eval_batch_size"]}
    datamodule = (step.datamodule if step else datamodule_for)(dataset_spec, dataset_root, category, **loader_args)
    chosen = parse_setting(setting)
    zero_shot = chosen.kind == ZERO_SHOT  # nothing fitted, no image of the category seen before its test set
    calibrate = operating_point is not None and not step and not is_video(dataset_spec) and not zero_shot
    if calibrate:
        calibration.withhold(datamodule, dataset_root / category, seed, operating_point)
    # Wraps the setup after the hold-out's: the selection is drawn from the images left for training.
    selection = apply_selection(datamodule, chosen.kind, seed, k=chosen.k, ratio=chosen.ratio)
    step_info = step.restore(model) if step else {}
    # fit_seconds: training only (validation passes, run on the test set each epoch, and checkpoint
    # writes left out; memory-bank building counted); fit_wall_seconds: all of engine.fit.
    clock = training_clock()
    with tempfile.TemporaryDirectory(prefix="iadbench-engine-") as engine_dir:
        engine = (_zero_shot_engine() if zero_shot else Engine)(
            default_root_dir=engine_dir, logger=False, enable_progress_bar=False, devices=1,
            max_epochs=model_spec["max_epochs"], deterministic="warn", callbacks=[clock],
        )
        started = time.perf_counter()
        if zero_shot:  # the model for this category: WinCLIP's prompts name it (anomalib's k_shot 0)
            model.class_name = category
            datamodule.setup()
        else:
            engine.fit(model=model, datamodule=datamodule)
        fit_wall_seconds = time.perf_counter() - started
        if step:
            step_info.update(step.after_fit(model, len(datamodule.train_data)))
        if not zero_shot:  # a zero-shot model is attached to the trainer by its prediction, saved after it
            engine.trainer.save_checkpoint(out_dir / "model.ckpt")
        if step:
            predictions, step_info["per_category"] = step.predict_seen(
                engine, model, datamodule, lambda name: datamodule_for(dataset_spec, dataset_root, name, **loader_args),
                out_dir)
            n_test = sum(one["n_test"] for one in step_info["per_category"].values())
            inference_seconds = sum(one["inference_seconds"] for one in step_info["per_category"].values())
        else:
            predict = predict_video_to if is_video(dataset_spec) else predict_to
            predictions, inference_seconds = predict(engine, model, datamodule, out_dir / "predictions.npz")
            n_test = len(predictions["scores"])
            if calibrate:  # the calibration scores and what evaluation's protocols need (docs/protocols.md)
                predictions.update(calibration.predict_calibration(engine, model, datamodule,
                                                                   model_spec["eval_batch_size"]))
                predictions["dataset_type"] = np.asarray(str(dataset_spec.get("type", "embedded")))
                save_predictions(out_dir / "predictions.npz", predictions)
                if predictions["dataset_type"] == "mvtec_ad_2" and predictions["maps"].size:
                    step_info["n_submission_images"] = export_submission(
                        engine, model, datamodule, source_root(dataset_root) / category, category, out_dir,
                        predictions, model_spec["eval_batch_size"])
        if zero_shot:
            engine.trainer.save_checkpoint(out_dir / "model.ckpt")
    return {
        # The spec's (the study's task types); a model without one: by whether it produced maps.
        "task_type": spec_for_class(type(model), model_name).task_type or (
            "segmentation" if predictions["maps"].size else "classification"),
        "n_train": 0 if zero_shot else len(datamodule.train_data),
        "n_calibration": int(predictions.get("calibration_scores", EMPTY).size),
        "n_skipped_files": _skipped_files(dataset_root, category),
        "n_test": n_test,
        "fit_seconds": 0.0 if zero_shot else clock.seconds,
        "fit_wall_seconds": fit_wall_seconds,
        "inference_seconds": inference_seconds,
        "images_per_second": n_test / inference_seconds if inference_seconds > 0 else float("nan"),
        "n_parameters": int(sum(parameter.numel() for parameter in model.parameters())),
        "device": str(next(iter(model.parameters()), torch.empty(0)).device),
        **selection.record(dataset_root),
        **step_info,
    }


def _zero_shot_engine():
    """anomalib's Engine, less the validation pass it runs before a zero-/few-shot model predicts (to set the
    post-processor's thresholds, which iadbench's metrics do not use: they read raw scores and maps)."""
    from anomalib.engine import Engine

    class ZeroShotEngine(Engine):
        @staticmethod
        def _should_run_validation(model: Any, ckpt_path: Any) -> bool:
            return False

    return ZeroShotEngine


def _skipped_files(dataset_root: Path, category: str) -> int | None:
    """Files the category's preparation skipped as not images (its summary.json; None without one)."""
    summary = dataset_root / category / "summary.json"
    return read_json(summary).get("n_skipped_files") if summary.is_file() else None


def train_job(
    *, dataset_spec: dict[str, Any] | None = None, dataset_root: str | Path, category: str, model_name: str,
    model_spec: dict[str, Any], seed: int, image_size: int, weights: str, out_dir: str | Path, threads: int = 1,
    extra_info: dict[str, Any] | None = None, asset_dir: str | Path = ASSET_DIR, continual: dict[str, Any] | None = None,
    operating_point: dict[str, Any] | None = None, setting: str = DEFAULT_SETTING,
) -> dict[str, Any]:
    """Fit, predict, and write ``model.ckpt``, ``predictions.npz`` and ``train_info.json``
    (``continual``: a continual step, whose predictions go to ``predictions/<category>.npz``).

    Returns the train info (also written), with ``status`` ``ok`` or ``failed``.
    """
    import torch

    from iadbench.models.coreset import bounded_coreset  # imports torch and anomalib: only in the child

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(threads)
    info = base_info({"threads": threads, "weights": weights, "image_size": image_size, "model_spec": model_spec,
                      "extra_info": extra_info, "dataset_spec": dataset_spec})
    try:
        with contextlib.ExitStack() as guards:
            guards.enter_context(bounded_coreset())  # anomalib's coreset selection fragments the heap
            guards.enter_context(offline_model(
                model_name, model_spec, weights,
                f"weights: pretrained: jobs read weights from {asset_dir} and never download "
                f"(an asset iadbench did not fetch with `{FETCH_COMMAND}`)"))
            if weights != "random":
                # Which published weights (e.g. timm's wide_resnet50_2.racm_in1k, not torchvision's) made the row.
                info["pretrained_assets"] = "; ".join(
                    asset.name for asset in check_assets(model_name, model_spec, image_size, asset_dir))
            info.update(_fit_and_predict(dataset_spec or {"type": "embedded"}, Path(dataset_root), category,
                                         model_name, model_spec, seed, image_size, weights, out_dir,
                                         Path(asset_dir), continual, operating_point, setting))
        info.update(status="ok", error_type="", error_tail="")
    except Exception as error:  # a failing model must still yield its (failed) row
        logger.exception("training %s on %s failed", model_name, category)
        write_failure(out_dir, info, type(error).__name__,
                      "".join(traceback.format_exception(error)) + _setting_failure(setting, model_name))
        return info
    info.update(peak_rss_mb=provenance.peak_rss_mb(), peak_gpu_mb=provenance.peak_gpu_mb())
    write_json(out_dir / "train_info.json", info)
    return info


def _setting_failure(setting: str, model_name: str) -> str:
    """The last line of a failed few-shot job's error: what it could not do (the traceback says why)."""
    chosen = parse_setting(setting)
    if chosen.kind != "few_shot":
        return ""
    return f"few-shot setting {setting}: {model_name} could not be trained on {chosen.k} image(s) per category\n"


def write_failure(out_dir: Path, info: dict[str, Any], error_type: str, error_text: str) -> None:
    """Outputs of a failed job: empty predictions, the error and its tail, status ``failed``."""
    info.update(status="failed", error_type=error_type, error_tail=error_text[-2000:])
    info.setdefault("peak_rss_mb", provenance.peak_rss_mb())
    save_predictions(out_dir / "predictions.npz", {"scores": EMPTY})
    if not (out_dir / "model.ckpt").exists():
        (out_dir / "model.ckpt").write_bytes(b"")
    write_json(out_dir / "train_info.json", info)


def base_info(job_args: dict[str, Any]) -> dict[str, Any]:
    """What every record of the job says, failed or not: the settings that ran and where (provenance)."""
    track = "video" if is_video(job_args.get("dataset_spec") or {"type": "embedded"}) else "image"
    return {"track": track, "threads": job_args.get("threads", 1), "weights": job_args.get("weights"),
            "image_size": job_args.get("image_size"), "max_epochs": job_args.get("model_spec", {}).get("max_epochs"),
            **provenance.versions(), **provenance.host_info(), **(job_args.get("extra_info") or {})}


if __name__ == "__main__":  # the child of iadbench.run.jobs.run_training
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    train_job(**read_json(sys.argv[1]))
