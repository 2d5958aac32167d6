"""Training's side of the operating point: keep the calibration images out of training, then score them.

:func:`withhold` wraps a datamodule's ``_setup`` so that its training set loses the held-out images
(:mod:`iadbench.datasets.holdout` says which); :func:`predict_calibration` scores the calibration images
(held-out or ``validation/good``) with the fitted model and returns the arrays saved beside the test
predictions (``calibration_scores``, ``calibration_maps``, ``calibration_paths``, ``calibration_source``),
from which evaluation computes the threshold without retraining (:mod:`iadbench.metrics.operating_point`).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

from iadbench.datasets import holdout
from iadbench.run.predictions import collect_predictions


def settings(operating_point: dict[str, Any] | None) -> dict[str, Any]:
    """The hold-out settings of a config's ``operating_point`` over their defaults."""
    return {**holdout.DEFAULTS, **{key: value for key, value in (operating_point or {}).items()
                                   if key in holdout.DEFAULTS}}


def withhold(datamodule: Any, category_dir: Path, seed: int, operating_point: dict[str, Any] | None) -> None:
    """Make ``datamodule`` train without its calibration images; records them in
    ``datamodule.calibration`` (source, sample rows) once it is set up (no rows: no operating point)."""
    chosen = settings(operating_point)
    rule = holdout.calibration_rule(category_dir, chosen["holdout_share"])
    setup = datamodule._setup

    def setup_without_calibration(stage: str | None = None) -> None:
        setup(stage)
        samples = datamodule.train_data.samples
        if rule == holdout.VALIDATION:
            rows = defect_free_rows(samples, holdout.validation_images(category_dir), str(category_dir))
        else:
            held = set(holdout.holdout_paths(samples.image_path.astype(str), seed, chosen["holdout_share"],
                                             chosen["holdout_min"], holdout.sample_groups(category_dir)))
            kept = ~samples.image_path.astype(str).isin(held)
            rows = samples[~kept].copy()
            datamodule.train_data.samples = samples[kept].reset_index(drop=True)
            rows["split"] = "test"
        datamodule.calibration = (rule, rows.reset_index(drop=True))

    datamodule._setup = setup_without_calibration


def defect_free_rows(samples: Any, paths: list[Path], folder: str = "") -> Any:
    """Sample rows (anomalib's columns of ``samples``) for images outside the datamodule's splits, read as
    defect-free test images without a mask."""
    rows = samples.iloc[:0].copy().reindex(range(len(paths)))
    rows["image_path"], rows["split"], rows["mask_path"] = [str(path) for path in paths], "test", ""
    for column, value in (("label", "good"), ("label_index", 0), ("defect_type", "good"), ("path", folder)):
        if column in rows:
            rows[column] = value
    return rows


def predict_calibration(engine: Any, model: Any, datamodule: Any, batch_size: int) -> dict[str, np.ndarray]:
    """Score the calibration images recorded by :func:`withhold` (their maps too, for pixel-level rules)."""
    source, rows = getattr(datamodule, "calibration", (holdout.NONE, None))
    if rows is None or rows.empty:
        return {}
    scored = score_rows(engine, model, datamodule, rows, batch_size)
    return {"calibration_scores": scored["scores"], "calibration_maps": scored["maps"],
            "calibration_paths": scored["image_paths"], "calibration_source": np.asarray(source)}


def score_images(engine: Any, model: Any, datamodule: Any, paths: list[Path], batch_size: int) -> dict[str, np.ndarray]:
    """Score images outside the datamodule's splits (treated as defect-free, no mask) with the fitted model."""
    return score_rows(engine, model, datamodule, defect_free_rows(datamodule.test_data.samples, paths), batch_size)


def score_rows(engine: Any, model: Any, datamodule: Any, rows: Any, batch_size: int) -> dict[str, np.ndarray]:
    """Predictions of the fitted model on ``rows`` (sample rows read like the test set)."""
    from torch.utils.data import DataLoader  # torch only in the training child

    dataset = copy.copy(datamodule.test_data)
    rows = rows.reset_index(drop=True)
    rows.attrs.update(datamodule.test_data.samples.attrs)
    dataset.samples = rows
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=0, collate_fn=dataset.collate_fn)
    return collect_predictions(engine.predict(model=model, dataloaders=loader, return_predictions=True), {})
