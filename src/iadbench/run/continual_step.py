"""One step of the continual setting: what :func:`iadbench.run.train.train_job` does with a ``continual`` argument.

Step t builds the model as a standalone job does (same seed, same code), then

- ``naive`` / ``accumulate``: loads step t-1's checkpoint (every weight and buffer, memory banks included)
  and marks memory-bank models unfitted, so that fitting on task t rebuilds their bank from task t only:
  naive fine-tuning, which is how a memory-bank model forgets. Trained models continue from step t-1's
  weights with a fresh optimizer.
- ``accumulate`` then keeps the previous bank: PatchCore's memory bank is step t-1's bank followed by task
  t's coreset; PaDiM's Gaussians are pooled (means and covariances weighted by the image counts, exactly
  the Gaussian of all the images seen, :func:`pool_gaussians`).
- ``joint``: from scratch on the union of tasks 1..t (no checkpoint read).

Step 1 of a one-category task is the standalone job: nothing is loaded, the datamodule is
:func:`~iadbench.datasets.datamodule_for`'s, and its category is predicted by the same call.
After fitting, the step predicts the test set of every category seen so far into
``predictions/<category>.npz``; :func:`finish_step` writes beside each a ``<category>.json`` (the train
info with that category's test counts), which its evaluation job reads as a standalone one reads
``train_info.json``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from iadbench.core.files import read_json, write_json
from iadbench.datasets import union_datamodule
from iadbench.models.checkpoint import load_checkpoint
from iadbench.run.predictions import EMPTY, predict_to, save_predictions

logger = logging.getLogger(__name__)

# anomalib's MultiVariateGaussian adds 0.01·I to each covariance and 1e-5·I before inverting it.
PADIM_REGULARIZATION = 0.01 + 1e-5


class PreviousStepFailed(RuntimeError):
    """Step t-1 left no model to continue from."""


@dataclass
class ContinualStep:
    step: int
    strategy: str
    train_categories: list[str]
    seen_categories: list[str]
    previous_dir: str | None = None
    accumulate: str | None = None  # "patchcore" / "padim" under the accumulate strategy
    _previous_bank: dict[str, Any] | None = field(default=None, repr=False)
    _previous_images: int = 0

    def datamodule(self, spec: dict[str, Any], root: Path, category: str, **kwargs: Any):
        return union_datamodule(spec, root, self.train_categories, **kwargs)

    def restore(self, model) -> dict[str, Any]:
        """Load step t-1 into ``model`` (naive, accumulate); returns the step's train-info fields."""
        info = {"continual_step": self.step, "continual_strategy": self.strategy,
                "train_categories": self.train_categories, "seen_categories": self.seen_categories,
                "previous_checkpoint": ""}
        if not self.previous_dir:
            return info
        previous = Path(self.previous_dir)
        previous_info = read_json(previous / "train_info.json")
        if previous_info.get("status") != "ok":
            raise PreviousStepFailed(f"step {self.step - 1} failed ({previous_info.get('error_type', '?')}): "
                                     f"nothing to continue from ({previous})")
        load_checkpoint(model, previous / "model.ckpt")
        if self.accumulate:
            self._previous_bank = bank_state(model, self.accumulate)
            self._previous_images = int(previous_info.get("bank_images") or 0)
        reset_fitted(model)
        info["previous_checkpoint"] = str(previous / "model.ckpt")
        return info

    def after_fit(self, model, n_train: int) -> dict[str, Any]:
        """Accumulate: put the previous bank back beside task t's. Returns the bank's size fields."""
        images = n_train
        if self.accumulate and self._previous_bank is not None:
            merge_bank(model, self.accumulate, self._previous_bank, self._previous_images, n_train)
            images += self._previous_images
        return {"bank_images": images, "bank_size": bank_size(model)}

    def predict_seen(self, engine, model, datamodule, make_datamodule, out_dir: Path):
        """Predict every category seen so far; returns the last predictions and per-category counts."""
        per_category, predictions = {}, None
        for category in self.seen_categories:
            attached = self.train_categories == [category]  # the standalone job's datamodule and call
            target = datamodule if attached else make_datamodule(category)
            predictions, seconds = predict_to(engine, model, target, Path(out_dir) / "predictions" / f"{category}.npz",
                                              attached=attached)
            per_category[category] = {"n_test": len(predictions["scores"]), "inference_seconds": seconds}
        return predictions, per_category


