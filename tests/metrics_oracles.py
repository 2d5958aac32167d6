"""The official MVTec AD PRO algorithm, written out plainly: the oracle our one-sort engine is checked against.

Used by tests/unit/metrics/test_metrics.py and benchmarks/bench_metrics.py; kept out of ``iadbench`` because no
pipeline path runs it. Independent of ``iadbench.metrics.measures`` (no packed keys, no chunks, no shared helpers),
so a bug there cannot hide here.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def reference_pro(maps, masks) -> tuple[np.ndarray, np.ndarray]:
    """The official MVTec AD ``compute_pro`` in float64: full-size change arrays, one argsort, cumsums.

    ``maps`` and ``masks``: a stack ``(N, H, W)`` or lists of ``(H_i, W_i)`` images, each mask the size of its
    map, defective where ``> 0``. Returns the curve ``(fpr, pro)`` with (0, 0) before and (1, 1) after.
    """
    fp_parts, pro_parts, score_parts = [], [], []
    n_ok_pixels = n_regions = 0
    for one_map, mask in zip(maps, masks, strict=True):
        labeled, n_components = ndimage.label(np.asarray(mask) > 0, structure=np.ones((3, 3), dtype=int))
        n_regions += n_components
        ok = labeled == 0
        n_ok_pixels += int(ok.sum())
        sizes = np.bincount(labeled.ravel(), minlength=n_components + 1)
        pro_change = np.zeros(labeled.shape, dtype=np.float64)
        pro_change[~ok] = 1.0 / sizes[labeled[~ok]]
        fp_parts.append(ok.astype(np.int64).ravel())
        pro_parts.append(pro_change.ravel())
        score_parts.append(np.asarray(one_map, dtype=np.float64).ravel())
    scores = np.concatenate(score_parts)
    order = np.argsort(scores, kind="stable")[::-1]
    scores = scores[order]
    fprs = np.cumsum(np.concatenate(fp_parts)[order]) / n_ok_pixels
    pros = np.cumsum(np.concatenate(pro_parts)[order]) / n_regions
    keep = np.append(np.diff(scores) != 0, True)
    fprs = np.clip(fprs[keep], None, 1.0)
    pros = np.clip(pros[keep], None, 1.0)
    return np.concatenate(([0.0], fprs, [1.0])), np.concatenate(([0.0], pros, [1.0]))


def reference_trapezoid(x: np.ndarray, y: np.ndarray, x_max: float) -> float:
    """The official MVTec AD ``trapezoid``: area under (x, y) up to ``x_max``, interpolating at it."""
    correction = 0.0
    if x_max not in x:
        insert = int(np.searchsorted(x, x_max, side="right"))
        y_interp = y[insert - 1] + (y[insert] - y[insert - 1]) * (x_max - x[insert - 1]) / (
            x[insert] - x[insert - 1])
        correction = 0.5 * (y_interp + y[insert - 1]) * (x_max - x[insert - 1])
    below = x <= x_max
    x, y = x[below], y[below]
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * (x[1:] - x[:-1])) + correction)


def reference_frame_auroc_macro(scores, labels, video_ids) -> tuple[float, int, int]:
    """Macro frame AUROC written out with scikit-learn: per video ``roc_auc_score``, mean over the videos
    having both classes; ``(mean, n_used, n_excluded)``, NaN mean when none is usable."""
    from sklearn.metrics import roc_auc_score

    scores, labels, video_ids = np.asarray(scores), np.asarray(labels) > 0, np.asarray(video_ids)
    values, excluded = [], 0
    for video in sorted(set(video_ids.tolist())):
        mine = video_ids == video
        if labels[mine].all() or not labels[mine].any():
            excluded += 1
        else:
            values.append(roc_auc_score(labels[mine], scores[mine]))
    return (float(np.mean(values)) if values else float("nan")), len(values), excluded
