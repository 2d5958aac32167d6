"""The F1-optimal threshold of image scores, and anomaly maps resized to the masks' size."""

from __future__ import annotations

import numpy as np

from iadbench.metrics.checks import _check_real, _score_label_blocks
from iadbench.metrics.ranks import _rank_statistics


def f1_optimal_threshold(scores, labels) -> tuple[float, float]:
    """The threshold t maximising F1 of ``score >= t``, and that F1: ``(threshold, f1)``.

    t is one of the scores; where several thresholds reach the same F1 the highest is returned. The F1 is
    the one of :func:`image_f1_max`, 2TP / (2TP + FP + FN) at ``score >= t``. Any shape (images or maps).
    ``(nan, nan)`` (logged) without an anomalous sample.
    """
    stats = _rank_statistics(*_score_label_blocks(scores, labels, "scores", "labels"), level="sample")
    return stats.f1_threshold, stats.f1_max


def resize_maps_to(maps, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of anomaly maps to ``shape`` (H, W), e.g. to the ground-truth masks' native size.

    Semantics of torch ``interpolate(mode="bilinear", align_corners=False)`` and OpenCV ``INTER_LINEAR``:
    pixel centres are aligned, source coordinate ``(dst + 0.5) * in / out - 0.5`` clamped to the image,
    no antialiasing. Works on ``(..., H, W)``; float64 input stays float64, anything else becomes float32.
    Returns the input converted (possibly itself) when it already has the size.
    """
    maps = np.asarray(maps)
    shape = tuple(int(size) for size in shape)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"target shape must be (H, W) with positive sizes, got {shape}")
    if maps.ndim < 2 or maps.shape[-1] == 0 or maps.shape[-2] == 0:
        raise ValueError(f"anomaly maps must have shape (..., H, W) with H, W > 0, got {maps.shape}")
    _check_real(maps, "anomaly maps")
    out_dtype = np.float64 if maps.dtype == np.float64 else np.float32
    images = maps.reshape(-1, *maps.shape[-2:])
    for index, image in enumerate(images):
        if image.dtype.kind == "f" and not np.isfinite(image).all():
            raise ValueError(f"anomaly maps contain NaN or infinite values (image {index})")
    if maps.shape[-2:] == shape:
        return maps.astype(out_dtype, copy=False)
    rows_low, rows_high, row_weight = _linear_taps(maps.shape[-2], shape[0])
    cols_low, cols_high, col_weight = _linear_taps(maps.shape[-1], shape[1])
    row_weight, col_weight = row_weight[:, None], col_weight[None, :]
    out = np.empty((images.shape[0], *shape), dtype=out_dtype)
    for index, image in enumerate(images):
        image = image.astype(np.float64, copy=False)
        rows = image[rows_low] * (1.0 - row_weight) + image[rows_high] * row_weight
        out[index] = rows[:, cols_low] * (1.0 - col_weight) + rows[:, cols_high] * col_weight
    return out.reshape(*maps.shape[:-2], *shape)


def _linear_taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weight of the second one, per output index (align_corners=False)."""
    source = np.maximum((np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5, 0.0)
    low = np.minimum(np.floor(source).astype(np.intp), in_size - 1)
    high = np.minimum(low + 1, in_size - 1)
    return low, high, source - low


def degenerate_maps(maps) -> bool:
    """Every anomaly map constant (relative range < 1e-6): pixel metrics then only rank images, not pixels."""
    maps = maps if isinstance(maps, list) else list(maps)
    for one_map in maps:
        low, high = float(np.min(one_map)), float(np.max(one_map))
        if high - low > 1e-6 * max(abs(low), abs(high), np.finfo(np.float64).tiny):
            return False
    return bool(maps)
