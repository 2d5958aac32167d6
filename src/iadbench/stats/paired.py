"""Paired comparisons of two models on the same test images: DeLong's test, the jackknife F1-max test, the paired
bootstrap; Benjamini-Hochberg's correction."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy import special

from iadbench.stats.uncertainty import (
    CI_LEVEL,
    N_RESAMPLES,
    image_replicates,
    percentile_interval,
    resample_counts,
)


def _delong_components(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs of the rows of ``scores`` and their DeLong covariance, via midranks (Sun & Xu 2014): O(n log n)."""
    x, y = scores[:, positive], scores[:, ~positive]
    m, n = x.shape[1], y.shape[1]
    from scipy.stats import rankdata  # here: scipy.stats costs every evaluation job's process 0.4 s to import

    tx, ty = rankdata(x, axis=1), rankdata(y, axis=1)
    tz = rankdata(np.concatenate([x, y], axis=1), axis=1)
    aucs = tz[:, :m].sum(axis=1) / (m * n) - (m + 1) / (2 * n)
    v01 = (tz[:, :m] - tx) / n       # each anomalous image: share of normal ones scored below it
    v10 = 1 - (tz[:, m:] - ty) / m   # each normal image: share of anomalous ones scored above it
    with np.errstate(invalid="ignore", divide="ignore"):
        covariance = np.atleast_2d(np.cov(v01)) / m + np.atleast_2d(np.cov(v10)) / n
    return aucs, covariance


def delong_test(scores_a, scores_b, labels) -> tuple[float, float, float, float]:
    """DeLong's test of two correlated AUROCs on the same images: ``(auc_a, auc_b, z, p)``, p two-sided.

    Needs two anomalous and two defect-free images (else z and p are NaN). Equal AUCs with zero
    variance (e.g. the same ranking) give z = 0, p = 1.
    """
    positive = np.asarray(labels).reshape(-1) > 0
    scores = np.stack([np.asarray(scores_a, dtype=np.float64).reshape(-1),
                       np.asarray(scores_b, dtype=np.float64).reshape(-1)])
    if min(positive.sum(), (~positive).sum()) < 2:
        return float("nan"), float("nan"), float("nan"), float("nan")
    aucs, covariance = _delong_components(scores, positive)
    difference = float(aucs[0] - aucs[1])
    variance = float(covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1])
    if variance > 1e-15:
        z = difference / np.sqrt(variance)
    else:  # both rank the images alike: no evidence either way, or a sure difference
        z = 0.0 if abs(difference) < 1e-12 else float(np.copysign(np.inf, difference))
    return float(aucs[0]), float(aucs[1]), float(z), float(2 * special.ndtr(-abs(z)))


def jackknife_f1_max_test(scores_a, scores_b, labels) -> tuple[float, float]:
    """Two F1-max on the same images: ``(z, p)``, z = the full-set difference over its jackknife standard error
    (each image left out in turn, F1-max re-maximised; the defect-free and the defective images as two strata:
    sum over strata of (n_s - 1) / n_s * sum (d_i - mean d)^2), p two-sided normal.

    Why not the bootstrap: F1-max is a maximum over thresholds, a non-smooth statistic; bootstrap standard errors
    of it came out too small in the far tail that a table's correction reads (docs/statistics.md). The jackknife
    variance needs no smoothness and is biased upward for any symmetric statistic (Efron and Stein 1981), so the
    test errs on the safe side. Needs two images of each class (else NaN); no variance: p = 1 with no difference,
    0 with one (as DeLong)."""
    positive = np.asarray(labels).reshape(-1) > 0
    if min(positive.sum(), (~positive).sum()) < 2:
        return float("nan"), float("nan")
    n = positive.size
    leave_one_out = np.ones((n, n), dtype=np.int32) - np.eye(n, dtype=np.int32)
    values = [image_replicates(scores, labels, np.vstack([np.ones((1, n), np.int32), leave_one_out]),
                               remaximise=True)[:, 2] for scores in (scores_a, scores_b)]
    z = jackknife_z(values[0][0] - values[1][0], values[0][1:] - values[1][1:], positive)
    return z, float(2 * special.ndtr(-abs(z)))


def jackknife_z(observed: float, left_out, strata) -> float:
    """A paired difference over its stratified jackknife standard error: ``left_out`` the difference with each
    image left out in turn, ``strata`` per image (defect-free / defective); variance = sum over strata of
    (n_s - 1) / n_s * sum (d_i - mean d)^2. NaN when a stratum has fewer than two images or a left-out difference
    or ``observed`` is not finite; no variance: 0 with no difference, +/-inf with one (as DeLong)."""
    terms = _jackknife_terms(left_out, strata)
    if terms is None or not np.isfinite(observed):
        return float("nan")
    variance = float(terms.sum())
    if variance > 1e-24:
        return float(observed / np.sqrt(variance))
    return 0.0 if abs(observed) < 1e-12 else float(np.copysign(np.inf, observed))


