"""Time iadbench's one-sort pixel evaluation against scikit-learn and the official PRO algorithm.

Builds one synthetic category (smooth noisy maps, elliptic defects on part of the images), then in the
same run:

* one pass: ``iadbench.metrics.measures.pixel_metrics`` (AUROC, AP, F1-max, AU-PRO at 0.3 and 0.05, one sort);
* reference: ``sklearn.metrics.roc_auc_score`` + ``average_precision_score`` + a straightforward
  re-implementation of the official MVTec AD PRO code (``reference_pro`` in tests/metrics_oracles.py, one
  argsort of float64 scores and full-size change arrays) integrated by the official ``trapezoid``.

Prints both timings, the speed ratio, every metric with its absolute difference, and peak RSS (Linux).
Exit status 1 when a difference exceeds the tolerance. Targets: >= 5x faster, differences <= 1e-6.

    python benchmarks/bench_metrics.py                              # 40 x 256^2 (2.6 M pixels), < 1 min
    python benchmarks/bench_metrics.py --images 150 --size 256      # a category at model resolution
    python benchmarks/bench_metrics.py --images 150 --size 1024     # native resolution, ~157 M pixels;
                                                                    # the reference needs ~20 GB of RAM
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from iadbench.metrics import measures as metrics
from iadbench.metrics.maps import resize_maps_to

# The oracle lives with the tests (no pipeline path runs it); this script reaches it from the repository.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from metrics_oracles import reference_pro, reference_trapezoid

FPR_LIMITS = (0.3, 0.05)


def make_category(n_images: int, height: int, width: int, anomalous_fraction: float, seed: int):
    """float32 maps: low-frequency noise upsampled bilinearly plus pixel noise (so nearly every score is
    distinct, like a real upsampled map), raised inside 1-3 random ellipses on the anomalous images."""
    rng = np.random.default_rng(seed)
    maps = np.empty((n_images, height, width), dtype=np.float32)
    masks = np.zeros((n_images, height, width), dtype=bool)
    rows, cols = np.ogrid[:height, :width]
    coarse = (max(height // 32, 2), max(width // 32, 2))
    for index in range(n_images):
        low = resize_maps_to(rng.standard_normal(coarse, dtype=np.float32), (height, width))
        maps[index] = low + 0.3 * rng.standard_normal((height, width), dtype=np.float32)
        if rng.random() < anomalous_fraction:
            for _ in range(rng.integers(1, 4)):
                centre = rng.random(2) * (height, width)
                radii = np.maximum(rng.uniform(0.01, 0.12, 2) * (height, width), 1.0)
                masks[index] |= ((rows - centre[0]) / radii[0]) ** 2 + ((cols - centre[1]) / radii[1]) ** 2 <= 1
            maps[index][masks[index]] += np.float32(rng.uniform(0.5, 2.5))
    return maps, masks


def rss_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process in MB, from /proc (NaN elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so the next peak is the next step's own."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def reference_metrics(maps: np.ndarray, masks: np.ndarray) -> tuple[dict[str, float], dict[str, float]]:
    truth, scores = masks.ravel(), maps.ravel()
    times, values = {}, {}
    start = time.perf_counter()
    values["pixel_AUROC"] = float(roc_auc_score(truth, scores))
    times["sklearn roc_auc_score"] = time.perf_counter() - start
    start = time.perf_counter()
    values["pixel_AP"] = float(average_precision_score(truth, scores))
    times["sklearn average_precision_score"] = time.perf_counter() - start
    start = time.perf_counter()
    fpr, pro = reference_pro(maps, masks)
    for limit in FPR_LIMITS:
        values[f"pixel_AUPRO_{round(limit * 100):02d}"] = reference_trapezoid(fpr, pro, limit) / limit
    times["official PRO algorithm"] = time.perf_counter() - start
    return values, times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=40, help="images in the category (default 40)")
    parser.add_argument("--size", type=int, default=256, help="square map side in pixels (default 256)")
    parser.add_argument("--height", type=int, help="map height, overrides --size")
    parser.add_argument("--width", type=int, help="map width, overrides --size")
    parser.add_argument("--anomalous-fraction", type=float, default=0.5, help="share of defective images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-reference", action="store_true",
                        help="time only the one-pass evaluation (e.g. to measure its memory at full size)")
    parser.add_argument("--tolerance", type=float, default=1e-6, help="largest accepted absolute difference")
    args = parser.parse_args(argv)
    height, width = args.height or args.size, args.width or args.size

    maps, masks = make_category(args.images, height, width, args.anomalous_fraction, args.seed)
    n_pixels = maps.size
    print(f"category: {args.images} images x {height} x {width} = {n_pixels:,} pixels, float32 maps, "
          f"{masks.any(axis=(1, 2)).sum()} anomalous images, {masks.mean():.2%} anomalous pixels")
    data_mb = rss_mb("VmRSS")
    peak_resettable = reset_peak_rss()

    start = time.perf_counter()
    one_pass = metrics.pixel_metrics(maps, masks, fpr_limits=FPR_LIMITS)
    one_pass_seconds = time.perf_counter() - start
    one_pass_peak = rss_mb("VmHWM")
    print(f"one pass (iadbench.metrics.measures.pixel_metrics): {one_pass_seconds:8.2f} s")
    peak_note = "" if peak_resettable else " (peak not resettable here: includes data generation)"
    print(f"peak RSS during one pass: {one_pass_peak:,.0f} MB, {one_pass_peak - data_mb:,.0f} MB over the "
          f"{data_mb:,.0f} MB of data and interpreter{peak_note}; {(one_pass_peak - data_mb) * 2**20 / n_pixels:.1f}"
          " bytes per pixel")
    if args.skip_reference:
        for key, value in one_pass.items():
            print(f"  {key:16s} {value:.12f}")
        return 0

    reset_peak_rss()
    reference, times = reference_metrics(maps, masks)
    reference_seconds = sum(times.values())
    for name, seconds in times.items():
        print(f"reference: {name:36s} {seconds:8.2f} s")
    print(f"reference total: {reference_seconds:8.2f} s; peak RSS during reference: {rss_mb('VmHWM'):,.0f} MB")
    print(f"speed ratio (reference / one pass): {reference_seconds / one_pass_seconds:.1f}x  (target >= 5x)")

    print(f"  {'metric':16s} {'one pass':>16s} {'reference':>16s} {'|difference|':>13s}")
    largest = 0.0
    for key, value in reference.items():
        difference = abs(one_pass[key] - value)
        largest = max(largest, difference)
        print(f"  {key:16s} {one_pass[key]:16.12f} {value:16.12f} {difference:13.2e}")
    print(f"  pixel_F1_max     {one_pass['pixel_F1_max']:16.12f}  (no scikit-learn counterpart; see the tests)")
    verdict = "OK" if largest <= args.tolerance else "FAIL"
    print(f"largest absolute difference: {largest:.2e}  (tolerance {args.tolerance:.0e}) {verdict}")
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
