"""Evaluation's entry to the datasets' own protocols and the operating point (docs/protocols.md): the
extra row values of one image job, by its dataset type (which training saves in the predictions as
``dataset_type``). The metrics are :mod:`iadbench.metrics.protocols` and
:mod:`iadbench.metrics.operating_point`; the files they need, :mod:`iadbench.datasets.protocol_files`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from iadbench.datasets import protocol_files
from iadbench.datasets.holdout import VALIDATION
from iadbench.metrics import protocols, spro
from iadbench.metrics.maps import resize_maps_to
from iadbench.metrics.operating_point import operating_point_values
from iadbench.run import submission

# The target FPR of the operating point when none is given (workflow/schemas/config.schema.yaml says the same).
DEFAULT_TARGET_FPR = 0.05


def protocol_values(predictions: dict[str, np.ndarray], defect_types: list[str], *,
                    target_fpr: float = DEFAULT_TARGET_FPR, native_maps=None, native_masks=None) -> dict[str, Any]:
    """Operating point for every job; LOCO, MVTec AD 2 and Real-IAD metrics for theirs.

    ``native_maps`` / ``native_masks``: the test maps and masks the pixel metrics used (evaluation
    resolution, only images with ground truth), for SegF1; None without pixel metrics.
    """
    values = operating_point_values(predictions, target_fpr)
    kind = str(predictions["dataset_type"]) if "dataset_type" in predictions else ""
    if kind == "mvtec_loco":
        values.update(loco_values(predictions, defect_types))
    elif kind == "real_iad":
        ids = protocol_files.sample_ids_of(predictions["image_paths"])
        values["image_AUROC_sample"] = protocols.sample_auroc(predictions["scores"], predictions["labels"], ids)
        values["n_samples"] = len(set(ids))
    elif kind == "mvtec_ad_2":
        values.update(seg_f1_values(predictions, native_maps, native_masks))
    return values


def loco_values(predictions: dict[str, np.ndarray], types: list[str]) -> dict[str, Any]:
    """The row's LOCO columns; ``types`` is each test image's folder (good, logical_anomalies, ...). The maps
    are compared with each image's per-defect masks at the masks' size (defect-free images: the image's)."""
    scores, labels = predictions["scores"], np.asarray(predictions["labels"]).reshape(-1) > 0
    paths = [str(path) for path in predictions["image_paths"]]
    maps = predictions.get("maps", np.zeros(0))
    if not maps.size or not paths:
        return protocols.loco_values(scores, labels, types)
    source = protocol_files.category_dir_of(paths[0]) / spro.DEFECTS_CONFIG
    configs = spro.parse_defects_config(protocol_files.defects_config_entries(source.parent), str(source))
    defects, at_native_size = [], []
    for one_map, path, anomalous in zip(maps, paths, labels, strict=True):
        if anomalous:
            channels = protocol_files.read_defect_masks(path)
            found = spro.defects_of(channels, configs, str(protocol_files.defect_masks_file(path)))
            shape = channels.shape[-2:]
        else:
            with Image.open(path) as image:
                found, shape = [], image.size[::-1]
        defects.append(found)
        at_native_size.append(resize_maps_to(one_map, tuple(shape)))
    return protocols.loco_values(scores, labels, types, at_native_size, defects)


def seg_f1_values(predictions: dict[str, np.ndarray], maps, masks) -> dict[str, float]:
    """MVTec AD 2's SegF1 at the validation threshold (NaN without validation maps or pixel metrics)."""
    nan = float("nan")
    calibration = predictions.get("calibration_maps", np.zeros(0))
    from_validation = str(predictions.get("calibration_source", "")) == VALIDATION
    if maps is None or masks is None or not calibration.size or not from_validation:
        return {"pixel_SegF1": nan, "pixel_SegF1_threshold": nan}
    if len(maps) and np.shape(maps[0]) != np.shape(calibration[0]):  # native resolution: the images' sizes
        calibration = submission.native_maps(calibration, predictions["calibration_paths"])
    threshold = protocols.validation_threshold(calibration)
    return {"pixel_SegF1": protocols.seg_f1(maps, masks, threshold), "pixel_SegF1_threshold": threshold}
