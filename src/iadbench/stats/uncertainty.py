"""How sure is each number: bootstrap intervals of a job's metrics, paired tests between models, seeds.

**Intervals**: *logit* bootstrap (``CI_METHOD``, the row's ``ci_method``; :func:`logit_interval`), 95 %
(``CI_LEVEL``), 2,000 resamples (``N_RESAMPLES``), from the saved predictions: ``expit(logit(e) -/+ 1.96 se)``,
``e`` the full-test-set value after the add-half correction ``(e n + 1/2) / (n + 1)`` (n: the test images the
metric is computed on), ``se`` the standard deviation of the equally corrected replicates' logits, at least the
Wilson-type floor ``1 / sqrt(n e (1 - e))`` (a proportion's logit standard error over n images). Why: every
metric here lives in [0, 1] and MVTec numbers sit near 1, where the sampling distribution is skewed and its
spread shrinks with the value; the percentile interval then covers AUROC 0.97 (40 + 80 images) in ~91 % and
0.99 in ~87 % of simulations, and a perfect separation gets [1, 1]. On the logit scale the spread is near
constant; the floor keeps a perfect (or near perfect) model's interval honest: 120 images separated perfectly
give [0.94, 1] instead of [1, 1] (bounds widened, if need be, to hold the uncorrected estimate); coverage ~0.95 at
AUROC 0.97-0.995 (docs/statistics.md). Each resample draws the defect-free and the anomalous test images separately
with replacement, keeping both counts (stratified). The generator is seeded from the job's seed (a row is
deterministic) and draws images in the order of their paths: two models of a category with the same seed draw
the same images in resample ``b`` (paired replicates).

* Image metrics (:func:`image_replicates`): exact in every resample (thresholds at every distinct score); F1 at
  F1-max's threshold on all images (see there).
* Pixel metrics (:func:`pixel_statistics`, :func:`pixel_replicates`) resample *images*, never pixels (the
  pixels of an image are not independent). Each image becomes counts on one shared grid of K thresholds
  (``N_THRESHOLDS``: K/4 quantiles of the defect-free scores, K/4 of their top ``limit`` share split over
  the AU-PRO limits, the rest of the anomalous scores): anomalous and defect-free pixels per bin, and per
  defect region (8-connected) the share of its pixels per bin. One matmul per statistic of the
  (resamples x images) count matrix sums the drawn images' bins; cumulative sums give TP, FP and PRO at
  each threshold. Memory: (images + regions) x K, never pixels x resamples.
* Approximation (binning alone): grid points are points of the exact curve, the chord replaces the curve
  between them. |AUROC error| <= sum(dFPR dTPR) / 2 <= max bin dTPR / 2 (~1/K); |AU-PRO error| <=
  sum(dFPR dPRO) / (2 limit) <= 1 / (2 m) with m grid points inside the limit; AP takes each bin's mean
  precision, its pixels evenly interleaved: its error grows with the pixels per bin where classes mix, not K.
  Measured on resamples (docs/statistics.md): < 1e-3 from ~1e5 pixels up, ~5e-3 on 10 images of 40^2. The rows'
  estimates stay exact (the replicates give spreads); NaN replicates (no region drawn) are left out.

**Seeds**: each evaluation job saves its replicates beside its row, ``bootstrap.npz`` (:func:`save_replicates`,
:func:`load_replicates`: ``replicates`` float32 resamples x metrics, ``metrics`` their names, ``method``,
``level``). A cell's interval over seeds is :func:`combine_seed_intervals` of the seeds' replicates and estimates
of one metric: the logit interval around the seeds' mean logit, its spread that of the seeds' logit replicates
pooled (each seed weighing the same), so it holds both the seed-to-seed and the test-set spread.

**Paired comparisons** on the same test images: :func:`delong_test` (AUROC), :func:`paired_bootstrap`
(any metric, the same resamples for both models; :func:`studentized_p`), :func:`benjamini_hochberg` for several comparisons
(all in :mod:`iadbench.stats.paired`)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage, special

from iadbench.core.files import atomic_write
from iadbench.metrics.checks import _maps_and_masks
from iadbench.results.columns import metric_names
from iadbench.results.rows import CI_METRICS

CI_METHOD = "logit"
CI_LEVEL = 0.95
N_RESAMPLES = 2000
N_THRESHOLDS = 4096
IMAGE_NAMES = metric_names("image", interval=True)  # what image_replicates computes
# Keeps the bootstrap's random stream apart from any other use of the job's seed.
_SALT = 0x1ADB
# Resamples per matmul block: bounds the (block x grid) temporaries to a few MB.
_BLOCK = 256
# Pixels each of the two grid samples (defect-free, anomalous) keeps at most: quantile ranks within ~2e-4
# (any threshold gives exact curve points; the sample only spaces them evenly).
_GRID_SAMPLE = 1 << 22
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


# Resampling and intervals

def resample_counts(labels, n_resamples: int = N_RESAMPLES, seed: int = 0, keys=None) -> np.ndarray:
    """(n_resamples, n_images) int32 multiplicities of a stratified bootstrap: in each row the defect-free
    (``label <= 0``) and the anomalous images are drawn separately, with replacement, their counts kept.

    ``keys`` (e.g. image paths) fix the order images are drawn in, so the same seed draws the same
    images whatever order the predictions list them in.
    """
    strata = np.asarray(labels).reshape(-1) > 0
    n = strata.size
    order = np.argsort(np.asarray(keys), kind="stable") if keys is not None else np.arange(n)
    rng = np.random.default_rng([_SALT, int(seed)])
    flat = np.zeros(n_resamples * n, dtype=np.int64)
    rows = np.arange(n_resamples)[:, None] * n
    for stratum in (False, True):
        members = order[strata[order] == stratum]
        if members.size:
            picks = members[rng.integers(0, members.size, size=(n_resamples, members.size))]
            flat += np.bincount((rows + picks).ravel(), minlength=n_resamples * n)
    return flat.reshape(n_resamples, n).astype(np.int32)


def percentile_interval(replicates, level: float = CI_LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Per column: the (1 - level) / 2 and (1 + level) / 2 quantiles of the finite replicates (NaN if none)."""
    values = np.asarray(replicates, dtype=np.float64)
    with warnings.catch_warnings():  # an all-NaN column (a metric undefined here) is NaN, not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanquantile(values.reshape(values.shape[0], -1), [(1 - level) / 2, (1 + level) / 2], axis=0)
    return low, high


