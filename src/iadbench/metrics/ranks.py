"""The one-sort engine under every metric: scores sorted once (in chunks of bounded memory), then one sweep
gives AUROC, AP, F1-max and the PRO curve's areas."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from iadbench.metrics.checks import _CHUNK_SIZE, _maps_and_masks

logger = logging.getLogger(__name__)


_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
_LOW_HALF = np.uint64(0xFFFFFFFF)
_SIGN_BIT = np.uint32(0x80000000)
_MAX_POSITIVE_BITS = np.uint32(0x7FFFFFFF)
# Score dtypes every value of which float32 holds exactly; others are checked value by value.
_EXACT_IN_FLOAT32 = {np.dtype(t) for t in (np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.float16,
                                           np.float32)}


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
        from scipy import ndimage  # here: only region metrics label; scipy.ndimage costs importers 0.15 s

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
