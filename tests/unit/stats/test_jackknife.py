"""The pixel metrics' leave-one-image-out values (iadbench.stats.jackknife), their file members, and the paired
jackknife test the report's pixel tables run on them (with the fall-back on the bootstrap for older files)."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import special

from iadbench.metrics import measures as metrics
from iadbench.stats import paired, significance
from iadbench.stats.evidence import JobEvidence, read_evidence
from iadbench.stats.jackknife import load_jackknife, members, pixel_jackknife
from iadbench.stats.uncertainty import (
    load_replicates,
    pixel_replicates,
    pixel_statistics,
    resample_counts,
    save_replicates,
)


def hand_made(seed=0, n_images=8, size=40):
    """Noisy maps, a square defect on every second image (brighter there), paths listed out of order."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((n_images, size, size), dtype=bool)
    for index in range(1, n_images, 2):
        side = 4 + 3 * (index % 3)
        masks[index, index % 5:index % 5 + side, 1:1 + side] = True
    maps = (rng.normal(size=masks.shape) + 1.2 * masks).astype(np.float32)
    paths = np.array([f"test/{index:03d}.png" for index in range(n_images)])[::-1]
    return maps, masks, paths


def test_jackknife_values_are_the_metrics_without_each_image():
    maps, masks, paths = hand_made()
    statistics = pixel_statistics(maps, masks, (0.3,))
    jackknife = pixel_jackknife(statistics, paths, masks.any(axis=(1, 2)), {"pixel_AUPRO": "pixel_AUPRO_30"})
    assert jackknife.names == ("pixel_AUROC", "pixel_AP", "pixel_AUPRO_30", "pixel_AUPRO")
    assert list(jackknife.keys) == sorted(paths)  # rows in path order: two models' rows pair up
    for row, key in enumerate(jackknife.keys):
        image = int(np.flatnonzero(paths == key)[0])
        keep = np.arange(len(paths)) != image
        direct = metrics.pixel_metrics(maps[keep], masks[keep], fpr_limits=(0.3,))
        assert jackknife.strata[row] == masks[image].any()
        # 12,800 pixels on the grid: AUROC and AU-PRO exact to the grid's chords, AP within its binning error
        assert jackknife.values[row, [0, 2, 3]] == pytest.approx(
            [direct["pixel_AUROC"], direct["pixel_AUPRO_30"], direct["pixel_AUPRO_30"]], abs=1e-4)
        assert jackknife.values[row, 1] == pytest.approx(direct["pixel_AP"], abs=5e-3)
        ones = np.ones((1, len(paths)), dtype=np.int32)
        ones[0, image] = 0
        assert jackknife.values[row, :3] == pytest.approx(pixel_replicates(statistics, ones)[0], abs=1e-12)


def test_jackknife_needs_one_unique_key_per_image():
    maps, masks, paths = hand_made()
    statistics = pixel_statistics(maps, masks, (0.3,))
    with pytest.raises(ValueError, match="not unique"):
        pixel_jackknife(statistics, [paths[0]] * len(paths), masks.any(axis=(1, 2)))
    with pytest.raises(ValueError, match="8 images"):
        pixel_jackknife(statistics, paths[:3], masks.any(axis=(1, 2)))


def test_jackknife_rides_in_bootstrap_npz_and_older_files_have_none(tmp_path):
    maps, masks, paths = hand_made()
    jackknife = pixel_jackknife(pixel_statistics(maps, masks, (0.3,)), paths, masks.any(axis=(1, 2)))
    replicates = np.random.default_rng(0).random((20, 3))
    job = tmp_path / "evaluate" / "d" / "c" / "m" / "0"
    job.mkdir(parents=True)
    save_replicates(job / "bootstrap.npz", ["pixel_AUROC", "pixel_AP", "pixel_AUPRO_30"], replicates,
                    extra=members(jackknife))
    loaded = load_jackknife(job / "bootstrap.npz")
    assert loaded.names == jackknife.names and list(loaded.keys) == list(jackknife.keys)
    assert np.array_equal(loaded.values, jackknife.values) and np.array_equal(loaded.strata, jackknife.strata)
    assert list(load_replicates(job / "bootstrap.npz")) == ["pixel_AUROC", "pixel_AP", "pixel_AUPRO_30"]
    assert read_evidence([], [job / "bootstrap.npz"])["d", "c", "m", 0].jackknife.names == jackknife.names
    save_replicates(tmp_path / "old.npz", ["pixel_AUROC"], replicates[:, :1])  # as written before the jackknife
    assert load_jackknife(tmp_path / "old.npz") is None