def _logit(values) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(values) - np.log1p(-values)


def _expit(values) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * np.asarray(values, dtype=np.float64)))


def _add_half(values, n_images):
    """The add-half correction (value * n + 1/2) / (n + 1): 0 and 1 move inside (0, 1), their logit stays finite."""
    return (np.asarray(values, dtype=np.float64) * n_images + 0.5) / (n_images + 1)


def _logit_bounds(centre: np.ndarray, logits: np.ndarray, n: np.ndarray, level: float, lowest, highest):
    """``expit(logit(centre) -/+ z se)``, ``se`` the larger of the logit replicates' (rows) standard deviation and
    the Wilson-type floor 1 / sqrt(n centre (1 - centre)), widened to hold [lowest, highest] (the uncorrected
    estimates: a perfect model's upper bound is 1, as Wilson's); NaN where the centre or every replicate is NaN."""
    finite = np.isfinite(logits)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # a column undefined in every resample: NaN, no warning
        spread = np.where(finite.sum(axis=0) > 1, np.nanstd(logits, axis=0, ddof=1), 0.0)
        spread = np.maximum(spread, 1 / np.sqrt(n * centre * (1 - centre)))
    z = special.ndtri((1 + level) / 2)
    low = np.minimum(_expit(_logit(centre) - z * spread), lowest)
    high = np.maximum(_expit(_logit(centre) + z * spread), highest)
    undefined = ~np.isfinite(centre) | ~finite.any(axis=0) | ~(n > 0)
    low[undefined], high[undefined] = np.nan, np.nan
    return low, high


