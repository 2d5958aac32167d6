"""Anomaly-detection metrics, exact to their published definitions and fast on full-resolution maps.

(Over 350 lines: every pixel metric comes from one shared sort-and-sweep; split, its encoders and sweep
would have to be imported back and forth. The continual setting's ACC / FM / BWT, :func:`continual_summary`,
sits here too: every metric definition of the benchmark in one module.)

numpy arrays in, python floats out. Conventions shared by every function:

* Ground truth is positive where ``label > 0`` / ``mask > 0``, so bool, 0/1 and 0/255 masks all work.
* A sample (image or pixel) is predicted anomalous at threshold ``t`` when ``score >= t``. The thresholds
  are the distinct scores, so tied scores always enter a curve together: no ordering of ties can change
  a result.
* A metric that is undefined for the data (no anomalous sample, or no defect-free sample where the
  metric needs one) is NaN, and the reason is logged as a warning. It is never a silent 0.
* Bad input raises ``ValueError``: NaN or infinite scores, shapes that differ, non-numeric arrays.

Anomaly maps are ``(N, H, W)`` float arrays (``(N, 1, H, W)`` is squeezed); masks have the same shape.
Images of different sizes (e.g. Kolektor at native resolution) come as lists of ``(H_i, W_i)``
arrays, each mask the size of its map; every metric is then taken over all pixels of all images.
``resize_maps_to`` brings model-resolution maps to the masks' native size first.

Speed and memory: every pixel metric comes from one sort of the pixels. Each pixel becomes one uint64
key (float32 score in the high half, ground-truth code in the low half), the keys are sorted in place,
and one pass over the sorted keys, chunk by chunk, accumulates ROC, precision-recall and PRO curves with
running counts. For float32 maps that is 8 bytes per pixel (~0.9 GB for a 115 M-pixel category) plus
O(chunk) work memory. Maps that float32 cannot hold exactly (float64 with more precision) take an argsort
of float64 scores instead (~20 bytes per pixel), so no score is ever rounded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from iadbench.metrics.checks import _check_fpr_limits, _check_real, _maps_and_masks, _score_label_blocks
from iadbench.metrics.ranks import _EIGHT_CONNECTED, _pixel_statistics, _rank_statistics

logger = logging.getLogger(__name__)


__all__ = [
    "au_pro", "frame_auroc", "frame_auroc_macro", "image_ap", "image_auroc", "image_f1_max",
    "image_metrics", "pixel_ap", "pixel_auroc", "pixel_f1_max", "pixel_metrics", "pro_curve",
]


# ---------------------------------------------------------------------------------------------------------
# Image-level metrics
# ---------------------------------------------------------------------------------------------------------

def image_metrics(scores, labels) -> dict[str, float]:
    """Image AUROC, AP and F1-max from one sort: keys ``image_AUROC``, ``image_AP``, ``image_F1_max``.

    ``scores``: one anomaly score per image; ``labels``: same shape, anomalous where ``> 0``.
    Definitions as in :func:`image_auroc`, :func:`image_ap` and :func:`image_f1_max`.
    """
    stats = _rank_statistics(*_score_label_blocks(scores, labels, "image scores", "image labels"),
                             level="image")
    return {"image_AUROC": stats.auroc, "image_AP": stats.ap, "image_F1_max": stats.f1_max}


def image_auroc(scores, labels) -> float:
    """Area under the ROC curve (TPR over FPR, thresholds = distinct scores, trapezoid rule).

    Equals scikit-learn's ``roc_auc_score`` and the Mann-Whitney probability P(s+ > s-) + P(s+ = s-)/2.
    NaN (logged) without both an anomalous and a defect-free image.
    """
    return image_metrics(scores, labels)["image_AUROC"]


def image_ap(scores, labels) -> float:
    """Average precision as scikit-learn defines it: ``AP = sum_n (R_n - R_(n-1)) * P_n``.

    Step-wise over the distinct thresholds in decreasing order (``R_0 = 0``), not a trapezoid and not
    interpolated; equals ``sklearn.metrics.average_precision_score``. NaN (logged) without an anomalous
    image.
    """
    return image_metrics(scores, labels)["image_AP"]


def image_f1_max(scores, labels) -> float:
    """Largest F1 = 2TP / (2TP + FP + FN) over all thresholds ``score >= t`` (t = each distinct score).

    The threshold that reaches it is :func:`f1_optimal_threshold`. NaN (logged) without an anomalous image.
    """
    return image_metrics(scores, labels)["image_F1_max"]


# ---------------------------------------------------------------------------------------------------------
# Frame-level metrics (video track)
# ---------------------------------------------------------------------------------------------------------

def frame_auroc(scores, labels) -> float:
    """Micro frame AUROC: :func:`image_auroc`'s definition over the frames of all test videos pooled.

    ``scores``: one anomaly score per frame (1-D); ``labels``: one label per frame, anomalous where ``> 0``.
    This is anomalib's frame-level AUROC (its only one). NaN (logged) without both an anomalous and a
    normal frame.
    """
    scores, labels = _frame_arrays(scores, labels)
    return _rank_statistics(*_score_label_blocks(scores, labels, "frame scores", "frame labels"),
                            level="frame").auroc


def frame_auroc_macro(scores, labels, video_ids) -> tuple[float, int, int]:
    """Macro frame AUROC: the mean over test videos of each video's frame AUROC (:func:`frame_auroc`).

    ``video_ids``: one id (str or int) per frame naming its video; a video's frames need not be
    contiguous. A video whose frames are all anomalous or all normal has no AUROC: it is excluded from the
    mean and counted (logged). Returns ``(mean, n_videos_used, n_videos_excluded)``; the mean is NaN
    (logged) when no video has both classes.
    """
    scores, labels = _frame_arrays(scores, labels)
    ids = np.asarray(video_ids)
    if ids.ndim != 1 or ids.shape[0] != scores.shape[0]:
        raise ValueError(f"video ids of shape {ids.shape} do not match frame scores of shape {scores.shape}")
    if scores.size == 0:
        raise ValueError("frame scores are empty")
    unique, inverse = np.unique(ids, return_inverse=True)
    values, excluded = [], []
    for index, video in enumerate(unique):
        frames = np.flatnonzero(inverse == index)
        positive = labels[frames] > 0
        if positive.all() or not positive.any():
            excluded.append(str(video))
            continue
        values.append(_rank_statistics(*_score_label_blocks(scores[frames], labels[frames], "frame scores",
                                                            "frame labels"), level="frame").auroc)
    if excluded:
        shown = ", ".join(excluded[:5]) + (f", ... ({len(excluded) - 5} more)" if len(excluded) > 5 else "")
        logger.warning("macro frame AUROC: %d of %d videos excluded, their frames are all of one class: %s",
                       len(excluded), len(unique), shown)
    if not values:
        logger.warning("macro frame AUROC undefined: none of the %d videos has both anomalous and normal "
                       "frames; reporting NaN", len(unique))
        return float("nan"), 0, len(excluded)
    return float(np.mean(values)), len(values), len(excluded)


def _frame_arrays(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    """Frame scores and labels as 1-D arrays of one length (a clear error otherwise)."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    if scores.ndim != 1 or labels.ndim != 1:
        raise ValueError(f"frame scores and labels must be 1-D (one per frame), got shapes {scores.shape} "
                         f"and {labels.shape}")
    if scores.shape != labels.shape:
        raise ValueError(f"{scores.shape[0]} frame scores but {labels.shape[0]} frame labels")
    for array, name in ((scores, "frame scores"), (labels, "frame labels")):
        _check_real(array, name)
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise ValueError(f"{name} contain NaN or infinite values (frame "
                             f"{int(np.flatnonzero(~np.isfinite(array))[0])})")
    return scores, labels