def test_jackknife_df_is_n_minus_2_for_alike_terms_and_small_when_one_image_carries_the_variance():
    strata = np.arange(120) < 40
    alike = np.where(strata, 1.0, -1.0) * np.r_[np.ones(20), -np.ones(20), np.ones(40), -np.ones(40)]
    assert paired.jackknife_df(alike, strata) == 118  # all terms equal: no spread
    one = np.zeros(120)
    one[[0, 50]] = [1.0, 0.5]
    assert paired.jackknife_df(one, strata) < 4  # two images carry it all: ~3
    assert math.isnan(paired.jackknife_df(one[:41], strata[:41]))  # one defective image: no stratum variance


def jobs(seed=0, n_images=40, twin_noise=0.3, with_jackknife=(True, True)):
    """Two models' evidence on the same images: best, and other = best + noise (equal in truth)."""
    rng = np.random.default_rng(seed)
    maps, masks, paths = hand_made(seed, n_images, size=16)
    labels = masks.any(axis=(1, 2))
    evidence, estimates = {}, {}
    counts = resample_counts(labels, 200, seed, keys=paths)
    for model, noise in (("best", 0.0), ("other", twin_noise)):
        these = (maps + noise * rng.normal(size=maps.shape)).astype(np.float32)
        statistics = pixel_statistics(these, masks, (0.3,))
        replicates = dict(zip(statistics.names, pixel_replicates(statistics, counts).T.astype(np.float32), strict=True))
        table = pd.DataFrame({"image_path": paths, "label": labels.astype(np.int8), "image_score": these.max(axis=(1, 2))})
        jackknife = pixel_jackknife(statistics, paths, labels) if with_jackknife[model == "other"] else None
        evidence["d", "c", model, 0] = JobEvidence(table, replicates, jackknife)
        estimates[model, "c", 0] = metrics.pixel_metrics(these, masks)["pixel_AUROC"]
    return evidence, estimates


def test_pixel_tables_use_the_paired_jackknife():
    evidence, estimates = jobs()
    tests = significance.test_table(evidence, "d", "pixel_AUROC", {"c": ("best", ["other"])},
                                    {("best", "c"): [0], ("other", "c"): [0]}, estimates=estimates)
    best, other = evidence["d", "c", "best", 0].jackknife, evidence["d", "c", "other", 0].jackknife
    left_out = best.column("pixel_AUROC") - other.column("pixel_AUROC")
    variance = sum((part.size - 1) / part.size * np.sum((part - part.mean()) ** 2)
                   for part in (left_out[best.strata], left_out[~best.strata]))
    z = (estimates["best", "c", 0] - estimates["other", "c", 0]) / math.sqrt(variance)
    p = special.stdtr(paired.jackknife_df(left_out, best.strata), -z)  # one comparison, a family of two cells
    assert tests.jackknife and not tests.fallback
    assert tests.adjusted["other", "c"] == pytest.approx(min(1.0, 2 * p) if 2 * p < 0.05 else max(2 * p, 0.05))
    assert "jackknife" in tests.notes()[0] and "bootstrap" not in " ".join(tests.notes())


def test_pixel_tables_without_jackknife_values_fall_back_on_the_bootstrap_and_say_so():
    evidence, estimates = jobs(with_jackknife=(True, False))  # one job from before the jackknife was kept
    tests = significance.test_table(evidence, "d", "pixel_AUROC", {"c": ("best", ["other"])},
                                    {("best", "c"): [0], ("other", "c"): [0]}, estimates=estimates)
    differences = (evidence["d", "c", "best", 0].replicates["pixel_AUROC"].astype(np.float64)
                   - evidence["d", "c", "other", 0].replicates["pixel_AUROC"].astype(np.float64))
    z = paired.studentized_z(differences, estimates["best", "c", 0] - estimates["other", "c", 0])
    p = 2 * special.stdtr(38, -z)
    assert tests.fallback and not tests.jackknife
    assert tests.adjusted["other", "c"] == pytest.approx(p if p < 0.05 else max(p, 0.05))
    notes = " ".join(tests.notes())
    assert "paired bootstrap" in notes and "no leave-one-image-out values" in notes