def reset_fitted(model) -> None:
    """Memory-bank models fit their bank only when unfitted: mark them so, so that task t's data refits it."""
    import torch
    from anomalib.models.components import MemoryBankMixin

    for module in model.modules():
        if isinstance(module, MemoryBankMixin):
            module._is_fitted = torch.tensor([False], device=module._is_fitted.device)


ACCUMULATE_KINDS = ("patchcore", "padim")


def bank_state(model, kind: str) -> dict[str, Any]:
    """What `accumulate` keeps of step t-1: PatchCore's memory bank, PaDiM's Gaussians."""
    if kind not in ACCUMULATE_KINDS:
        raise ValueError(f"accumulate keeps the bank of {' or '.join(ACCUMULATE_KINDS)}, not of {kind!r}")
    if kind == "patchcore":
        return {"memory_bank": model.model.memory_bank.detach().clone()}
    gaussian = model.model.gaussian
    return {"mean": gaussian.mean.detach().clone(), "inv_covariance": gaussian.inv_covariance.detach().clone()}


def bank_size(model) -> int:
    """Rows of a PatchCore memory bank; 0 for other models."""
    bank = getattr(getattr(model, "model", None), "memory_bank", None)
    return int(bank.shape[0]) if hasattr(bank, "shape") and bank.ndim == 2 else 0


def merge_bank(model, kind: str, previous: dict[str, Any], previous_images: int, images: int) -> None:
    import torch

    if kind == "patchcore":
        current = model.model.memory_bank
        model.model.memory_bank = torch.cat([previous["memory_bank"].to(current.device), current])
        return
    gaussian = model.model.gaussian
    mean, inv_covariance = pool_gaussians(previous["mean"], previous["inv_covariance"], previous_images,
                                          gaussian.mean, gaussian.inv_covariance, images)
    gaussian.mean, gaussian.inv_covariance = mean, inv_covariance


def pool_gaussians(mean_a, inv_covariance_a, n_a: int, mean_b, inv_covariance_b, n_b: int):
    """Two of anomalib's PaDiM Gaussians (per position: mean ``(C, P)``, inverse covariance ``(P, C, C)``,
    unbiased covariances regularised by :data:`PADIM_REGULARIZATION`) fitted on ``n_a`` and ``n_b``
    images → the one fitted on all ``n_a + n_b`` (in float64, returned in the inputs' dtype)."""
    import torch

    dtype, device = mean_b.dtype, mean_b.device
    eye = torch.eye(mean_b.shape[0], dtype=torch.float64, device=device)

    def scatter(mean, inv_covariance, count):  # sum of x xᵀ over the images, per position
        covariance = torch.linalg.inv(inv_covariance.to(device, torch.float64)) - PADIM_REGULARIZATION * eye
        per_position = mean.to(device, torch.float64).T  # (P, C)
        return (count - 1) * covariance + count * per_position[:, :, None] * per_position[:, None, :], per_position

    scatter_a, mean_a64 = scatter(mean_a, inv_covariance_a, n_a)
    scatter_b, mean_b64 = scatter(mean_b, inv_covariance_b, n_b)
    total = n_a + n_b
    mean = (n_a * mean_a64 + n_b * mean_b64) / total
    covariance = (scatter_a + scatter_b - total * mean[:, :, None] * mean[:, None, :]) / (total - 1)
    inv_covariance = torch.linalg.inv(covariance + PADIM_REGULARIZATION * eye)
    return mean.T.contiguous().to(dtype), inv_covariance.to(dtype)


def finish_step(out_dir: str | Path, seen_categories: list[str]) -> None:
    """Give each seen category its predictions and info files (empty predictions, ``failed`` info when the
    step failed), so that every evaluation job of the step finds its inputs and writes its row."""
    out_dir = Path(out_dir)
    info = read_json(out_dir / "train_info.json")
    per_category = info.pop("per_category", None) or {}
    for category in seen_categories:
        predictions = out_dir / "predictions" / f"{category}.npz"
        own = dict(info)
        if info.get("status") == "ok" and predictions.exists() and category in per_category:
            own.update(per_category[category])
            own["images_per_second"] = (own["n_test"] / own["inference_seconds"] if own["inference_seconds"] > 0
                                        else float("nan"))
        else:
            if info.get("status") == "ok":
                own.update(status="failed", error_type="MissingPredictions",
                           error_tail=f"the step left no predictions for {category}")
            save_predictions(predictions, {"scores": EMPTY, "labels": np.zeros(0, dtype=np.uint8)})
        write_json(predictions.with_suffix(".json"), own)