# ---------------------------------------------------------------------------------------------------------
# Pixel-level metrics
# ---------------------------------------------------------------------------------------------------------

def pixel_metrics(maps, masks, fpr_limits: Sequence[float] = (0.3, 0.05)) -> dict[str, float]:
    """Every pixel metric from one sort of all pixels of the category (the evaluate rule calls this).

    Keys: ``pixel_AUROC``, ``pixel_AP``, ``pixel_F1_max`` (definitions of :func:`image_auroc`,
    :func:`image_ap`, :func:`image_f1_max` over pixels), ``pixel_PRO`` (:func:`thresholded_pro` at the
    threshold of ``pixel_F1_max``, the study's PRO), ``pixel_AUPRO_<percent>`` for each FPR limit
    (:func:`au_pro`; 0.3 -> ``pixel_AUPRO_30``, 0.05 -> ``pixel_AUPRO_05``) and ``pixel_AUPRO``, the
    value at the first limit. Values are python floats, NaN (logged) where undefined.
    """
    limits = _check_fpr_limits(fpr_limits)
    stats = _pixel_statistics(maps, masks, fpr_limits=limits)
    values = {"pixel_AUROC": stats.auroc, "pixel_AP": stats.ap, "pixel_F1_max": stats.f1_max,
              "pixel_PRO": thresholded_pro(maps, masks, stats.f1_threshold)}
    for limit in limits:
        values[f"pixel_AUPRO_{round(limit * 100):02d}"] = stats.au_pro[limit]
    if limits:
        values["pixel_AUPRO"] = stats.au_pro[limits[0]]
    return values


