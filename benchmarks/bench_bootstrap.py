"""Time the bootstrap intervals of one category (iadbench.stats.uncertainty) against one exact pixel evaluation.

Builds a native-resolution synthetic category (``bench_metrics.make_category``: smooth noisy maps, 1-3
elliptic defects on part of the images; image score = map maximum), then in the same run:

* image bootstrap: stratified resample counts + exact image AUROC / AP / F1-max of every resample;
* baseline: ``iadbench.metrics.measures.pixel_metrics`` once (the exact evaluation every job already runs);
* pixel bootstrap: per-image statistics on the threshold grid (two passes over the pixels) + pixel AUROC,
  AP, AU-PRO (0.3, 0.05) of every resample (one matmul per statistic per block of resamples).

Prints each time, the pixel bootstrap's ratio to the baseline, the statistics' memory, and the grid's
agreement with the exact metrics on the full set. Targets (110 x 1024^2, 2,000 resamples): image bootstrap
< 2 s, pixel bootstrap < 60 s. Exit status 1 when the grid disagrees by more than the tolerance (1e-3).

    python benchmarks/bench_bootstrap.py                          # 110 x 1024^2 (115 M pixels), ~3 GB RAM
    python benchmarks/bench_bootstrap.py --images 30 --size 256   # a quick look
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from bench_metrics import make_category, reset_peak_rss, rss_mb

from iadbench.metrics import measures as metrics
from iadbench.stats import uncertainty

FPR_LIMITS = (0.3, 0.05)
IMAGE_TARGET_S, PIXEL_TARGET_S = 2.0, 60.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=110, help="test images (default 110, an MVTec category)")
    parser.add_argument("--size", type=int, default=1024, help="square map side (default 1024, native MVTec)")
    parser.add_argument("--anomalous-fraction", type=float, default=0.65, help="share of defective images")
    parser.add_argument("--resamples", type=int, default=uncertainty.N_RESAMPLES)
    parser.add_argument("--thresholds", type=int, default=uncertainty.N_THRESHOLDS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tolerance", type=float, default=1e-3, help="largest accepted grid-vs-exact difference")
    args = parser.parse_args(argv)

    maps, masks = make_category(args.images, args.size, args.size, args.anomalous_fraction, args.seed)
    labels = masks.any(axis=(1, 2))
    scores = maps.max(axis=(1, 2)).astype(np.float64)
    paths = np.array([f"test/{'defect' if label else 'good'}/{index:03d}.png" for index, label in enumerate(labels)])
    print(f"category: {args.images} images x {args.size}^2 = {maps.size:,} pixels, {labels.sum()} anomalous "
          f"images, {masks.mean():.2%} anomalous pixels; {args.resamples} resamples, {args.thresholds} thresholds")

    start = time.perf_counter()
    counts = uncertainty.resample_counts(labels, args.resamples, args.seed, keys=paths)
    image = uncertainty.image_replicates(scores, labels, counts)
    image_seconds = time.perf_counter() - start

    reset_peak_rss()
    data_mb = rss_mb("VmRSS")
    start = time.perf_counter()
    exact = metrics.pixel_metrics(maps, masks, fpr_limits=FPR_LIMITS)
    baseline_seconds = time.perf_counter() - start

    reset_peak_rss()
    start = time.perf_counter()
    statistics = uncertainty.pixel_statistics(maps, masks, FPR_LIMITS, n_thresholds=args.thresholds)
    statistics_seconds = time.perf_counter() - start
    start = time.perf_counter()
    pixel = uncertainty.pixel_replicates(statistics, counts)
    resample_seconds = time.perf_counter() - start
    pixel_seconds = statistics_seconds + resample_seconds
    statistics_mb = sum(array.nbytes for array in (statistics.positives, statistics.negatives,
                                                   statistics.region_overlap)) / 2**20

    def verdict(seconds: float, target: float) -> str:
        return "OK" if seconds < target else "MISSED"

    print(f"image bootstrap (counts + {args.resamples} resamples): {image_seconds:8.3f} s  "
          f"(target < {IMAGE_TARGET_S:g} s) {verdict(image_seconds, IMAGE_TARGET_S)}")
    print(f"baseline: metrics.pixel_metrics once:                 {baseline_seconds:8.2f} s")
    print(f"pixel bootstrap: statistics {statistics_seconds:.2f} s + resamples {resample_seconds:.2f} s = "
          f"{pixel_seconds:8.2f} s  (target < {PIXEL_TARGET_S:g} s) {verdict(pixel_seconds, PIXEL_TARGET_S)}")
    print(f"ratio pixel bootstrap / baseline: {pixel_seconds / baseline_seconds:.2f}x")
    print(f"per-image statistics: {statistics.thresholds.size} thresholds x ({args.images} images x 2 + "
          f"{statistics.region_image.size} regions) = {statistics_mb:.1f} MB; peak RSS during the pixel bootstrap "
          f"{rss_mb('VmHWM') - data_mb:,.0f} MB over the {data_mb:,.0f} MB of data")

    full = dict(zip(statistics.names, uncertainty.pixel_replicates(statistics, np.ones((1, args.images)))[0],
                    strict=True))
    low, high = uncertainty.percentile_interval(np.concatenate([image, pixel], axis=1))
    names = ["image_AUROC", "image_AP", "image_F1_max", *statistics.names]
    estimates = {**metrics.image_metrics(scores, labels), **exact}
    print(f"  {'metric':16s} {'exact':>10s} {'grid (full)':>12s} {'|diff|':>9s}   95 % interval")
    largest = 0.0
    for index, name in enumerate(names):
        grid = full.get(name, estimates[name])
        difference = abs(grid - estimates[name])
        largest = max(largest, difference if name in full else 0.0)
        print(f"  {name:16s} {estimates[name]:10.6f} {grid:12.6f} {difference:9.1e}   "
              f"[{low[index]:.4f}, {high[index]:.4f}]")
    status = "OK" if largest <= args.tolerance else "FAIL"
    print(f"largest grid-vs-exact difference: {largest:.1e} (tolerance {args.tolerance:.0e}) {status}")
    return 0 if status == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
