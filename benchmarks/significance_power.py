"""Power, false alarms and interval coverage of the report's marks at paper scale (iadbench.stats).

Simulates report tables of 15 models x 15 categories (210 comparisons per dataset x metric table), each category a
test set of MVTec size (40 defect-free + 80 defective images; pixel maps of ``--size``^2 with one square defect per
defective image), and runs the report's own tests on them (:func:`iadbench.stats.significance.test_table`: DeLong
for image AUROC, the jackknife for image F1-max, the studentized paired bootstrap for image AP, the paired jackknife
on Satterthwaite df for pixel AUROC, AP and AU-PRO@0.3, from the leave-one-image-out values evaluation saves; one-sided,
times the column's comparisons, Bonferroni-gated Benjamini-Hochberg over the table):

* power tables: 8 models at AUROC 0.97 (image scores and pixel maps alike), 7 at 0.97 - gap (0.77): P = share of
  the worse models' cells marked worse (not ‡), the *minimum* over the six metrics; beside it the share of good
  models among the cells marked worse (the false discovery proportion);
* null tables: all 15 models at 0.97: F = share of tables with any cell marked worse, the *maximum* over metrics;
  beside it the calibration of each metric's test on fixed pairs of equal models (z sd, tail shares, KS);
* coverage: C = share of simulated test sets (40 + 80 images, binormal AUROC 0.97) whose 95 % logit interval
  (:func:`iadbench.stats.uncertainty.logit_interval`) holds 0.97; the percentile interval's printed beside it.

Models share a per-image (and per-pixel) latent difficulty, as real models on the same images do (correlation
``RHO``). Scores are binormal: a model of AUROC a separates the classes by sqrt(2) Phi^-1(a) standard deviations.
The bootstrap uses ``--resamples`` (the p uses only the replicates' standard deviation, which 500 resamples
estimate within ~3 %) and ``--thresholds`` grid points for the small maps, and one BLAS thread, to stay in
budget on 2 cores. The null tables (all 60 with pixel maps by default) skip the one thing their decision does not
read: the pixel metrics' bootstrap replicates (NaN columns of the same shape; with the jackknife values present,
``test_table`` tests the pixel metrics by the jackknife and reads only that the replicates exist). Everything
else goes through the report's code as evaluation writes it (``JobEvidence``: scores, image replicates, exact
rows, ``pixel_jackknife``). The null tables run in ``--workers`` processes (default 2), each on its own random
stream (``SeedSequence([seed, 1]).spawn``), so the result does not depend on the number of workers.

    nice python benchmarks/significance_power.py            # last line: power=<P> false_alarm=<F> coverage=<C>
    nice python benchmarks/significance_power.py --curve     # plus power per gap 0.02 ... 0.25 (image metrics)

Targets: P >= 0.9, F <= 0.05, C >= 0.93, under 10 minutes on 2 cores.
"""

from __future__ import annotations

import os

# One BLAS thread: the pixel replicates' small matmuls ran 4.5x slower with a thread pool on 2 shared cores.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
from scipy import special, stats

from iadbench.metrics import measures as metrics
from iadbench.stats import jackknife, paired, significance, uncertainty
from iadbench.stats.evidence import JobEvidence

N_MODELS, N_CATEGORIES, N_NORMAL, N_DEFECTIVE = 15, 15, 40, 80
BEST, GAP, RHO = 0.97, 0.20, 0.5
IMAGE_METRICS = ("image_AUROC", "image_AP", "image_F1_max")
PIXEL_METRICS = ("pixel_AUROC", "pixel_AP", "pixel_AUPRO_30")
CURVE_GAPS = (0.02, 0.05, 0.08, 0.10, 0.12, 0.15, 0.20, 0.25)


def separation(auroc: float) -> float:
    """Binormal, unit variances: AUROC = Phi(d / sqrt(2))."""
    return float(np.sqrt(2) * stats.norm.ppf(auroc))


