import numpy as np
import pytest
from scipy import special, stats

from iadbench.metrics import measures as metrics
from iadbench.metrics.maps import resize_maps_to
from iadbench.stats.paired import _delong_components, delong_test, paired_bootstrap, studentized_p
from iadbench.stats.uncertainty import (
    CI_METHOD,
    combine_seed_intervals,
    image_replicates,
    interval_columns,
    load_replicates,
    logit_interval,
    pixel_replicates,
    pixel_statistics,
    resample_counts,
    save_replicates,
)


def image_scores(n_normal, n_anomalous, shift=1.5, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.r_[np.zeros(n_normal, int), np.ones(n_anomalous, int)]
    return shift * labels + rng.normal(0, 1, labels.size), labels


def category(n_images=16, size=48, seed=0):
    """Smooth noisy maps, 1-3 elliptic defects on about two thirds of the images (as bench_metrics)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.ogrid[:size, :size]
    maps = np.empty((n_images, size, size), np.float32)
    masks = np.zeros((n_images, size, size), bool)
    for index in range(n_images):
        coarse = rng.standard_normal((4, 4)).astype(np.float32)
        maps[index] = resize_maps_to(coarse, (size, size)) + 0.3 * rng.standard_normal((size, size))
        if index % 3:
            for _ in range(rng.integers(1, 4)):
                centre, radii = rng.random(2) * size, np.maximum(rng.uniform(0.03, 0.2, 2) * size, 1.0)
                masks[index] |= ((rows - centre[0]) / radii[0]) ** 2 + ((cols - centre[1]) / radii[1]) ** 2 <= 1
            maps[index][masks[index]] += np.float32(rng.uniform(0.3, 2.0))
    return maps, masks


# Resampling ------------------------------------------------------------------------------------------------

def test_stratified_resampling_keeps_class_counts_and_is_seeded():
    labels = np.r_[np.zeros(7, int), np.ones(11, int)]
    counts = resample_counts(labels, 500, seed=3)
    assert counts.shape == (500, 18) and counts.min() >= 0
    assert (counts[:, :7].sum(axis=1) == 7).all() and (counts[:, 7:].sum(axis=1) == 11).all()
    assert (counts.std(axis=0) > 0).all()  # every image is drawn a varying number of times
    assert np.array_equal(counts, resample_counts(labels, 500, seed=3))
    assert not np.array_equal(counts, resample_counts(labels, 500, seed=4))


def test_keys_make_draws_independent_of_the_listing_order():
    """Models of one seed list their images in any order: resample b still draws the same images."""
    labels = np.array([0, 1, 0, 1, 1, 0, 0, 1])
    paths = np.array([f"test/{'good' if label == 0 else 'crack'}/{i:03d}.png" for i, label in enumerate(labels)])
    shuffle = np.random.default_rng(1).permutation(labels.size)
    counts = resample_counts(labels, 50, seed=0, keys=paths)
    shuffled = resample_counts(labels[shuffle], 50, seed=0, keys=paths[shuffle])
    assert np.array_equal(counts[:, shuffle], shuffled)


# Image metrics ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("decimals", [None, 0])
def test_image_replicates_are_exact_metrics_of_the_resampled_images(decimals):
    scores, labels = image_scores(30, 20, seed=2)
    scores = scores if decimals is None else np.round(scores, decimals)  # ties enter together
    full = image_replicates(scores, labels, np.ones((1, labels.size), np.int32))[0]
    expected = metrics.image_metrics(scores, labels)
    assert full == pytest.approx([expected["image_AUROC"], expected["image_AP"], expected["image_F1_max"]], abs=1e-12)
    # F1-max's threshold on all images, found by brute force: the replicates' F1 is taken there
    f1_at = {t: 2 * np.sum(labels[scores >= t]) / (np.sum(scores >= t) + labels.sum()) for t in np.unique(scores)}
    threshold = max(f1_at, key=f1_at.get)
    assert f1_at[threshold] == pytest.approx(expected["image_F1_max"], abs=1e-12)
    counts = resample_counts(labels, 5, seed=0)
    for row, multiplicity in zip(image_replicates(scores, labels, counts), counts, strict=True):
        index = np.repeat(np.arange(labels.size), multiplicity)
        drawn = metrics.image_metrics(scores[index], labels[index])
        hits, truth = scores[index] >= threshold, labels[index] > 0
        f1 = 2 * np.sum(hits & truth) / (hits.sum() + truth.sum())
        assert row == pytest.approx([drawn["image_AUROC"], drawn["image_AP"], f1], abs=1e-12)
        assert f1 <= drawn["image_F1_max"] + 1e-12


def test_intervals_contain_the_estimate_and_narrow_with_more_images():
    widths = []
    for n in (40, 1000):
        scores, labels = image_scores(n // 2, n // 2, seed=n)
        estimate = metrics.image_metrics(scores, labels)
        names = ("image_AUROC", "image_AP", "image_F1_max")
        low, high = logit_interval(image_replicates(scores, labels, resample_counts(labels, 2000, seed=0)),
                                   [estimate[name] for name in names], n)
        for column, name in enumerate(names):
            assert low[column] <= estimate[name] <= high[column]
        widths.append(high[0] - low[0])
    assert widths[1] < 0.5 * widths[0]  # ~1/sqrt(n): 25x the images, ~5x narrower


def test_logit_interval_equals_the_formula_computed_with_scipy():
    rng = np.random.default_rng(3)
    replicates, estimate, n = rng.beta(40, 3, 500), 0.93, 60
    corrected = lambda value: (value * n + 0.5) / (n + 1)
    centre = corrected(estimate)
    spread = max(np.std(special.logit(corrected(replicates)), ddof=1), 1 / np.sqrt(n * centre * (1 - centre)))
    z = stats.norm.ppf(0.975)
    low, high = logit_interval(replicates, [estimate], n)
    assert (low[0], high[0]) == pytest.approx((special.expit(special.logit(centre) - z * spread),
                                               special.expit(special.logit(centre) + z * spread)), rel=1e-12)


def test_a_perfect_separation_gets_a_non_degenerate_interval():
    """Every resample separates perfectly (AUROC 1): the Wilson-type floor over 120 images gives a lower bound near
    0.94, never [1, 1]; one discordant pair gives nearly the same lower bound (no jump at the boundary)."""
    labels = np.r_[np.zeros(40, int), np.ones(80, int)]
    scores = labels * 10.0 + np.random.default_rng(0).normal(0, 1, labels.size)
    replicates = image_replicates(scores, labels, resample_counts(labels, 500, seed=0))
    assert np.all(replicates[:, 0] == 1)
    low, high = logit_interval(replicates, [1.0, 1.0, 1.0], labels.size)
    assert np.all((0.92 < low) & (low < 0.95) & (high == 1))  # the upper bound holds the estimate, as Wilson's
    scores[np.argmax(labels)] = -5.0  # one defective image below every defect-free one: AUROC 1 - 1/80
    near = logit_interval(image_replicates(scores, labels, resample_counts(labels, 500, seed=0))[:, :1],
                          [metrics.image_auroc(scores, labels)], labels.size)
    assert abs(near[0][0] - low[0]) < 0.05 and 0.99 < near[1][0] < 1


def test_coverage_near_one_holds_its_level():
    """Binormal scores of AUROC 0.97, 40 defect-free and 80 defective images: the 95 % logit interval covers the
    true value in at least ~93 % of 150 simulated test sets (the percentile interval: ~91 %, and lower nearer 1)."""
    labels = np.r_[np.zeros(40, int), np.ones(80, int)]
    shift = np.sqrt(2) * stats.norm.ppf(0.97)
    rng = np.random.default_rng(11)
    covered = 0
    for simulation in range(150):
        scores = shift * labels + rng.normal(0, 1, labels.size)
        replicates = image_replicates(scores, labels, resample_counts(labels, 400, seed=simulation))[:, :1]
        low, high = logit_interval(replicates, [metrics.image_auroc(scores, labels)], labels.size)
        covered += low[0] <= 0.97 <= high[0]
    assert covered / 150 >= 0.9  # binomial sd ~0.018 around 0.95


def test_interval_columns_name_the_method():
    replicates = np.array([[0.1, np.nan], [0.2, np.nan], [0.3, np.nan]])
    row = interval_columns(["image_AUROC", "pixel_AUPRO"], replicates, {"image_AUROC": 0.2, "pixel_AUPRO": np.nan},
                           {"image_AUROC": 100, "pixel_AUPRO": 100}, level=0.9)
    assert row["ci_method"] == CI_METHOD == "logit" and row["ci_resamples"] == 3 and row["ci_level"] == 0.9
    low, high = logit_interval(replicates[:, :1], [0.2], 100, level=0.9)
    assert (row["image_AUROC_ci_low"], row["image_AUROC_ci_high"]) == (low[0], high[0])
    assert row["image_AUROC_ci_low"] < 0.2 < row["image_AUROC_ci_high"]
    assert np.isnan(row["pixel_AUPRO_ci_low"])  # undefined in every resample: NaN, no warning


# Pixel metrics on the grid ---------------------------------------------------------------------------------

def test_grid_metrics_of_the_full_set_agree_with_the_exact_ones():
    maps, masks = category(n_images=24, size=96)
    exact = metrics.pixel_metrics(maps, masks, fpr_limits=(0.3, 0.05))
    statistics = pixel_statistics(maps, masks, (0.3, 0.05))
    assert statistics.positives.shape == (24, statistics.thresholds.size) and statistics.thresholds.size <= 4096
    full = dict(zip(statistics.names, pixel_replicates(statistics, np.ones((1, 24)))[0], strict=True))
    for name in ("pixel_AUROC", "pixel_AP", "pixel_AUPRO_30", "pixel_AUPRO_05"):
        assert full[name] == pytest.approx(exact[name], abs=1e-3), name


def test_grid_error_stays_within_its_bound_on_a_coarse_grid():
    """Grid points lie on the exact curve; the chord's error is at most sum(dFPR dTPR) / 2 (AUROC) and
    sum(dFPR dPRO) / (2 limit) (AU-PRO) over the bins."""
    maps, masks = category(n_images=12, size=64, seed=5)
    exact = metrics.pixel_metrics(maps, masks, fpr_limits=(0.3,))
    statistics = pixel_statistics(maps, masks, (0.3,), n_thresholds=32)
    auroc, _, aupro = pixel_replicates(statistics, np.ones((1, 12)))[0]
    tpr = np.r_[0, np.cumsum(statistics.positives.sum(0)[::-1])] / masks.sum()
    fpr = np.r_[0, np.cumsum(statistics.negatives.sum(0)[::-1])] / (~masks).sum()
    pro = np.r_[0, np.cumsum(statistics.region_overlap.sum(0)[::-1])] / len(statistics.region_image)
    assert abs(auroc - exact["pixel_AUROC"]) <= np.sum(np.diff(fpr) * np.diff(tpr)) / 2 + 1e-12
    inside = np.r_[fpr[1:] <= 0.3] | np.r_[fpr[:-1] < 0.3]
    bound = np.sum((np.diff(fpr) * np.diff(pro))[inside]) / (2 * 0.3)
    assert 0 < abs(aupro - exact["pixel_AUPRO"]) <= bound + 1e-12


def test_pixel_replicates_are_the_metrics_of_the_drawn_images():
    """Resampling the per-image statistics = evaluating the drawn images (repeats as separate images)."""
    maps, masks = category(n_images=10, size=40, seed=7)
    statistics = pixel_statistics(maps, masks, (0.3,))
    counts = resample_counts(masks.any(axis=(1, 2)), 3, seed=1)
    for row, multiplicity in zip(pixel_replicates(statistics, counts), counts, strict=True):
        index = np.repeat(np.arange(10), multiplicity)
        drawn = metrics.pixel_metrics(maps[index], masks[index], fpr_limits=(0.3,))
        # 16,000 pixels: binned AP within ~5e-3 here (docs/statistics.md); AUROC and AU-PRO far closer
        assert row == pytest.approx([drawn["pixel_AUROC"], drawn["pixel_AP"], drawn["pixel_AUPRO_30"]], abs=5e-3)
        assert row[[0, 2]] == pytest.approx([drawn["pixel_AUROC"], drawn["pixel_AUPRO_30"]], abs=1e-4)


def test_binned_ap_of_resamples_stays_within_the_stated_error():
    """docs/statistics.md: binned pixel AP on bootstrap resamples within 1e-3 of the exact AP of the drawn images from
    ~1e5 pixels up (24 images of 64^2; measured 5.6e-4 at worst over 30 resamples of three such sets)."""
    maps, masks = category(n_images=24, size=64, seed=1)
    statistics = pixel_statistics(maps, masks, (0.3,))
    counts = resample_counts(masks.any(axis=(1, 2)), 6, seed=1)
    for row, multiplicity in zip(pixel_replicates(statistics, counts), counts, strict=True):
        index = np.repeat(np.arange(24), multiplicity)
        assert abs(row[1] - metrics.pixel_metrics(maps[index], masks[index], fpr_limits=(0.3,))["pixel_AP"]) < 1e-3


def test_pixel_statistics_take_images_of_different_sizes():
    maps, masks = category(n_images=4, size=32, seed=3)
    tall = np.pad(maps[0], ((0, 8), (0, 0)))
    maps_list, masks_list = [tall, *maps[1:]], [np.pad(masks[0], ((0, 8), (0, 0))), *masks[1:]]
    statistics = pixel_statistics(maps_list, masks_list, (0.3,))
    full = pixel_replicates(statistics, np.ones((1, 4)))[0]
    assert full[0] == pytest.approx(metrics.pixel_metrics(maps_list, masks_list)["pixel_AUROC"], abs=1e-3)
    assert statistics.negatives.sum() + statistics.positives.sum() == sum(m.size for m in maps_list)


# Paired comparisons ----------------------------------------------------------------------------------------

def slow_delong(a, b, labels):
    """DeLong et al. (1988) as written: the kernel over all anomalous x normal pairs, O(m n)."""
    positive = labels > 0
    aucs, v10, v01 = [], [], []
    for scores in (a, b):
        kernel = (scores[positive][:, None] > scores[~positive][None, :]) + 0.5 * (
            scores[positive][:, None] == scores[~positive][None, :])
        aucs.append(kernel.mean())
        v10.append(kernel.mean(axis=1))
        v01.append(kernel.mean(axis=0))
    covariance = np.cov(v10) / positive.sum() + np.cov(v01) / (~positive).sum()
    return np.array(aucs), covariance


def correlated_models(n, gap, seed):
    rng = np.random.default_rng(seed)
    labels = np.r_[np.zeros(n, int), np.ones(n, int)]
    shared = rng.normal(0, 1, 2 * n)
    a = labels * 1.2 + shared + 0.6 * rng.normal(0, 1, 2 * n)
    b = labels * (1.2 - gap) + shared + 0.6 * rng.normal(0, 1, 2 * n)
    return np.round(a, 1), np.round(b, 1), labels  # rounded: ties, which midranks must handle


def test_fast_delong_equals_the_pairwise_definition():
    a, b, labels = correlated_models(25, 0.4, seed=0)
    aucs, covariance = _delong_components(np.stack([a, b]), labels > 0)
    slow_aucs, slow_covariance = slow_delong(a, b, labels)
    assert aucs == pytest.approx(slow_aucs, abs=1e-12)
    assert covariance == pytest.approx(slow_covariance, abs=1e-12)
    auc_a, auc_b, z, p = delong_test(a, b, labels)
    assert auc_a == pytest.approx(metrics.image_auroc(a, labels), abs=1e-12)
    assert auc_b == pytest.approx(metrics.image_auroc(b, labels), abs=1e-12)
    variance = slow_covariance[0, 0] + slow_covariance[1, 1] - 2 * slow_covariance[0, 1]
    assert z == pytest.approx((slow_aucs[0] - slow_aucs[1]) / np.sqrt(variance), rel=1e-9)
    assert 0 < p < 1


@pytest.mark.parametrize(("gap", "seed"), [(0.3, 1), (0.5, 2), (0.7, 3), (0.2, 4), (0.1, 5)])
def test_delong_p_is_close_to_the_paired_bootstrap_p(gap, seed):
    a, b, labels = correlated_models(60, gap, seed)
    *_, p_delong = delong_test(a, b, labels)
    comparison = paired_bootstrap(metrics.image_auroc, a, b, labels, n_resamples=2000, seed=seed)
    assert comparison.value_a - comparison.value_b == pytest.approx(comparison.difference)
    assert comparison.low <= comparison.difference <= comparison.high
    assert abs(p_delong - comparison.p) < 0.05, (p_delong, comparison.p)


def test_identical_models_do_not_differ():
    a, _, labels = correlated_models(20, 0.0, seed=5)
    assert delong_test(a, a, labels)[2:] == (0.0, 1.0)
    comparison = paired_bootstrap(metrics.image_ap, a, a, labels, n_resamples=200)
    assert comparison.difference == 0 and comparison.p == 1.0
    assert np.isnan(delong_test(a[:3], a[:3], np.array([0, 1, 1]))[3])  # one normal image: no variance


def test_studentized_p_is_two_sided_and_not_floored_by_the_resamples():
    differences = np.random.default_rng(0).normal(0.1, 0.02, 999)
    assert studentized_p(differences, 0.1) == pytest.approx(2 * stats.norm.sf(0.1 / np.std(differences, ddof=1)))
    assert studentized_p(differences, 0.1) < 1e-6  # far below 2 / (B + 1)
    assert studentized_p(-differences, -0.1) == studentized_p(differences, 0.1)
    assert studentized_p(np.zeros(50), 0.0) == 1.0 and studentized_p(np.zeros(50), 0.1) == 0.0
    assert np.isnan(studentized_p(np.full(10, np.nan), 0.1))


# Seeds and the saved replicates ----------------------------------------------------------------------------

def test_pooled_interval_holds_seed_and_test_set_spread():
    rng = np.random.default_rng(0)
    seeds = [rng.normal(centre, 0.01, 2000) for centre in (0.80, 0.86)]
    low, high = combine_seed_intervals(seeds, [0.80, 0.86], 10_000)
    assert low < 0.80 - 0.01 and high > 0.86 + 0.01  # both seeds' intervals, and the gap between them
    one = logit_interval(seeds[0], [0.80], 10_000)
    assert combine_seed_intervals(seeds[:1], [0.80], 10_000) == pytest.approx((one[0][0], one[1][0]))
    # A seed with fewer resamples weighs the same: nearly the interval of two full seeds.
    uneven = combine_seed_intervals([seeds[0], seeds[1][:200]], [0.80, 0.86], 10_000)
    assert uneven == pytest.approx((low, high), abs=0.003)
    assert np.isnan(combine_seed_intervals([np.full(10, np.nan)], [0.5], 100)[0])


def test_replicates_round_trip(tmp_path):
    replicates = np.random.default_rng(0).random((50, 2))
    save_replicates(tmp_path / "bootstrap.npz", ["image_AUROC", "pixel_AUPRO"], replicates)
    loaded = load_replicates(tmp_path / "bootstrap.npz")
    assert list(loaded) == ["image_AUROC", "pixel_AUPRO"] and loaded["pixel_AUPRO"].dtype == np.float32
    assert loaded["image_AUROC"] == pytest.approx(replicates[:, 0], abs=1e-7)
    save_replicates(tmp_path / "failed.npz", [], np.zeros((0, 0)))
    assert load_replicates(tmp_path / "failed.npz") == {}
