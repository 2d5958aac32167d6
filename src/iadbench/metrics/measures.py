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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

logger = logging.getLogger(__name__)

# Elements per step of the pass over sorted pixels: bounds its temporaries to a few tens of MB.
_CHUNK_SIZE = 1 << 20
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
_LOW_HALF = np.uint64(0xFFFFFFFF)
_SIGN_BIT = np.uint32(0x80000000)
_MAX_POSITIVE_BITS = np.uint32(0x7FFFFFFF)
# Score dtypes every value of which float32 holds exactly; others are checked value by value.
_EXACT_IN_FLOAT32 = {np.dtype(t) for t in (np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.float16,
                                           np.float32)}

__all__ = [
    "au_pro", "continual_summary", "f1_optimal_threshold", "frame_auroc", "frame_auroc_macro", "image_ap", "image_auroc", "image_f1_max",
    "image_metrics", "pixel_ap", "pixel_auroc", "pixel_f1_max", "pixel_metrics", "pro_curve", "resize_maps_to",
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
    :func:`image_ap`, :func:`image_f1_max` over pixels), ``pixel_AUPRO_<percent>`` for each FPR limit
    (:func:`au_pro`; 0.3 -> ``pixel_AUPRO_30``, 0.05 -> ``pixel_AUPRO_05``) and ``pixel_AUPRO``, the
    value at the first limit. Values are python floats, NaN (logged) where undefined.
    """
    limits = _check_fpr_limits(fpr_limits)
    stats = _pixel_statistics(maps, masks, fpr_limits=limits)
    values = {"pixel_AUROC": stats.auroc, "pixel_AP": stats.ap, "pixel_F1_max": stats.f1_max}
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


# ---------------------------------------------------------------------------------------------------------
# The continual setting: accuracy matrix → ACC, FM, BWT
# ---------------------------------------------------------------------------------------------------------

def continual_summary(matrix) -> dict[str, float | int | str]:
    """Final average accuracy, Forgetting Measure and backward transfer of one accuracy matrix.

    ``matrix[l, j]`` (0-based; T x T, entries with ``j > l`` ignored) is a metric of task ``j`` after
    training step ``l``. With ``T`` tasks (1-based below, as in the papers):

    * ``ACC`` = mean over j ≤ T of a_T,j (the final model on every task);
    * ``FM`` (Chaudhry et al., ECCV 2018) = mean over j < T of f_j, f_j = max over j ≤ l < T of a_l,j − a_T,j
      (how much the final model lost on task j from its best; ties in the max change nothing);
    * ``BWT`` = mean over j < T of a_T,j − a_j,j (negative: forgetting);
    * ``relative_FM`` (CLAD) = mean over j < T of f_j / max over j ≤ l < T of a_l,j.

    A value that is undefined is NaN with the reason in ``note``: T = 1 (no earlier task, so FM, BWT and
    relative FM), a missing (NaN) entry the value needs, or a best value ≤ 0 (relative FM).
    Returns keys ``n_tasks``, ``ACC``, ``FM``, ``BWT``, ``relative_FM``, ``note``.
    """
    values = np.asarray(matrix, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] != values.shape[1] or values.shape[0] == 0:
        raise ValueError(f"an accuracy matrix is T x T with T >= 1, got shape {values.shape}")
    n_tasks = values.shape[0]
    final = values[-1]
    notes = []
    result: dict[str, float | int | str] = {"n_tasks": n_tasks, "ACC": float(np.mean(final)), "FM": np.nan,
                                            "BWT": np.nan, "relative_FM": np.nan}
    if np.isnan(final).any():
        notes.append("ACC: the final step misses task(s) " + _task_list(np.flatnonzero(np.isnan(final))))
    if n_tasks == 1:
        notes.append("one task: FM, BWT and relative FM need an earlier task")
        result["note"] = "; ".join(notes)
        return result
    earlier = np.tril(np.ones_like(values, dtype=bool))[:-1, :-1]  # a_l,j with j <= l < T
    history = np.where(earlier, values[:-1, :-1], -np.inf)
    missing = earlier & np.isnan(values[:-1, :-1])
    if missing.any() or np.isnan(final[:-1]).any():
        rows, columns = np.nonzero(missing)
        entries = [f"a_{row + 1},{column + 1}" for row, column in zip(rows, columns)]
        entries += [f"a_{n_tasks},{column + 1}" for column in np.flatnonzero(np.isnan(final[:-1]))]
        notes.append("FM, BWT, relative FM: missing " + ", ".join(entries))
    else:
        best = history.max(axis=0)
        forgetting = best - final[:-1]
        result["FM"] = float(np.mean(forgetting))
        result["BWT"] = float(np.mean(final[:-1] - np.diag(values)[:-1]))
        if (best > 0).all():
            result["relative_FM"] = float(np.mean(forgetting / best))
        else:
            notes.append("relative FM: best value <= 0 for task(s) " + _task_list(np.flatnonzero(best <= 0)))
    result["note"] = "; ".join(notes)
    return result


def _task_list(indices) -> str:
    return ", ".join(str(int(index) + 1) for index in indices)


# ---------------------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------------------
# The one-sort engine
# ---------------------------------------------------------------------------------------------------------

@dataclass
class _Statistics:
    auroc: float
    ap: float
    f1_max: float
    f1_threshold: float
    au_pro: dict[float, float]
    pro_curve: tuple[np.ndarray, np.ndarray] | None


class _GroundTruthCodes:
    """Encodes ground truth per sample as uint32: 0 defect-free, else 1, or with regions the 1-based id of
    the sample's 8-connected region (ids run on across images); counts samples and region sizes."""

    def __init__(self, with_regions: bool, name: str):
        self.with_regions, self.name = with_regions, name
        self.n_pos = self.n_neg = self.n_regions = 0
        self._region_sizes: list[np.ndarray] = []

    def encode(self, truth: np.ndarray, index: int) -> np.ndarray:
        if truth.dtype.kind == "f" and not np.isfinite(truth).all():
            where = f"image {index}" if truth.ndim == 2 else f"chunk {index}"
            raise ValueError(f"{self.name} contain NaN or infinite values ({where})")
        positive = truth > 0
        count = int(np.count_nonzero(positive))
        self.n_pos += count
        self.n_neg += positive.size - count
        if not self.with_regions or count == 0:
            return positive.astype(np.uint32).reshape(-1)
        labels, n_labels = ndimage.label(positive, structure=_EIGHT_CONNECTED)
        self._region_sizes.append(np.bincount(labels.reshape(-1), minlength=n_labels + 1)[1:])
        codes = labels.astype(np.uint32).reshape(-1)
        np.add(codes, np.uint32(self.n_regions), out=codes, where=positive.reshape(-1))
        self.n_regions += n_labels
        return codes

    def region_weights(self) -> np.ndarray:
        """1 / region size, indexed by code (code 0, defect-free, weighs 0)."""
        sizes = np.concatenate([np.zeros(0, np.int64), *self._region_sizes])
        return np.concatenate(([0.0], 1.0 / sizes))