def category_data(rng: np.random.Generator, size: int):
    """One test set: labels, paths, masks (one square defect per defective image) and the shared latents."""
    labels = np.r_[np.zeros(N_NORMAL, int), np.ones(N_DEFECTIVE, int)]
    paths = np.array([f"test/{'defect' if label else 'good'}/{index:03d}.png" for index, label in enumerate(labels)])
    masks = np.zeros((labels.size, size, size), dtype=bool)
    for index in np.flatnonzero(labels):
        side = int(rng.integers(max(2, size // 8), max(3, size // 3)))
        top, left = rng.integers(0, size - side, size=2)
        masks[index, top:top + side, left:left + side] = True
    return labels, paths, masks, rng.normal(size=labels.size), rng.normal(size=masks.shape)


def model_job(rng, data, auroc: float, seed: int, resamples: int, thresholds: int, pixels: bool,
              pixel_bootstrap: bool = True):
    """One evaluation job of a model of the given AUROC: its score table, replicates and row values.
    ``pixel_bootstrap`` False (null tables): the pixel metrics' bootstrap replicates are NaN columns of the same
    shape, not computed: with the jackknife values present the report's pixel test reads only that they exist."""
    labels, paths, masks, image_latent, pixel_latent = data
    d = separation(auroc)
    noise = np.sqrt(1 - RHO ** 2)
    scores = d * labels + RHO * image_latent + noise * rng.normal(size=labels.size)
    counts = uncertainty.resample_counts(labels, resamples, seed, keys=paths)
    values = metrics.image_metrics(scores, labels)
    replicates = dict(zip(IMAGE_METRICS, uncertainty.image_replicates(scores, labels, counts).T, strict=True))
    if pixels:
        maps = (d * masks + RHO * pixel_latent + noise * rng.normal(size=masks.shape)).astype(np.float32)
        exact = metrics.pixel_metrics(maps, masks, fpr_limits=(0.3,))
        values |= {"pixel_AUROC": exact["pixel_AUROC"], "pixel_AP": exact["pixel_AP"],
                   "pixel_AUPRO_30": exact["pixel_AUPRO_30"]}
        statistic = uncertainty.pixel_statistics(maps, masks, (0.3,), n_thresholds=thresholds)
        pixel = (uncertainty.pixel_replicates(statistic, counts) if pixel_bootstrap
                 else np.full((counts.shape[0], len(statistic.names)), np.nan))
        replicates |= dict(zip(statistic.names, pixel.T, strict=True))
        left_out = jackknife.pixel_jackknife(statistic, paths, labels)  # as evaluation saves it
    else:
        left_out = None
    table = pd.DataFrame({"image_path": paths, "label": labels.astype(np.int8), "image_score": scores})
    return JobEvidence(table, {name: column.astype(np.float32) for name, column in replicates.items()},
                       left_out), values


def pair_z(job_a: JobEvidence, job_b: JobEvidence, values_a: dict, values_b: dict, metric: str
           ) -> tuple[float, float]:
    """z of one fixed pair of models as the report's test for ``metric`` computes it (DeLong, jackknife or the
    studentized paired bootstrap), a - b, and the degrees of freedom of the t it is read on."""
    a, b = job_a.scores, job_b.scores
    df = float(len(a) - 2)
    if metric == "image_AUROC":
        return paired.delong_test(a["image_score"], b["image_score"], a["label"])[2], df
    if metric == "image_F1_max":
        return paired.jackknife_f1_max_test(a["image_score"], b["image_score"], a["label"])[0], df
    if metric.startswith("pixel_"):  # the paired jackknife, as the report's test
        left_out, strata = job_a.jackknife.column(metric) - job_b.jackknife.column(metric), job_a.jackknife.strata
        return (paired.jackknife_z(values_a[metric] - values_b[metric], left_out, strata),
                paired.jackknife_df(left_out, strata))
    differences = job_a.replicates[metric].astype(np.float64) - job_b.replicates[metric].astype(np.float64)
    return paired.studentized_z(differences, values_a[metric] - values_b[metric]), df


def simulate_table(rng, aurocs: list[float], args, pixels: bool,
                   calibration: dict[str, list[tuple[float, float]]] | None = None,
                   pixel_bootstrap: bool = True) -> dict[str, np.ndarray]:
    """Per metric: a (categories x models) bool array of the cells marked worse (not ‡, not the best).
    ``calibration``: also collect, per metric, the z of the fixed pairs of models (0, 1), (2, 3), ... (12, 13) of
    every category, with their t's degrees of freedom (equal models in a null table: the p should be uniform,
    whichever cell comes out best)."""
    evidence, estimates, seed = {}, {}, 0
    for category in range(N_CATEGORIES):
        data = category_data(rng, args.size)
        jobs = [model_job(rng, data, auroc, seed, args.resamples, args.thresholds, pixels, pixel_bootstrap)
                for auroc in aurocs]
        for model, (job, values) in enumerate(jobs):
            evidence["d", f"c{category}", f"m{model}", seed] = job
            estimates |= {(f"m{model}", f"c{category}", seed, metric): value for metric, value in values.items()}
        if calibration is not None:
            for metric in IMAGE_METRICS + (PIXEL_METRICS if pixels else ()):
                calibration.setdefault(metric, []).extend(
                    pair_z(jobs[first][0], jobs[first + 1][0], jobs[first][1], jobs[first + 1][1], metric)
                    for first in range(0, len(aurocs) - 1, 2))
    seeds = {(f"m{model}", f"c{category}"): [seed] for model in range(len(aurocs)) for category in range(N_CATEGORIES)}
    marked = {}
    for metric in IMAGE_METRICS + (PIXEL_METRICS if pixels else ()):
        values = {key[:3]: value for key, value in estimates.items() if key[3] == metric}
        columns = {}
        for category in range(N_CATEGORIES):
            models = [f"m{model}" for model in range(len(aurocs))]
            best = max(models, key=lambda model, category=category: values[model, f"c{category}", seed])
            columns[f"c{category}"] = (best, [model for model in models if model != best])
        tests = significance.test_table(evidence, "d", metric, columns, seeds, estimates=values)
        worse = np.zeros((N_CATEGORIES, len(aurocs)), dtype=bool)
        for (model, category), p in tests.adjusted.items():
            worse[int(category[1:]), int(model[1:])] = p < tests.alpha
        marked[metric] = worse
    return marked


def power(rng, gap: float, args, pixels: bool, tables: int,
          discoveries: dict[str, list[float]] | None = None) -> dict[str, float]:
    """Share of the worse models' cells marked worse, per metric, over ``tables`` tables (``discoveries``: also
    collect per metric and table the share of the cells marked worse that are good models: the false discovery
    proportion, whose mean the correction keeps under alpha)."""
    aurocs = [BEST] * 8 + [BEST - gap] * 7
    hits: dict[str, list[float]] = {}
    for _ in range(tables):
        for metric, worse in simulate_table(rng, aurocs, args, pixels).items():
            hits.setdefault(metric, []).append(worse[:, 8:].mean())
            if discoveries is not None:
                discoveries.setdefault(metric, []).append(worse[:, :8].sum() / max(1, worse.sum()))
    return {metric: float(np.mean(values)) for metric, values in hits.items()}


def null_table(seed: np.random.SeedSequence, args, pixels: bool) -> tuple[dict[str, bool], dict[str, list]]:
    """One null table (its own random stream): per metric whether any cell was marked worse, and the calibration
    pairs (see simulate_table). No pixel bootstrap replicates (see model_job): the decision does not read them."""
    calibration: dict[str, list[tuple[float, float]]] = {}
    marked = simulate_table(np.random.default_rng(seed), [BEST] * N_MODELS, args, pixels, calibration,
                            pixel_bootstrap=False)
    return {metric: bool(worse.any()) for metric, worse in marked.items()}, calibration


def false_alarms(seeds: list[np.random.SeedSequence], args, pixels: bool,
                 calibration: dict[str, list[tuple[float, float]]]) -> dict[str, list[bool]]:
    """Per metric, per null table (one per seed): whether any cell was marked worse; ``calibration`` collects the
    fixed pairs' z and df. ``args.workers`` processes: the tables are independent."""
    alarms: dict[str, list[bool]] = {}
    if args.workers > 1 and len(seeds) > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            results = list(pool.map(null_table, seeds, [args] * len(seeds), [pixels] * len(seeds)))
    else:
        results = [null_table(seed, args, pixels) for seed in seeds]
    for marked, pairs in results:  # in seed order: the same result whatever the number of workers
        for metric, any_marked in marked.items():
            alarms.setdefault(metric, []).append(any_marked)
        for metric, values in pairs.items():
            calibration.setdefault(metric, []).extend(values)
    return alarms


def coverage(rng, simulations: int, resamples: int) -> tuple[float, float]:
    """Coverage of AUROC 0.97 (40 + 80 images) by the logit and by the percentile 95 % interval."""
    labels = np.r_[np.zeros(N_NORMAL, int), np.ones(N_DEFECTIVE, int)]
    d, logit_hits, percentile_hits = separation(BEST), 0, 0
    for simulation in range(simulations):
        scores = d * labels + rng.normal(size=labels.size)
        replicates = uncertainty.image_replicates(scores, labels, uncertainty.resample_counts(
            labels, resamples, simulation))[:, :1]
        low, high = uncertainty.logit_interval(replicates, [metrics.image_auroc(scores, labels)], labels.size)
        logit_hits += low[0] <= BEST <= high[0]
        low, high = uncertainty.percentile_interval(replicates)
        percentile_hits += low[0] <= BEST <= high[0]
    return logit_hits / simulations, percentile_hits / simulations


def binned_error(rng, size: int, thresholds: int, categories: int, resamples: int) -> dict[str, float]:
    """Largest |grid replicate - exact metric of the resampled images| per pixel metric, over ``resamples``
    bootstrap resamples of each of ``categories`` test sets (one model at AUROC 0.97 each)."""
    worst: dict[str, float] = {}
    for category in range(categories):
        data = category_data(rng, size)
        labels, paths, masks, *_ = data
        d, noise = separation(BEST), np.sqrt(1 - RHO ** 2)
        maps = (d * masks + RHO * data[4] + noise * rng.normal(size=masks.shape)).astype(np.float32)
        counts = uncertainty.resample_counts(labels, resamples, category, keys=paths)
        statistic = uncertainty.pixel_statistics(maps, masks, (0.3,), n_thresholds=thresholds)
        for row, multiplicity in zip(uncertainty.pixel_replicates(statistic, counts), counts, strict=True):
            index = np.repeat(np.arange(labels.size), multiplicity)
            exact = metrics.pixel_metrics(maps[index], masks[index], fpr_limits=(0.3,))
            for name, value in zip(statistic.names, row, strict=True):
                worst[name] = max(worst.get(name, 0.0), abs(float(value) - exact[name]))
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--power-tables", type=int, default=2, help="tables with a planted gap (default 2)")
    parser.add_argument("--null-tables", type=int, default=60, help="tables without (default 60)")
    parser.add_argument("--pixel-null-tables", type=int, default=60, help="of those, with pixel maps (default 60)")
    parser.add_argument("--workers", type=int, default=2, help="processes for the null tables (default 2)")
    parser.add_argument("--coverage-simulations", type=int, default=400)
    parser.add_argument("--resamples", type=int, default=500)
    parser.add_argument("--thresholds", type=int, default=512, help="pixel grid points (small maps)")
    parser.add_argument("--size", type=int, default=24, help="pixel map side (default 24)")
    parser.add_argument("--curve", action="store_true", help="also print power per gap 0.02 ... 0.25 (image metrics)")
    parser.add_argument("--curve-tables", type=int, default=2)
    parser.add_argument("--binned-resamples", type=int, default=10,
                        help="resamples per test set whose exact pixel metrics are compared with the grid's")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    print(f"paper scale: {N_MODELS} models x {N_CATEGORIES} categories, {N_NORMAL} + {N_DEFECTIVE} test images "
          f"per category, maps {args.size}^2; {args.resamples} resamples, {args.thresholds} pixel thresholds")

    discoveries: dict[str, list[float]] = {}
    planted = power(rng, GAP, args, pixels=True, tables=args.power_tables, discoveries=discoveries)
    for metric, share in planted.items():
        print(f"power at gap {GAP:.2f} ({BEST:.2f} vs {BEST - GAP:.2f}) {metric}: {share:.3f}; good models among "
              f"the cells marked worse (false discovery proportion) {np.mean(discoveries[metric]):.3f}")
    calibration: dict[str, list[tuple[float, float]]] = {}
    table_seeds = np.random.SeedSequence([args.seed, 1]).spawn(args.null_tables)
    pixel_tables = min(args.pixel_null_tables, args.null_tables)
    alarms = false_alarms(table_seeds[:pixel_tables], args, pixels=True, calibration=calibration)
    image_only = false_alarms(table_seeds[pixel_tables:], args, pixels=False, calibration=calibration)
    for metric, values in image_only.items():
        alarms.setdefault(metric, []).extend(values)
    null = {metric: float(np.mean(values)) for metric, values in alarms.items()}
    for metric, share in null.items():
        print(f"null tables with a false 'worse' {metric}: {share:.3f} of {len(alarms[metric])}")
    for metric, values in calibration.items():  # equal models: the one-sided p uniform
        z, df = np.asarray(values, dtype=np.float64).T
        p = special.stdtr(df, -z)  # the report's one-sided p (Student's t: n - 2, the jackknife's df for pixels)
        print(f"null calibration {metric}: {z.size} pairs of equal models, z sd {z.std(ddof=1):.3f}, "
              f"median df {np.median(df):.0f}, "
              f"share p < 0.05 {np.mean(p < 0.05):.3f}, p < 0.01 {np.mean(p < 0.01):.4f}, "
              f"|z| > 3 {np.mean(np.abs(z) > 3):.4f} (normal 0.0027), largest |z| {np.abs(z).max():.2f}, "
              f"KS p {stats.kstest(p, 'uniform').pvalue:.2f}")
    logit_coverage, percentile_coverage = coverage(rng, args.coverage_simulations, 2 * args.resamples)
    print(f"coverage of AUROC {BEST} ({N_NORMAL} + {N_DEFECTIVE} images, {args.coverage_simulations} test sets): "
          f"logit {logit_coverage:.3f}, percentile {percentile_coverage:.3f}")
    for size, thresholds in ((args.size, args.thresholds), (args.size, uncertainty.N_THRESHOLDS),
                             (4 * args.size, uncertainty.N_THRESHOLDS)):
        worst = binned_error(rng, size, thresholds, categories=2, resamples=args.binned_resamples)
        print(f"binned replicates vs exact, largest error over {2 * args.binned_resamples} resamples "
              f"(maps {size}^2, {thresholds} thresholds): "
              + ", ".join(f"{name} {error:.1e}" for name, error in worst.items()))
    if args.curve:
        print("gap -> power (min over image AUROC, AP, F1-max; per metric in brackets)")
        for gap in CURVE_GAPS:
            shares = power(rng, gap, args, pixels=False, tables=args.curve_tables)
            detail = ", ".join(f"{metric.removeprefix('image_')} {share:.2f}" for metric, share in shares.items())
            print(f"  {gap:.2f} ({BEST:.2f} vs {BEST - gap:.2f}): {min(shares.values()):.2f}  [{detail}]")
    print(f"elapsed {time.perf_counter() - start:.0f} s")
    print(f"power={min(planted.values(), default=float('nan')):.3f} false_alarm={max(null.values()):.3f} coverage={logit_coverage:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
