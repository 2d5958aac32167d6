"""A continual training job: :func:`iadbench.run.train.run_isolated` with the step's ``continual`` fields (see
:mod:`iadbench.run.continual_step`), then every seen category's predictions and info files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from iadbench.core.files import read_json, write_json
from iadbench.run.predictions import EMPTY, save_predictions
from iadbench.run.train import run_isolated


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


def run_step(*, seen_categories: list[str], **job_args: Any) -> None:
    """A continual training job: :func:`iadbench.run.train.run_isolated` (a child process, the job folder's lock,
    the attempts ledger) with the step's ``continual`` fields, then :func:`finish_step`."""
    run_isolated(**job_args)
    finish_step(job_args["out_dir"], seen_categories)