def logit_interval(replicates, estimates, n_images, level: float = CI_LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Per column of ``replicates`` (resamples x metrics, values in [0, 1]): the logit-scale interval around the
    add-half corrected ``estimates`` over ``n_images`` test images (see the module's notes). NaN where the
    estimate or every replicate is NaN, or there are no images."""
    values = np.asarray(replicates, dtype=np.float64)
    values = values.reshape(values.shape[0], -1)
    n = np.array(np.broadcast_to(np.asarray(n_images, dtype=np.float64), values.shape[1:]))
    estimates = np.broadcast_to(np.asarray(estimates, dtype=np.float64), values.shape[1:])
    return _logit_bounds(_add_half(estimates, n), _logit(_add_half(values, n)), n, level, estimates, estimates)


def combine_seed_intervals(per_seed_bootstrap_samples: Sequence, estimates: Sequence[float], n_images: int,
                           level: float = CI_LEVEL) -> tuple[float, float]:
    """Logit interval of one metric over seeds: centred on the mean of the seeds' (add-half corrected) logit
    estimates, its spread that of all seeds' logit replicates pooled, each seed weighing the same (seeds with
    fewer replicates are represented by as many of their quantiles), so it holds the seed-to-seed spread too.
    One seed: its :func:`logit_interval`."""
    pairs = [(np.asarray(sample, dtype=np.float64).ravel(), float(estimate))
             for sample, estimate in zip(per_seed_bootstrap_samples, estimates, strict=True)]
    pairs = [(sample[np.isfinite(sample)], estimate) for sample, estimate in pairs]
    pairs = [(sample, estimate) for sample, estimate in pairs if sample.size and np.isfinite(estimate)]
    if not pairs:
        return float("nan"), float("nan")
    size = max(sample.size for sample, _ in pairs)
    samples = [sample if sample.size == size else np.quantile(sample, (np.arange(size) + 0.5) / size)
               for sample, _ in pairs]
    n, estimates = np.array([float(n_images)]), np.array([estimate for _, estimate in pairs])
    centre = _expit(np.mean(_logit(_add_half(estimates, n_images))))
    logits = _logit(_add_half(np.concatenate(samples), n_images))[:, None]
    low, high = _logit_bounds(np.array([centre]), logits, n, level, estimates.min(), estimates.max())
    return float(low[0]), float(high[0])


def save_replicates(path: str | Path, names: Sequence[str], replicates: np.ndarray, level: float = CI_LEVEL,
                    extra: Mapping[str, np.ndarray] | None = None) -> None:
    """``bootstrap.npz``: replicates (float32, resamples x metrics: 2-D, (0, 0) for none), metric names, method,
    level, ``extra`` members (:mod:`iadbench.stats.jackknife`)."""
    def write(temporary: Path) -> None:
        with open(temporary, "wb") as handle:
            np.savez(handle, replicates=np.asarray(replicates, dtype=np.float32), metrics=np.asarray(list(names), dtype=str),
                     method=np.asarray(CI_METHOD), level=np.asarray(level), **(extra or {}))
    atomic_write(path, write)


def load_replicates(path: str | Path) -> dict[str, np.ndarray]:
    """Metric name -> its replicates (float32) from a ``bootstrap.npz`` (empty for a failed job)."""
    with np.load(path, allow_pickle=False) as data:
        replicates = data["replicates"]  # read once: each access of an npz member reads and parses it again
        return {str(name): replicates[:, index] for index, name in enumerate(data["metrics"])}


# Curves of many resamples at once

def _descending_cumsum(histograms: np.ndarray) -> np.ndarray:
    """Counts per bin (ascending thresholds) -> counts at or above each threshold, highest first."""
    return np.cumsum(histograms[:, ::-1], axis=1)


def _curve_metrics(tp: np.ndarray, fp: np.ndarray, binned: bool = False):
    """AUROC, AP, F1-max per row of cumulative TP / FP counts (thresholds decreasing, the last taking every
    sample), as :mod:`iadbench.metrics.measures` defines them; repeated points (empty bins) change nothing. ``binned``:
    AP takes each bin's mean precision, its samples evenly interleaved (Davis & Goadrich 2006): ~10x closer
    to the exact AP than the precision at the bin's end."""
    n_pos, n_neg = tp[:, -1], fp[:, -1]
    zero = np.zeros((tp.shape[0], 1))
    tp0, fp0 = np.concatenate([zero, tp], axis=1), np.concatenate([zero, fp], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auroc = np.sum(np.diff(fp0, axis=1) * (tp0[:, 1:] + tp0[:, :-1]), axis=1) / (2 * n_pos * n_neg)
        precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=tp + fp > 0)
        if binned:  # mean precision over the bin: r + (tp_start - n_start r) ln(n_end / n_start) / dn
            d_tp, start, d_n = np.diff(tp0, axis=1), (tp0 + fp0)[:, :-1], np.diff(tp0 + fp0, axis=1)
            ratio = np.divide(d_tp, d_n, out=np.zeros_like(d_tp), where=d_n > 0)
            log_term = np.log((start + d_n) / start) / d_n
            precision = np.where((start > 0) & (d_n > 0), ratio + (tp0[:, :-1] - start * ratio) * log_term, ratio)
        ap = np.sum(np.diff(tp0, axis=1) * precision, axis=1) / n_pos
        f1_max = np.max(2 * tp / (tp + fp + n_pos[:, None]), axis=1)
    auroc[(n_pos == 0) | (n_neg == 0)] = np.nan
    ap[n_pos == 0], f1_max[n_pos == 0] = np.nan, np.nan
    return auroc, ap, f1_max


def _normalised_area(fpr: np.ndarray, pro: np.ndarray, limit: float) -> np.ndarray:
    """Trapezoid area under each row's (fpr, pro) curve from (0, 0) up to ``limit``, the segment crossing
    it cut by linear interpolation, divided by ``limit`` (as :func:`iadbench.metrics.measures.au_pro`)."""
    zero = np.zeros((fpr.shape[0], 1))
    x0, y0 = np.concatenate([zero, fpr[:, :-1]], axis=1), np.concatenate([zero, pro[:, :-1]], axis=1)
    x1 = np.minimum(fpr, limit)
    with np.errstate(invalid="ignore", divide="ignore"):
        y1 = np.where(fpr <= limit, pro, y0 + (pro - y0) * (limit - x0) / (fpr - x0))
    area = np.where(x0 < limit, 0.5 * (y0 + y1) * (x1 - x0), 0.0)
    return np.sum(area, axis=1) / limit


def image_replicates(scores, labels, counts: np.ndarray, remaximise: bool = False) -> np.ndarray:
    """(resamples, 3) image AUROC, AP and F1 of each row of ``counts``, exact (tied images enter together). F1 at
    F1-max's threshold on all images (``remaximise``: F1-max itself): to first order F1-max varies as the F1 at its
    maximising threshold (envelope theorem); the re-maximised bootstrap is too narrow (docs/statistics.md)."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    positive = np.asarray(labels).reshape(-1) > 0
    _, group = np.unique(-scores, return_inverse=True)  # group 0 holds the highest score
    order = np.argsort(group, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(group[order]) > 0])
    def curves(block):
        block = block.astype(np.float64)[:, order]
        return tuple(np.cumsum(np.add.reduceat(block * side, starts, axis=1), axis=1)
                     for side in (positive[order], ~positive[order]))

    tp, fp = curves(np.ones((1, scores.size)))
    with np.errstate(invalid="ignore", divide="ignore"):
        cut = int(np.argmax(np.nan_to_num(2 * tp[0] / (tp[0] + fp[0] + tp[0, -1]))))  # F1-max's threshold
    out = np.empty((counts.shape[0], 3))
    for start in range(0, counts.shape[0], _BLOCK):
        tp, fp = curves(counts[start:start + _BLOCK])
        auroc, ap, f1_max = _curve_metrics(tp, fp)
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = f1_max if remaximise else 2 * tp[:, cut] / (tp[:, cut] + fp[:, cut] + tp[:, -1])
        f1[tp[:, -1] == 0] = np.nan
        out[start:start + _BLOCK] = np.stack([auroc, ap, f1], axis=1)
    return out


@dataclass
class PixelStatistics:
    """Per-image sufficient statistics of the pixel metrics on one grid of thresholds (ascending; the
    lowest bin also takes every score below the grid)."""

    thresholds: np.ndarray      # (K,)
    positives: np.ndarray       # (images, K) anomalous pixels per bin
    negatives: np.ndarray       # (images, K) defect-free pixels per bin
    region_overlap: np.ndarray  # (regions, K) fraction of the region's pixels per bin
    region_image: np.ndarray    # (regions,) the image each region lies in
    fpr_limits: tuple[float, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return ("pixel_AUROC", "pixel_AP", *(f"pixel_AUPRO_{round(limit * 100):02d}" for limit in self.fpr_limits))


def pixel_statistics(maps, masks, fpr_limits: Sequence[float] = (0.3,), n_thresholds: int = N_THRESHOLDS):
    """Reduce maps and masks (a stack or lists, as :func:`iadbench.metrics.measures.pixel_metrics` takes them) to
    :class:`PixelStatistics`: two passes over the pixels, memory (images + regions) x grid."""
    maps, masks = _maps_and_masks(maps, masks)  # pixel_metrics' own checks and input forms
    truths = [mask.reshape(-1) if mask.dtype == bool else mask.reshape(-1) > 0 for mask in masks]
    n_pos = sum(int(np.count_nonzero(truth)) for truth in truths)
    n_neg = sum(truth.size for truth in truths) - n_pos
    neg_step, pos_step = max(1, n_neg // _GRID_SAMPLE), max(1, n_pos // _GRID_SAMPLE)
    negative_sample, positive_sample = [], []
    for one_map, truth in zip(maps, truths, strict=True):
        flat = one_map.reshape(-1)
        negative_sample.append(flat[::neg_step][~truth[::neg_step]])
        positive_sample.append(flat[truth][::pos_step])
    limits = tuple(float(limit) for limit in fpr_limits)
    negative, positive = np.concatenate(negative_sample), np.concatenate(positive_sample)
    quarter, grid = n_thresholds // 4, [np.zeros(0)]
    if negative.size:  # AU-PRO lives in the top `limit` share of the defect-free scores: denser there
        grid.append(np.quantile(negative, np.concatenate([np.linspace(0, 1, quarter)] + [  # one call: one partition
            np.linspace(1 - limit, 1, max(quarter // len(limits), 2)) for limit in limits])))
    if positive.size:
        grid.append(np.quantile(positive, np.linspace(0, 1, n_thresholds - sum(part.size for part in grid))))
    grid = np.unique(np.concatenate(grid))
    k = grid.size
    positives, negatives = np.zeros((len(maps), k)), np.zeros((len(maps), k))
    overlaps, region_image = [np.zeros((0, k))], [np.zeros(0, dtype=np.intp)]
    for index, (one_map, mask, truth) in enumerate(zip(maps, masks, truths, strict=True)):
        bins = np.maximum(np.searchsorted(grid, one_map.reshape(-1), side="right") - 1, 0)
        positives[index] = np.bincount(bins[truth], minlength=k)
        negatives[index] = np.bincount(bins, minlength=k) - positives[index]
        if truth.any():
            regions, n_regions = ndimage.label(np.asarray(mask) > 0, structure=_EIGHT_CONNECTED)
            region_of = regions.reshape(-1)[truth].astype(np.int64) - 1
            counts = np.bincount(region_of * k + bins[truth], minlength=n_regions * k).reshape(n_regions, k)
            overlaps.append(counts / counts.sum(axis=1, keepdims=True))
            region_image.append(np.full(n_regions, index, dtype=np.intp))
    return PixelStatistics(grid, positives, negatives, np.concatenate(overlaps), np.concatenate(region_image), limits)


def pixel_replicates(statistics: PixelStatistics, counts: np.ndarray) -> np.ndarray:
    """(resamples, 2 + limits): pixel AUROC, AP and AU-PRO at each limit (``statistics.names``) of each row
    of ``counts``, on the grid (see the module's notes on the approximation)."""
    out = np.empty((counts.shape[0], len(statistics.names)))
    has_regions = statistics.region_image.size > 0
    for start in range(0, counts.shape[0], _BLOCK):
        block = counts[start:start + _BLOCK].astype(np.float64)
        tp = _descending_cumsum(block @ statistics.positives)
        fp = _descending_cumsum(block @ statistics.negatives)
        auroc, ap, _ = _curve_metrics(tp, fp, binned=True)
        out[start:start + _BLOCK, 0], out[start:start + _BLOCK, 1] = auroc, ap
        if not has_regions:
            out[start:start + _BLOCK, 2:] = np.nan
            continue
        weights = block[:, statistics.region_image]
        with np.errstate(invalid="ignore", divide="ignore"):
            pro = np.minimum(_descending_cumsum(weights @ statistics.region_overlap)
                             / weights.sum(axis=1, keepdims=True), 1.0)
            fpr = fp / fp[:, -1:]
        for column, limit in enumerate(statistics.fpr_limits, start=2):
            out[start:start + _BLOCK, column] = _normalised_area(fpr, pro, limit)
    return out


# One job

def interval_columns(names: Sequence[str], replicates: np.ndarray, estimates: Mapping[str, float],
                     n_images: Mapping[str, int], level: float = CI_LEVEL) -> dict[str, object]:
    """The row's ``<metric>_ci_low`` / ``_ci_high`` (``CI_METRICS`` present in ``names``: :func:`logit_interval`
    around ``estimates[name]`` over ``n_images[name]`` test images), ``ci_method``, ``ci_resamples``,
    ``ci_level``."""
    row: dict[str, object] = {"ci_method": CI_METHOD, "ci_resamples": int(replicates.shape[0]), "ci_level": level}
    for index, name in enumerate(names):
        if name in CI_METRICS:
            low, high = logit_interval(replicates[:, index:index + 1], [estimates.get(name, np.nan)],
                                       [n_images.get(name, 0)], level)
            row[f"{name}_ci_low"], row[f"{name}_ci_high"] = float(low[0]), float(high[0])
    return row