def studentized_z(differences, observed: float) -> float:
    """z of a paired difference from bootstrap replicates of it: the observed (full test set) difference over the
    replicates' standard deviation. NaN with fewer than two finite replicates; no spread: 0 with no difference,
    +/-inf with one (as DeLong)."""
    values = np.asarray(differences, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size < 2 or not np.isfinite(observed):
        return float("nan")
    spread = float(np.std(values, ddof=1))
    if spread > 1e-12:
        return float(observed / spread)
    return 0.0 if abs(observed) < 1e-12 else float(np.copysign(np.inf, observed))


def studentized_p(differences, observed: float) -> float:
    """Two-sided p of "no difference" from paired bootstrap replicates of a difference: :func:`studentized_z`
    read on the normal distribution.

    Unlike a count of replicates on either side of 0, this p is not floored at ~2 / B, so it can pass a
    correction over hundreds of comparisons. No spread: p = 1 with no difference, 0 with one (as DeLong).
    """
    z = studentized_z(differences, observed)
    return float("nan") if np.isnan(z) else float(2 * special.ndtr(-abs(z)))


class PairedComparison(NamedTuple):
    value_a: float
    value_b: float
    difference: float   # value_a - value_b on the full test set
    low: float          # percentile interval of the difference
    high: float
    p: float            # two-sided, :func:`studentized_p`


def paired_bootstrap(metric_fn: Callable, a, b, labels, *, n_resamples: int = N_RESAMPLES, seed: int = 0,
                     level: float = CI_LEVEL, strata=None, keys=None) -> PairedComparison:
    """Compare ``metric_fn(a, labels)`` with ``metric_fn(b, labels)`` over stratified resamples of the images,
    the same indices for both models.

    ``a``, ``b``, ``labels`` are indexed by image on axis 0 (image scores and labels, or maps and masks);
    strata: ``strata`` or else ``labels > 0`` per image (any anomalous pixel for masks).
    """
    a, b, labels = np.asarray(a), np.asarray(b), np.asarray(labels)
    if strata is None:
        strata = (labels.reshape(labels.shape[0], -1) > 0).any(axis=1)
    counts = resample_counts(strata, n_resamples, seed, keys)
    differences = np.empty(n_resamples)
    for row, multiplicity in enumerate(counts):
        index = np.repeat(np.arange(labels.shape[0]), multiplicity)
        differences[row] = metric_fn(a[index], labels[index]) - metric_fn(b[index], labels[index])
    value_a, value_b = float(metric_fn(a, labels)), float(metric_fn(b, labels))
    low, high = percentile_interval(differences, level)
    return PairedComparison(value_a, value_b, value_a - value_b, float(low[0]), float(high[0]),
                            studentized_p(differences, value_a - value_b))


def benjamini_hochberg(p_values, family: int | None = None) -> np.ndarray:
    """Benjamini-Hochberg step-up adjusted p-values (q-values: min over s >= r of m p_(s) / s, capped at 1), in
    the input order; NaN stays NaN and does not count as a test. Rejecting q < alpha keeps the false discovery
    rate at alpha for independent or positively dependent p-values, and with no true difference at all it is
    Simes' test: any rejection with probability at most alpha. ``family``: m, when hypotheses beyond the finite
    p-values belong to the family (as if their p were 1; default: just the finite ones)."""
    p = np.asarray(p_values, dtype=np.float64).reshape(-1)
    adjusted = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = max(order.size, family or 0)
    scaled = m * p[order] / np.arange(1, order.size + 1)
    adjusted[order] = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    return adjusted


def _jackknife_terms(left_out, strata) -> np.ndarray | None:
    """Each image's term of the stratified jackknife variance, (n_s - 1) / n_s (d_i - mean d)^2; None when a
    stratum has fewer than two images or a value is not finite."""
    left_out, strata = np.asarray(left_out, dtype=np.float64), np.asarray(strata, dtype=bool)
    parts = [left_out[strata], left_out[~strata]]
    if min(part.size for part in parts) < 2 or not np.isfinite(left_out).all():
        return None
    return np.concatenate([(part.size - 1) / part.size * (part - part.mean()) ** 2 for part in parts])


def jackknife_df(left_out, strata) -> float:
    """Degrees of freedom of the jackknife variance of :func:`jackknife_z` (Satterthwaite: 2 V^2 / Var(V), Var(V)
    estimated from the spread of the images' terms u_i of V = sum u_i): 2 (sum u)^2 / (sum u^2 - (sum u)^2 / n),
    at most n - 2, at least 1. n - 2 when the terms are alike as for normal data (n images); far fewer when a few
    images carry the variance, as the pixel metrics' large defects do: their z then has Student's heavier tails
    (docs/statistics.md). NaN where :func:`jackknife_z` is."""
    terms = _jackknife_terms(left_out, strata)
    if terms is None:
        return float("nan")
    total, squares, n = float(terms.sum()), float(np.sum(terms ** 2)), terms.size
    spread = squares - total ** 2 / n
    return float(np.clip(2 * total ** 2 / spread, 1, n - 2)) if spread > 1e-300 else float(max(n - 2, 1))
