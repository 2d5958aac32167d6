"""Input checks of the metrics: finite scores, image stacks, maps beside masks, FPR limits."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Elements per step of the pass over sorted pixels: bounds its temporaries to a few tens of MB.
_CHUNK_SIZE = 1 << 20


def _check_real(array: np.ndarray, name: str) -> None:
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be real numbers or bool, got dtype {array.dtype}")


def _image_stack(array, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 3:
        raise ValueError(f"{name} must have shape (N, H, W) or (N, 1, H, W), got {array.shape}")
    _check_real(array, name)
    return array


def _maps_and_masks(maps, masks) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-image (map, mask) pairs, checked: a stack of equal-size images, or lists of any sizes."""
    if isinstance(maps, list | tuple) or isinstance(masks, list | tuple):
        if len(maps) != len(masks):
            raise ValueError(f"{len(maps)} anomaly maps but {len(masks)} masks")
        pairs = [(_image_stack(np.asarray(a)[None], "anomaly maps")[0], _image_stack(np.asarray(m)[None], "masks")[0])
                 for a, m in zip(maps, masks, strict=True)]
        for index, (one_map, one_mask) in enumerate(pairs):
            if one_map.shape != one_mask.shape:
                raise ValueError(f"anomaly map {index} of shape {one_map.shape} does not match its mask of "
                                 f"shape {one_mask.shape}")
        if not pairs or not any(one_map.size for one_map, _ in pairs):
            raise ValueError("anomaly maps are empty")
        return [one_map for one_map, _ in pairs], [one_mask for _, one_mask in pairs]
    map_shape, mask_shape = np.shape(maps), np.shape(masks)
    maps, masks = _image_stack(maps, "anomaly maps"), _image_stack(masks, "masks")
    if maps.shape != masks.shape:
        raise ValueError(f"anomaly maps of shape {map_shape} do not match masks of shape {mask_shape}")
    if maps.size == 0:
        raise ValueError(f"anomaly maps are empty (shape {map_shape})")
    return list(maps), list(masks)


def _score_label_blocks(scores, labels, score_name: str, label_name: str):
    """Flatten scores and labels of equal shape into aligned blocks of at most ``_CHUNK_SIZE``."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    if scores.shape != labels.shape:
        raise ValueError(f"{score_name} of shape {scores.shape} do not match {label_name} of shape {labels.shape}")
    if scores.size == 0:
        raise ValueError(f"{score_name} are empty")
    _check_real(scores, score_name)
    _check_real(labels, label_name)
    scores, labels = scores.reshape(-1), labels.reshape(-1)
    starts = range(0, scores.size, _CHUNK_SIZE)
    return ([scores[start:start + _CHUNK_SIZE] for start in starts],
            [labels[start:start + _CHUNK_SIZE] for start in starts], score_name, label_name)


def _check_fpr_limits(fpr_limits: Sequence[float]) -> tuple[float, ...]:
    limits = tuple(float(limit) for limit in fpr_limits)
    for limit in limits:
        if not 0.0 < limit <= 1.0:
            raise ValueError(f"FPR limits must lie in (0, 1], got {limit}")
    return limits
