"""The far tail of the pixel metrics' paired jackknife test, where a table's gate reads it (iadbench.stats).

A report table marks a cell only when some one-sided p passes Bonferroni over the table's 3,150 ordered pairs
(15 models x 15 categories: p < 0.05 / 3150 = 1.6e-5 at the full level). Whether the test of one pair is
valid there cannot be seen in the few thousand pairs of ``significance_power.py``'s calibration. This script
draws test sets as that benchmark does (40 + 80 images, ``--size``^2 maps, one square defect per defective
image, shared latents; every model at AUROC 0.97), scores ``--models`` equal models on each, and runs the
report's pixel test (:func:`iadbench.stats.paired.jackknife_z` on :func:`iadbench.stats.paired.jackknife_df`
degrees of freedom, from :func:`iadbench.stats.jackknife.pixel_jackknife` values) on *every* pair of them, both
directions: each pair of equal models is a null test, and the share of one-sided p below c, over c, is the
test's tail ratio at c (1: exact; below 1: conservative). Pairs of one test set share models, so counts come in
clusters: read the ratios to within a factor ~1.5.

    nice python benchmarks/pixel_test_tail.py                 # 2 x 280 test sets x 40 models: ~7 min on 2 cores
    nice python benchmarks/pixel_test_tail.py --test-sets 20  # a quick look

Prints per metric the z spread and, per rule for reading z, the count and ratio at c = 1e-3, 1e-4 and the
gate's 1.6e-5: the report's rule (Student's t on the Satterthwaite df), the normal, t on n - 2.
"""

from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy import special

sys.path.insert(0, str(Path(__file__).parent))
import significance_power as paper  # the same test sets and maps

from iadbench.metrics import measures as metrics
from iadbench.stats import jackknife, uncertainty

METRICS = ("pixel_AUROC", "pixel_AP", "pixel_AUPRO_30")
LEVELS = (1e-3, 1e-4, 0.05 / 3150)


def all_pairs(values: np.ndarray, left_out: np.ndarray, strata: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """z and df of every pair i < j of models (``values`` per model, ``left_out`` models x images): the paired
    jackknife of :func:`iadbench.stats.paired.jackknife_z` and :func:`~iadbench.stats.paired.jackknife_df`, for all
    pairs at once (the centred left-out differences are the differences of the centred left-out values)."""
    centred, weights = left_out.astype(np.float64), np.empty(left_out.shape[1])
    for stratum in (strata, ~strata):
        centred[:, stratum] -= centred[:, stratum].mean(axis=1, keepdims=True)
        weights[stratum] = (stratum.sum() - 1) / stratum.sum()
    terms = weights * (centred[:, None, :] - centred[None, :, :]) ** 2
    variance, squares, n = terms.sum(-1), (terms ** 2).sum(-1), terms.shape[-1]
    spread = squares - variance ** 2 / n
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(spread > 1e-300, np.clip(2 * variance ** 2 / spread, 1, n - 2), n - 2)
        z = (values[:, None] - values[None, :]) / np.sqrt(variance)
    upper = np.triu_indices(len(values), 1)
    return z[upper], df[upper]


def test_sets(seed: int, count: int, models: int, size: int, thresholds: int) -> dict[str, np.ndarray]:
    """Per metric, (pairs, 2): z and df of every pair of ``models`` equal models on each of ``count`` test sets."""
    rng = np.random.default_rng(seed)
    found: dict[str, list[np.ndarray]] = {metric: [] for metric in METRICS}
    separation, noise = paper.separation(paper.BEST), np.sqrt(1 - paper.RHO ** 2)
    for _ in range(count):
        labels, paths, masks, _, pixel_latent = paper.category_data(rng, size)
        values, left_out = [], []
        for _ in range(models):
            maps = (separation * masks + paper.RHO * pixel_latent + noise * rng.normal(size=masks.shape)
                    ).astype(np.float32)
            exact = metrics.pixel_metrics(maps, masks, fpr_limits=(0.3,))
            values.append([exact[metric] for metric in METRICS])
            statistic = uncertainty.pixel_statistics(maps, masks, (0.3,), n_thresholds=thresholds)
            values_out = jackknife.pixel_jackknife(statistic, paths, labels)
            left_out.append(values_out.values[:, [values_out.names.index(metric) for metric in METRICS]])
        values_array, left_out_array = np.array(values), np.stack(left_out)
        for index, metric in enumerate(METRICS):
            z, df = all_pairs(values_array[:, index], left_out_array[:, :, index], values_out.strata)
            found[metric].append(np.stack([z, df], axis=1))
    return {metric: np.concatenate(arrays) for metric, arrays in found.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--test-sets", type=int, default=280, help="test sets per worker (default 280)")
    parser.add_argument("--models", type=int, default=40, help="equal models per test set (default 40)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 12], help="one worker process per seed")
    parser.add_argument("--size", type=int, default=24)
    parser.add_argument("--thresholds", type=int, default=512)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    with ProcessPoolExecutor(len(args.seeds)) as pool:
        parts = list(pool.map(test_sets, args.seeds, [args.test_sets] * len(args.seeds),
                              [args.models] * len(args.seeds), [args.size] * len(args.seeds),
                              [args.thresholds] * len(args.seeds)))
    for metric in METRICS:
        pairs = np.concatenate([part[metric] for part in parts])
        pairs = pairs[np.isfinite(pairs[:, 0])]
        z, df = np.concatenate([pairs[:, 0], -pairs[:, 0]]), np.concatenate([pairs[:, 1], pairs[:, 1]])
        print(f"{metric}: {z.size} one-sided tests of equal models, z sd {pairs[:, 0].std():.3f}, "
              f"median df {np.median(df):.0f}")
        rules = {"t on Satterthwaite df (the report)": special.stdtr(df, -z), "normal": special.ndtr(-z),
                 "t on n - 2": special.stdtr(paper.N_NORMAL + paper.N_DEFECTIVE - 2, -z)}
        for rule, p in rules.items():
            print(f"  {rule:36s}" + "".join(f"  p < {level:.1e}: {int(np.sum(p < level)):5d} "
                                              f"({np.mean(p < level) / level:.2f}x)" for level in LEVELS))
    print(f"elapsed {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