def _pixel_statistics(maps, masks, fpr_limits: tuple[float, ...] = (), keep_pro_curve: bool = False):
    maps, masks = _maps_and_masks(maps, masks)
    return _rank_statistics(maps, masks, "anomaly maps", "masks", level="pixel",
                            fpr_limits=fpr_limits, keep_pro_curve=keep_pro_curve)


def _rank_statistics(score_blocks: list[np.ndarray], truth_blocks: list[np.ndarray], score_name: str,
                     truth_name: str, *, level: str, fpr_limits: tuple[float, ...] = (),
                     keep_pro_curve: bool = False) -> _Statistics:
    """All ranking metrics of the samples in the blocks from one sort (blocks are images for PRO)."""
    with_regions = bool(fpr_limits) or keep_pro_curve
    float32_exact = _check_scores(score_blocks, score_name)
    coder = _GroundTruthCodes(with_regions, truth_name)
    if float32_exact:
        keys = _sorted_keys(score_blocks, truth_blocks, coder)
        chunks, decode = _key_chunks(keys), _score_of_key
    else:
        scores, codes = _float64_scores_and_codes(score_blocks, truth_blocks, coder)
        chunks, decode = _argsort_chunks(scores, codes), float
    n_pos, n_neg = coder.n_pos, coder.n_neg
    nan = float("nan")
    undefined = _Statistics(nan, nan, nan, nan, dict.fromkeys(fpr_limits, nan), None)
    population = f"{n_pos + n_neg} {level}s"
    if level == "pixel":
        population += f" of {len(score_blocks)} image" + ("s" if len(score_blocks) > 1 else "")
    pro_names = ", AU-PRO" if with_regions else ""
    if n_pos == 0:
        logger.warning("%s AUROC, AP, F1-max%s undefined: none of the %s is anomalous; reporting NaN",
                       level, pro_names, population)
        return undefined
    if n_neg == 0:
        logger.warning("%s AUROC%s undefined: all of the %s are anomalous, none defect-free; reporting NaN",
                       level, pro_names, population)
    weights = coder.region_weights() if with_regions and n_neg > 0 else None
    stats = _sweep(chunks, n_pos, n_neg, weights, coder.n_regions, fpr_limits, keep_pro_curve)
    stats.f1_threshold = decode(stats.f1_threshold)
    return stats


