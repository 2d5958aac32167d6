"""Datasets' own metrics beside the MVTec AD set (docs/protocols.md), pure: arrays in, numbers out.

* MVTec LOCO AD (:func:`loco_values`): AU-sPRO (:mod:`~iadbench.metrics.spro`) for logical and
  structural anomalies and their mean at the official FPR limits, image AUROC per type. Each type's set is
  its own images plus every defect-free test image (the official ``add_good_images=True``); the mean is
  0.5 × (logical + structural). Image AUROC per type ranks the model's image scores (as every image metric
  of iadbench); the official script ranks the maximum of each anomaly map instead.
* Real-IAD (:func:`sample_auroc`): one sample is photographed from 5 cameras; its score is the maximum of
  its views' image scores and it is anomalous when any view is (Wang et al., Real-IAD, CVPR 2024: the
  "sample-level" S-AUROC beside image AUROC and pixel AU-PRO).
* MVTec AD 2 (:func:`validation_threshold`, :func:`seg_f1`; Heckler-Kram et al., "The MVTec AD 2 Dataset",
  2025, and MVTec's ``MVTecAD2_public_code_utils``): AU-PRO up to FPR 0.05 is the headline (the row's
  ``pixel_AUPRO_05``); SegF1 binarises the maps at ``mean + 3 * std`` of the pixel scores of the
  defect-free validation images (only validation may set it), then takes the pixel F1
  ``2TP / (2TP + FP + FN)`` over every pixel of the public test images (``score >= threshold``: anomalous).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from iadbench.metrics import spro
from iadbench.metrics.measures import image_auroc

LOCO_TYPES = {"logical": "logical_anomalies", "structural": "structural_anomalies"}
SIGMAS = 3.0


def loco_values(scores, labels, types: Sequence[str], maps: Sequence[np.ndarray] | None = None,
                defects: Sequence[Sequence[spro.Defect]] | None = None) -> dict[str, Any]:
    """The row's LOCO columns. ``types``: each test image's folder (good, logical_anomalies, ...);
    ``maps``: the anomaly maps at their masks' size and ``defects`` each image's defects ([] for a
    defect-free one), or None for a model without maps (AU-sPRO then missing)."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).reshape(-1) > 0
    values: dict[str, Any] = {}
    good = np.array([kind == "good" for kind in types], dtype=bool)
    for short, folder in LOCO_TYPES.items():
        keep = good | np.array([kind == folder for kind in types], dtype=bool)
        values[f"image_AUROC_{short}"] = image_auroc(scores[keep], labels[keep]) if keep.any() else np.nan
    values["image_AUROC_mean"] = 0.5 * (values["image_AUROC_logical"] + values["image_AUROC_structural"])
    if maps is None or defects is None:
        return values
    for short, folder in LOCO_TYPES.items():
        keep = [index for index, kind in enumerate(types) if kind in ("good", folder)]
        if any(defects[index] for index in keep):
            areas = spro.au_spro([maps[index] for index in keep], [defects[index] for index in keep])
        else:
            areas = dict.fromkeys(spro.MAX_FPRS, np.nan)
        for limit, area in areas.items():
            values[f"pixel_AUsPRO_{spro.limit_name(limit)}_{short}"] = area
    for limit in spro.MAX_FPRS:
        name = spro.limit_name(limit)
        values[f"pixel_AUsPRO_{name}_mean"] = 0.5 * (values[f"pixel_AUsPRO_{name}_logical"]
                                                     + values[f"pixel_AUsPRO_{name}_structural"])
    return values


def sample_scores(scores, labels, sample_ids) -> tuple[np.ndarray, np.ndarray]:
    """Per sample (sorted by id): the maximum of its views' scores and of their labels."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = (np.asarray(labels).reshape(-1) > 0).astype(np.int64)
    ids = np.asarray(sample_ids, dtype=str)
    if not scores.size == labels.size == ids.size:
        raise ValueError(f"{scores.size} scores, {labels.size} labels, {ids.size} sample ids")
    unique, inverse = np.unique(ids, return_inverse=True)
    best = np.full(unique.size, -np.inf)
    np.maximum.at(best, inverse, scores)
    anomalous = np.zeros(unique.size, dtype=np.int64)
    np.maximum.at(anomalous, inverse, labels)
    return best, anomalous


def sample_auroc(scores, labels, sample_ids) -> float:
    """Real-IAD's sample-level AUROC: image AUROC of the samples' max-pooled scores."""
    return image_auroc(*sample_scores(scores, labels, sample_ids))


def validation_threshold(validation_maps) -> float:
    """``mean + 3 * std`` (population std) of every pixel score of the validation maps; NaN without maps."""
    pixels = [np.asarray(one_map, dtype=np.float64).reshape(-1) for one_map in validation_maps]
    if not pixels or not sum(part.size for part in pixels):
        return float("nan")
    values = np.concatenate(pixels)
    return float(values.mean() + SIGMAS * values.std())


def seg_f1(maps, masks, threshold: float) -> float:
    """Pixel F1 of ``map >= threshold`` against ``mask > 0`` pooled over all images; NaN without a defect."""
    tp = fp = fn = 0
    for one_map, mask in zip(maps, masks, strict=True):
        flagged = np.asarray(one_map) >= threshold
        truth = np.asarray(mask) > 0
        tp += int(np.sum(flagged & truth))
        fp += int(np.sum(flagged & ~truth))
        fn += int(np.sum(~flagged & truth))
    return 2 * tp / (2 * tp + fp + fn) if tp + fn else float("nan")