def pixel_auroc(maps, masks) -> float:
    """Pixel AUROC: :func:`image_auroc`'s definition over all pixels of all images."""
    return _pixel_statistics(maps, masks).auroc


def pixel_ap(maps, masks) -> float:
    """Pixel AP: scikit-learn's step-wise average precision (:func:`image_ap`) over all pixels."""
    return _pixel_statistics(maps, masks).ap


def pixel_f1_max(maps, masks) -> float:
    """Pixel F1-max: :func:`image_f1_max`'s definition over all pixels of all images."""
    return _pixel_statistics(maps, masks).f1_max


def thresholded_pro(maps, masks, threshold: float) -> float:
    """PRO at one threshold, anomalib's ``PRO`` metric (the study's): ``(1/N) sum_k |P ∩ C_k| / |C_k|`` over
    the N regions C_k (8-connected components of each image's ``mask > 0``) of all images, P the pixels scored
    strictly above ``threshold`` (anomalib: ``predictions > threshold``). Each region counts once, whatever its
    size; no defect-free pixel enters, so a map that marks every pixel anomalous scores 1.

    The study (anomalib 1.x, ``Engine(pixel_metrics=["AUROC", "PRO"])``) ran anomalib's default ``PRO(threshold=0.5)``
    on min-max normalised maps, whose 0.5 is the adaptive pixel threshold (the F1-optimal threshold on the
    validation set, which for MVTec AD is the test set): :func:`pixel_metrics` passes the pixel F1-max threshold.
    NaN (logged) without a region or with a NaN threshold.
    """
    maps, masks = _maps_and_masks(maps, masks)
    if not np.isfinite(threshold):
        logger.warning("PRO undefined: no threshold (no anomalous pixel); reporting NaN")
        return float("nan")
    overlaps = []
    for one_map, mask in zip(maps, masks, strict=True):
        regions, n_regions = ndimage.label(np.asarray(mask) > 0, structure=_EIGHT_CONNECTED)
        if n_regions:
            inside = regions.reshape(-1)
            hit = np.bincount(inside, weights=np.asarray(one_map).reshape(-1) > threshold, minlength=n_regions + 1)
            overlaps.append(hit[1:] / np.bincount(inside, minlength=n_regions + 1)[1:])
    if not overlaps:
        logger.warning("PRO undefined: no defect region in the masks; reporting NaN")
        return float("nan")
    return float(np.mean(np.concatenate(overlaps)))


def au_pro(maps, masks, fpr_limit: float = 0.3) -> float:
    """Normalised area under the PRO curve up to ``fpr_limit``, as the official MVTec AD evaluation.

    The curve is :func:`pro_curve`; it is integrated with the trapezoid rule from FPR 0 to ``fpr_limit``,
    the last segment cut at the limit by linear interpolation, and the area is divided by ``fpr_limit``
    so a perfect map scores 1. Computed in float64. NaN (logged) without an anomalous pixel or without a
    defect-free pixel.
    """
    (limit,) = _check_fpr_limits((fpr_limit,))
    return _pixel_statistics(maps, masks, fpr_limits=(limit,)).au_pro[limit]


def pro_curve(maps, masks) -> tuple[np.ndarray, np.ndarray]:
    """The per-region-overlap curve ``(fpr, pro)`` of the official MVTec AD evaluation, float64.

    * Regions: the 8-connected components of each image's ``mask > 0``.
    * FPR(t): fraction of all defect-free pixels of all images (defect-free images included) with
      ``score >= t``.
    * PRO(t): mean over every region of the category of the fraction of the region's pixels with
      ``score >= t``; each region counts once, whatever its size.
    * One point per distinct score t in decreasing order (tied scores enter together), preceded by
      (0, 0) and followed by (1, 1).

    The curve has one point per distinct score, so at full resolution it can hold ~10^8 points
    (16 bytes each); :func:`au_pro` integrates it without keeping it. Without an anomalous pixel or a
    defect-free pixel the curve is undefined: ``([nan], [nan])``, logged.
    """
    curve = _pixel_statistics(maps, masks, keep_pro_curve=True).pro_curve
    return curve if curve is not None else (np.array([np.nan]), np.array([np.nan]))


# ---------------------------------------------------------------------------------------------------------
# The F1-optimal threshold, resizing
# ---------------------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------------------
# The continual setting: accuracy matrix → ACC, FM, BWT
# ---------------------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------------------
# The one-sort engine
# ---------------------------------------------------------------------------------------------------------