def _check_scores(blocks: list[np.ndarray], name: str) -> bool:
    """Reject non-finite scores; tell whether float32 holds every score exactly (the fast path).

    Every block's dtype counts, not the first one's: a float64 image after float32 ones (a list of maps)
    must send all of them to the float64 path rather than be rounded to the first block's float32.
    """
    exact = all(block.dtype in _EXACT_IN_FLOAT32 for block in blocks)
    check_exact = not exact
    for index, block in enumerate(blocks):
        if block.dtype.kind == "f" and not np.isfinite(block).all():
            if block.ndim == 2:
                where = f"image {index}"
            else:
                where = f"index {index * _CHUNK_SIZE + int(np.flatnonzero(~np.isfinite(block))[0])}"
            raise ValueError(f"{name} contain NaN or infinite values ({where})")
        if check_exact and block.dtype not in _EXACT_IN_FLOAT32 and not np.array_equal(
                block.astype(np.float32), block):
            check_exact = False
    return exact or check_exact


def _descending_keys(scores: np.ndarray) -> np.ndarray:
    """uint32 keys whose ascending order is the descending order of float32 scores; equal floats give
    equal keys (-0.0 is made +0.0 first)."""
    bits = (np.asarray(scores, dtype=np.float32).reshape(-1) + np.float32(0.0)).view(np.uint32)
    return np.where(bits >= _SIGN_BIT, bits, _MAX_POSITIVE_BITS - bits)


def _score_of_key(key) -> float:
    key = np.uint32(key)
    bits = key if key >= _SIGN_BIT else _MAX_POSITIVE_BITS - key
    return float(np.array(bits, dtype=np.uint32).view(np.float32))


def _sorted_keys(score_blocks, truth_blocks, coder: _GroundTruthCodes) -> np.ndarray:
    """One uint64 per sample, score key high, ground-truth code low, sorted in place: the one sort."""
    keys = np.empty(sum(block.size for block in score_blocks), dtype=np.uint64)
    start = 0
    for index, (scores, truth) in enumerate(zip(score_blocks, truth_blocks, strict=True)):
        part = keys[start:start + scores.size]
        part[...] = _descending_keys(scores)
        part <<= np.uint64(32)
        part |= coder.encode(truth, index)
        start += scores.size
    if coder.n_pos:
        keys.sort()
    return keys


