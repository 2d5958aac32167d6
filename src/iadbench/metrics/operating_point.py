"""The operating point: a threshold chosen without test labels, and the image metrics at it.

The threshold comes from the scores of *calibration images*: defect-free images the model did not train on
and the test set does not contain (the dataset's validation split, or a seeded hold-out of the training
images: :mod:`iadbench.datasets.holdout` says which; training scores them and saves them with the
predictions as ``calibration_scores`` and ``calibration_source``).

The threshold is the one whose false-positive rate on the calibration images is at most ``target_fpr``:
with ``k = floor(target_fpr * n)`` false positives allowed among the ``n`` calibration scores, ``t`` is
the smallest float64 above the ``(k + 1)``-th highest score, so exactly the scores above it (at most
``k``) count as anomalous (``score >= t``, the project's convention). At ``t`` on the test set: precision
``TP / (TP + FP)`` (NaN when nothing is flagged), recall = TPR ``TP / P``, FPR ``FP / N``, F1
``2TP / (2TP + FP + FN)``. The test-set F1-optimal threshold (``image_F1_max``) is an oracle beside it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def threshold_for_fpr(normal_scores, target_fpr: float) -> float:
    """The smallest threshold whose FPR (``score >= t``) on ``normal_scores`` is at most ``target_fpr``,
    taken just above the ``(k + 1)``-th highest score, ``k = floor(target_fpr * n)``; NaN without scores."""
    scores = np.sort(np.asarray(normal_scores, dtype=np.float64).reshape(-1))[::-1]
    if not 0 <= target_fpr <= 1:
        raise ValueError(f"target_fpr must be in [0, 1], got {target_fpr}")
    if scores.size == 0:
        return float("nan")
    if not np.isfinite(scores).all():
        raise ValueError("calibration scores must be finite")
    allowed = math.floor(target_fpr * scores.size + 1e-9)  # (0.1 * 10 is 1, not 0.999...)
    if allowed >= scores.size:
        return float(scores[-1])  # every calibration image may be flagged: the lowest score flags all
    return float(np.nextafter(scores[allowed], np.inf))


def metrics_at(scores, labels, threshold: float) -> dict[str, float]:
    """Image precision, recall (TPR), FPR and F1 of ``score >= threshold`` (NaN threshold: all NaN)."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).reshape(-1) > 0
    nan = float("nan")
    if math.isnan(threshold) or scores.size == 0:
        return {"image_precision": nan, "image_recall": nan, "image_FPR": nan, "image_F1": nan}
    flagged = scores >= threshold
    tp = int(np.sum(flagged & labels))
    fp = int(np.sum(flagged & ~labels))
    fn = int(np.sum(~flagged & labels))
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    return {
        "image_precision": tp / (tp + fp) if tp + fp else nan,
        "image_recall": tp / n_pos if n_pos else nan,
        "image_FPR": fp / n_neg if n_neg else nan,
        "image_F1": 2 * tp / (2 * tp + fp + fn) if n_pos else nan,
    }


def operating_point_values(predictions: dict[str, np.ndarray], target_fpr: float) -> dict[str, Any]:
    """The row's operating-point columns from a job's predictions (their ``calibration_*`` arrays, saved
    by training); a job without calibration scores (no validation split and ``holdout_share: 0``, a video
    or continual job) gets NaN metrics and ``op_source`` "none"."""
    calibration = np.asarray(predictions.get("calibration_scores", np.zeros(0)), dtype=np.float64)
    source = str(predictions["calibration_source"]) if "calibration_source" in predictions else "none"
    threshold = threshold_for_fpr(calibration, target_fpr) if calibration.size else float("nan")
    values: dict[str, Any] = metrics_at(predictions["scores"], predictions["labels"], threshold)
    calibration_fpr = float(np.mean(calibration >= threshold)) if calibration.size else float("nan")
    values.update(image_threshold=threshold, op_target_FPR=float(target_fpr), op_calibration_FPR=calibration_fpr,
                  op_n_images=int(calibration.size), op_source=source if calibration.size else "none")
    return values