def _key_chunks(keys: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(score keys, codes, is_last_of_its_tie_group) for consecutive chunks of the sorted keys."""
    n = keys.size
    for start in range(0, n, _CHUNK_SIZE):
        stop = min(start + _CHUNK_SIZE, n)
        chunk = keys[start:stop]
        groups = chunk >> np.uint64(32)
        is_last = np.empty(chunk.size, dtype=bool)
        np.not_equal(groups[1:], groups[:-1], out=is_last[:-1])
        is_last[-1] = stop == n or (keys[stop] >> np.uint64(32)) != groups[-1]
        yield groups, chunk & _LOW_HALF, is_last


def _float64_scores_and_codes(score_blocks, truth_blocks, coder: _GroundTruthCodes):
    n = sum(block.size for block in score_blocks)
    scores, codes = np.empty(n, dtype=np.float64), np.empty(n, dtype=np.uint32)
    start = 0
    for index, (block, truth) in enumerate(zip(score_blocks, truth_blocks, strict=True)):
        scores[start:start + block.size] = block.reshape(-1)
        codes[start:start + block.size] = coder.encode(truth, index)
        start += block.size
    return scores, codes


def _argsort_chunks(scores: np.ndarray, codes: np.ndarray):
    """Like :func:`_key_chunks` for float64 scores: argsort once, walk it from the highest score down."""
    order = np.argsort(scores)
    for stop in range(scores.size, 0, -_CHUNK_SIZE):
        start = max(stop - _CHUNK_SIZE, 0)
        index = order[start:stop][::-1]
        groups = scores[index]
        is_last = np.empty(index.size, dtype=bool)
        np.not_equal(groups[1:], groups[:-1], out=is_last[:-1])
        is_last[-1] = start == 0 or scores[order[start - 1]] != groups[-1]
        yield groups, codes[index], is_last


def _sweep(chunks, n_pos: int, n_neg: int, region_weights: np.ndarray | None, n_regions: int,
           fpr_limits: tuple[float, ...], keep_pro_curve: bool) -> _Statistics:
    """One pass over the samples in decreasing score order, emitting a curve point after each tie group.

    ROC area is kept as an exact integer (twice the area times P*N); AP as sum of recall steps times
    precision; PRO areas with the official trapezoid rule up to each FPR limit, then PRO stops being
    tracked unless the whole curve is wanted.
    """
    with_pro = region_weights is not None and n_regions > 0
    tp = fp = 0                        # counts over all samples before the current chunk
    pro_sum = 0.0                      # sum of 1/|region| over region pixels before the current chunk
    point_tp = point_fp = 0            # last curve point emitted
    point_fpr = point_pro = 0.0
    roc_twice_area = 0
    ap_sum = 0.0
    best_f1, best_group = -1.0, None
    areas = dict.fromkeys(fpr_limits, 0.0)
    open_limits = set(fpr_limits)
    curve_parts: list[tuple[np.ndarray, np.ndarray]] = []
    for groups, codes, is_last in chunks:
        track_pro = with_pro and (bool(open_limits) or keep_pro_curve)
        cum_pos = np.cumsum(codes != 0, dtype=np.int64)
        cum_weight = np.cumsum(region_weights[codes]) if track_pro else None
        ends = np.flatnonzero(is_last)
        if ends.size:
            tps = tp + cum_pos[ends]
            fps = fp + (ends + 1) - cum_pos[ends]
            prev_tps = np.concatenate(([point_tp], tps[:-1]))
            prev_fps = np.concatenate(([point_fp], fps[:-1]))
            roc_twice_area += int(np.sum((fps - prev_fps) * (tps + prev_tps)))
            ap_sum += float(np.sum((tps - prev_tps) * (tps / (tps + fps))))
            f1 = 2 * tps / (tps + fps + n_pos)
            best = int(np.argmax(f1))
            if f1[best] > best_f1:
                best_f1, best_group = float(f1[best]), groups[ends[best]]
            if track_pro:
                fpr = fps / n_neg
                pro = np.minimum((pro_sum + cum_weight[ends]) / n_regions, 1.0)
                _add_pro_areas(areas, open_limits, fpr, pro, point_fpr, point_pro)
                if keep_pro_curve:
                    curve_parts.append((fpr, pro))
                point_fpr, point_pro = float(fpr[-1]), float(pro[-1])
            point_tp, point_fp = int(tps[-1]), int(fps[-1])
        tp += int(cum_pos[-1])
        fp += codes.size - int(cum_pos[-1])
        if track_pro:
            pro_sum += float(cum_weight[-1])
    nan = float("nan")
    auroc = roc_twice_area / (2 * n_pos * n_neg) if n_neg else nan
    au_pro = {limit: float(areas[limit] / limit) if with_pro else nan for limit in fpr_limits}
    curve = None
    if keep_pro_curve and with_pro:
        curve = (np.concatenate([[0.0], *(part[0] for part in curve_parts), [1.0]]),
                 np.concatenate([[0.0], *(part[1] for part in curve_parts), [1.0]]))
    return _Statistics(auroc, ap_sum / n_pos, best_f1, best_group, au_pro, curve)


def _add_pro_areas(areas: dict[float, float], open_limits: set[float], fpr: np.ndarray, pro: np.ndarray,
                   start_fpr: float, start_pro: float) -> None:
    """Add the trapezoids of the curve segments (start, point 0), (point 0, point 1), ... that lie below
    each open FPR limit; close a limit at the segment crossing it, interpolating linearly there (as the
    official ``trapezoid(x, y, x_max)``)."""
    x0 = np.concatenate(([start_fpr], fpr[:-1]))
    y0 = np.concatenate(([start_pro], pro[:-1]))
    for limit in sorted(open_limits):
        inside = int(np.searchsorted(fpr, limit, side="right"))
        areas[limit] += float(np.sum(0.5 * (pro[:inside] + y0[:inside]) * (fpr[:inside] - x0[:inside])))
        if inside < fpr.size:
            x_low, y_low = x0[inside], y0[inside]
            if x_low < limit:
                y_limit = y_low + (pro[inside] - y_low) * (limit - x_low) / (fpr[inside] - x_low)
                areas[limit] += float(0.5 * (y_limit + y_low) * (limit - x_low))
            open_limits.discard(limit)
