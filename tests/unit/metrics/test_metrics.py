"""iadbench.metrics.measures against hand-computed cases, scikit-learn and the official MVTec AD PRO algorithm
(tests/metrics_oracles.py)."""

import logging
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from metrics_oracles import reference_pro, reference_trapezoid
from scipy import ndimage
from sklearn.metrics import average_precision_score, roc_auc_score

from iadbench.metrics import checks, ranks
from iadbench.metrics.maps import f1_optimal_threshold, resize_maps_to
from iadbench.metrics.measures import (
    au_pro,
    image_ap,
    image_auroc,
    image_f1_max,
    image_metrics,
    pixel_ap,
    pixel_auroc,
    pixel_f1_max,
    pixel_metrics,
    pro_curve,
    thresholded_pro,
)

PIXEL_KEYS = {"pixel_AUROC", "pixel_AP", "pixel_F1_max", "pixel_PRO", "pixel_AUPRO", "pixel_AUPRO_30",
              "pixel_AUPRO_05"}


# --- oracles: the definitions read literally, one threshold at a time (tiny inputs only) ----------------

def literal_pro_curve(maps, masks):
    """For each distinct score t (decreasing): FPR over all defect-free pixels, mean region overlap."""
    maps, positive = np.asarray(maps, dtype=np.float64), np.asarray(masks) > 0
    regions = []
    for image, mask in zip(maps, positive, strict=True):
        labeled, count = ndimage.label(mask, structure=np.ones((3, 3)))
        regions += [image[labeled == k] for k in range(1, count + 1)]
    defect_free = maps[~positive]
    fpr, pro = [0.0], [0.0]
    for threshold in np.unique(maps)[::-1]:
        fpr.append(np.mean(defect_free >= threshold))
        pro.append(np.mean([np.mean(region >= threshold) for region in regions]))
    return np.array([*fpr, 1.0]), np.array([*pro, 1.0])


def literal_normalised_area(fpr, pro, limit):
    """Trapezoids up to the limit, the crossing segment cut by linear interpolation, divided by the limit."""
    area = 0.0
    for x0, y0, x1, y1 in zip(fpr[:-1], pro[:-1], fpr[1:], pro[1:], strict=True):
        if x0 >= limit:
            break
        if x1 > limit:
            x1, y1 = limit, y0 + (y1 - y0) * (limit - x0) / (x1 - x0)
        area += (x1 - x0) * (y0 + y1) / 2
    return area / limit


def literal_f1(scores, labels, threshold):
    """F1 = 2TP / (2TP + FP + FN) of the prediction ``score >= threshold``."""
    predicted, positive = np.ravel(scores) >= threshold, np.ravel(labels) > 0
    return 2 * np.sum(predicted & positive) / (np.sum(predicted) + np.sum(positive))


def literal_f1_max(scores, labels):
    return max(literal_f1(scores, labels, threshold) for threshold in np.unique(scores))


def random_category(seed: int, levels: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    """A few small images with random rectangular and single-pixel defects (touching, diagonal or apart),
    some images defect-free, scores quantised to ``levels`` values so ties are common."""
    rng = np.random.default_rng(seed)
    n_images, height, width = rng.integers(1, 5), rng.integers(2, 12), rng.integers(2, 12)
    masks = np.zeros((n_images, height, width), dtype=np.uint8)
    for mask in masks:
        for _ in range(rng.integers(0, 4)):
            top, left = rng.integers(0, height), rng.integers(0, width)
            mask[top:top + rng.integers(1, 4), left:left + rng.integers(1, 4)] = 255
        mask[rng.random((height, width)) < 0.05] = 255
    signal = rng.random(masks.shape) + 0.5 * (masks > 0) * rng.random()
    maps = (np.floor(signal * levels) / levels).astype(dtype)
    return maps, masks


# --- hand-computed cases --------------------------------------------------------------------------------

@pytest.fixture
def two_regions():
    """One 4x4 image: a 4-pixel region (top left) and a 1-pixel region (bottom right), 11 defect-free pixels.

    Distinct thresholds 0.9 .. 0 give the PRO curve (0,0) (0,1/8) (0,1/4) (1/11,1/4) (1/11,3/4) (1/11,7/8)
    (2/11,7/8) (2/11,1) (1,1) (1,1). AU-PRO(0.3) = [(1/4 + 7/8)/11 + (0.3 - 2/11)] / 0.3 = 1 - 0.875/3.3;
    AU-PRO(0.05) = 1/4. AUROC = 51/55 (positive-negative pairs won). AP = (1 + 1 + 3/4 + 4/5 + 5/7)/5.
    F1-max = 10/12 at threshold 0.2 (TP 5, FP 2).
    """
    mask = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]], dtype=np.uint8)[None]
    scores = np.zeros((1, 4, 4), dtype=np.float32)
    scores[0, 0, 0], scores[0, 0, 1], scores[0, 1, 0], scores[0, 1, 1] = 0.9, 0.8, 0.4, 0.2
    scores[0, 3, 3], scores[0, 0, 3], scores[0, 2, 2] = 0.6, 0.7, 0.3
    return scores, mask


def test_two_regions_by_hand(two_regions):
    values = pixel_metrics(*two_regions)
    assert values.keys() == PIXEL_KEYS
    assert values["pixel_AUPRO_30"] == pytest.approx(1 - 0.875 / 3.3, abs=1e-12)
    assert values["pixel_AUPRO"] == values["pixel_AUPRO_30"]
    assert values["pixel_AUPRO_05"] == pytest.approx(0.25, abs=1e-12)
    assert values["pixel_AUROC"] == pytest.approx(51 / 55, abs=1e-12)
    assert values["pixel_AP"] == pytest.approx((2 + 3 / 4 + 4 / 5 + 5 / 7) / 5, abs=1e-12)
    assert values["pixel_F1_max"] == pytest.approx(10 / 12, abs=1e-12)
    assert all(type(value) is float for value in values.values())


def test_the_studys_pro_by_hand(two_regions):
    """anomalib's PRO at one threshold: the mean over regions of the share of each region's pixels scored strictly
    above it. Region A (2 x 2: 0.9, 0.8, 0.4, 0.2), region B (one pixel: 0.6)."""
    assert thresholded_pro(*two_regions, 0.5) == pytest.approx((2 / 4 + 1) / 2, abs=1e-12)
    assert thresholded_pro(*two_regions, 0.95) == 0.0
    assert thresholded_pro(*two_regions, -1.0) == 1.0  # every pixel marked: every region covered
    # pixel_PRO is read at F1-max's threshold: 0.2 (TP 5, FP 2: F1 10/12); strictly above it: A 3/4, B 1.
    assert f1_optimal_threshold(*two_regions)[0] == pytest.approx(0.2)
    assert pixel_metrics(*two_regions)["pixel_PRO"] == pytest.approx((3 / 4 + 1) / 2, abs=1e-12)
    # Images of different sizes, as lists: the regions of all images count once each.
    maps, masks = two_regions
    wide_map, wide_mask = np.pad(maps[0], ((0, 0), (0, 3))), np.pad(masks[0], ((0, 0), (0, 3)))
    assert thresholded_pro([maps[0], wide_map], [masks[0], wide_mask], 0.5) == pytest.approx(0.75, abs=1e-12)


def test_a_map_worse_than_chance_saturates_the_studys_pro():
    """Defects scored lower than the background (pixel AUROC near 0): the best F1 is reached by marking every
    pixel, so PRO, read at that threshold, is nearly 1 (all but the lowest pixel): the threshold's artefact."""
    scores = np.linspace(0.2, 1.0, 100, dtype=np.float64).reshape(1, 10, 10)
    mask = np.zeros((1, 10, 10), dtype=bool)
    mask[0, :5, :5] = True
    scores[mask] = np.linspace(0.01, 0.25, 25)  # the 25 defect pixels: the lowest scores but a few
    values = pixel_metrics(scores, mask)
    assert values["pixel_AUROC"] < 0.05
    assert f1_optimal_threshold(scores, mask)[0] == pytest.approx(0.01)  # every pixel marked
    assert values["pixel_PRO"] == pytest.approx(24 / 25, abs=1e-12)  # strictly above: the 0.01 pixel left out
    assert values["pixel_AUPRO_30"] < 0.01  # AU-PRO is not fooled


def test_pro_without_a_region_or_threshold_is_nan(two_regions):
    maps, masks = two_regions
    assert np.isnan(thresholded_pro(maps, np.zeros_like(masks), 0.5))
    assert np.isnan(thresholded_pro(maps, masks, float("nan")))


def test_two_regions_curve_by_hand(two_regions):
    fpr, pro = pro_curve(*two_regions)
    np.testing.assert_allclose(fpr, [0, 0, 0, 1 / 11, 1 / 11, 1 / 11, 2 / 11, 2 / 11, 1, 1], atol=1e-15)
    np.testing.assert_allclose(pro, [0, 1 / 8, 1 / 4, 1 / 4, 3 / 4, 7 / 8, 7 / 8, 1, 1, 1], atol=1e-15)
    assert fpr.dtype == pro.dtype == np.float64


def test_f1_optimal_threshold_by_hand(two_regions):
    """At t = 0.2 (float32): TP 5 of 5, FP 2, so F1 = 10/12; the next score down, 0, adds 9 false positives."""
    threshold, f1 = f1_optimal_threshold(*two_regions)
    assert threshold == float(np.float32(0.2)) and f1 == pytest.approx(10 / 12, abs=1e-15)
    assert literal_f1(*two_regions, threshold) == pytest.approx(f1, abs=1e-15)


def test_tie_between_defect_and_defect_free_pixel_enters_together():
    """Scores 0.5 (defect), 0.5, 0.2, 0.1: one point (1/3, 1) after the tie, never (0, 1) or (1/3, 0).

    AU-PRO(0.3) = (0.5 * 0.3 * 0.9) / 0.3 = 0.45; AUROC = (0.5 + 1 + 1) / 3; AP = precision at the tie = 0.5.
    """
    for order in ([0, 1, 2, 3], [1, 0, 3, 2]):
        scores = np.array([0.5, 0.5, 0.2, 0.1], dtype=np.float32)[order].reshape(1, 1, 4)
        mask = np.array([1, 0, 0, 0])[order].reshape(1, 1, 4)
        values = pixel_metrics(scores, mask, fpr_limits=(0.3,))
        assert values["pixel_AUPRO"] == pytest.approx(0.45, abs=1e-12)
        assert values["pixel_AUROC"] == pytest.approx(2.5 / 3, abs=1e-12)
        assert values["pixel_AP"] == pytest.approx(0.5, abs=1e-12)
        np.testing.assert_allclose(pro_curve(scores, mask)[0], [0, 1 / 3, 2 / 3, 1, 1])


def test_diagonal_only_connection_is_one_region():
    """(0..1, 0..1) block + (2, 2) touch only diagonally: one 5-pixel region under 8-connectivity.

    Only (2, 2) scores high: PRO 1/5 at FPR 0 (two 4-connected regions would give 1/2).
    Curve (0,0) (0,1/5) (1,1) (1,1): PRO(0.3) = 0.2 + 0.8 * 0.3 = 0.44, AU-PRO = 0.5*(0.2+0.44)*0.3/0.3 = 0.32.
    """
    mask = np.zeros((1, 4, 4), dtype=bool)
    mask[0, :2, :2] = mask[0, 2, 2] = True
    scores = np.zeros((1, 4, 4))
    scores[0, 2, 2] = 1.0
    fpr, pro = pro_curve(scores, mask)
    np.testing.assert_allclose(fpr, [0, 0, 1, 1])
    np.testing.assert_allclose(pro, [0, 0.2, 1, 1])
    assert au_pro(scores, mask) == pytest.approx(0.32, abs=1e-12)


def test_fpr_counts_defect_free_pixels_of_defect_free_images():
    """Image 1: defect (1.0) + defect-free 0; image 2 (no defect): 1.0 and 0.5. FPR at t=1 is 1/3, not 0."""
    scores = np.array([[[1.0, 0.0]], [[1.0, 0.5]]])
    masks = np.array([[[1, 0]], [[0, 0]]])
    assert au_pro(scores, masks) == pytest.approx(0.45, abs=1e-12)
    assert au_pro(scores[:1], masks[:1]) == 1.0


def test_image_metrics_by_hand():
    scores, labels = np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])
    values = image_metrics(scores, labels)
    assert values == {"image_AUROC": 0.75, "image_AP": pytest.approx(5 / 6), "image_F1_max": pytest.approx(0.8)}
    assert image_auroc(scores, labels) == 0.75 and image_ap(scores, labels) == pytest.approx(5 / 6)
    assert image_f1_max(scores, labels) == pytest.approx(0.8)
    assert f1_optimal_threshold(scores, labels) == (0.35, pytest.approx(0.8))


def test_f1_optimal_threshold_prefers_the_highest_of_equal_f1():
    """Scores 4 (+), 3, 2, 1 (+): F1 = 2/3 at t = 4 (TP 1 of 1 predicted) and at t = 1 (TP 2 of 4)."""
    threshold, f1 = f1_optimal_threshold(np.array([4.0, 3.0, 2.0, 1.0]), np.array([1, 0, 0, 1]))
    assert (threshold, f1) == (4.0, pytest.approx(2 / 3))


def test_ap_is_step_wise_not_trapezoid():
    """Scores 0.9 (+), 0.8 (-), 0.7 (+): AP = 1/2 * 1 + 1/2 * 2/3; a trapezoid would give 0.75 + ..."""
    assert image_ap(np.array([0.9, 0.8, 0.7]), np.array([1, 0, 1])) == pytest.approx(0.5 + 1 / 3, abs=1e-15)


# --- consistency of the one-pass evaluation ----------------------------------------------------------------

def test_single_functions_equal_pixel_metrics(two_regions):
    values = pixel_metrics(*two_regions)
    assert pixel_auroc(*two_regions) == values["pixel_AUROC"]
    assert pixel_ap(*two_regions) == values["pixel_AP"]
    assert pixel_f1_max(*two_regions) == values["pixel_F1_max"]
    assert au_pro(*two_regions, fpr_limit=0.05) == values["pixel_AUPRO_05"]


def test_pixel_metrics_sorts_once():
    maps, masks = random_category(0, 1000, np.float32)
    with mock.patch.object(ranks, "_sorted_keys", wraps=ranks._sorted_keys) as sort, \
            mock.patch.object(np, "argsort", wraps=np.argsort) as argsort:
        pixel_metrics(maps, masks)
    assert sort.call_count == 1 and argsort.call_count == 0


def test_keys_follow_limits(two_regions):
    values = pixel_metrics(*two_regions, fpr_limits=(0.05, 0.3, 1.0))
    assert values.keys() == {"pixel_AUROC", "pixel_AP", "pixel_F1_max", "pixel_PRO", "pixel_AUPRO", "pixel_AUPRO_05",
                             "pixel_AUPRO_30", "pixel_AUPRO_100"}
    assert values["pixel_AUPRO"] == values["pixel_AUPRO_05"]


def test_tie_groups_spanning_chunks():
    """A tie group much longer than a chunk, across chunk borders, on both sorting paths."""
    rng = np.random.default_rng(1)
    masks = rng.random((3, 9, 9)) < 0.2
    scores = np.where(rng.random((3, 9, 9)) < 0.7, 0.25, rng.random((3, 9, 9)))
    expected = pixel_metrics(scores.astype(np.float32), masks)
    with mock.patch.object(checks, "_CHUNK_SIZE", 5), mock.patch.object(ranks, "_CHUNK_SIZE", 5):
        for dtype in (np.float32, np.float64):
            assert pixel_metrics(scores.astype(dtype), masks) == pytest.approx(expected, abs=1e-12)


def test_float64_scores_are_not_rounded_to_float32():
    scores, labels = np.array([1.0, 1.0 + 1e-12]), np.array([0, 1])
    assert image_auroc(scores, labels) == 1.0
    assert pixel_auroc(scores.reshape(1, 1, 2), labels.reshape(1, 1, 2)) == 1.0


def test_mixed_float32_and_float64_maps_are_promoted_not_rounded():
    """A float64 map after a float32 one: rounding it to float32 would tie its defect pixels (1 + 1e-9,
    1 + 2e-9) with the defect-free 1.0 of the first map (AUROC 0.75 instead of 1)."""
    maps = [np.array([[1.0, 0.0]], dtype=np.float32), np.array([[1.0 + 1e-9, 1.0 + 2e-9]])]
    masks = [np.array([[0, 0]]), np.array([[1, 1]])]
    assert pixel_metrics(maps, masks)["pixel_AUROC"] == 1.0
    assert pixel_metrics(maps[::-1], masks[::-1])["pixel_AUROC"] == 1.0
    assert pixel_metrics(list(np.stack(maps)), masks) == pixel_metrics(np.stack(maps), np.stack(masks))
    assert pixel_metrics(maps, masks) == pixel_metrics(np.stack(maps), np.stack(masks))
    image_scores = [np.float32(1.0), np.float64(1.0 + 1e-9)]
    assert image_auroc(image_scores, [0, 1]) == 1.0
    assert f1_optimal_threshold(image_scores, [0, 1]) == (1.0 + 1e-9, 1.0)


def test_negative_and_positive_zero_tie():
    for dtype in (np.float32, np.float64):
        scores = np.array([-0.0, 0.0, 0.0, -1.0], dtype=dtype)
        assert image_auroc(scores, np.array([1, 0, 0, 0])) == pytest.approx(2 / 3)
        assert image_auroc(scores, np.array([0, 1, 0, 0])) == pytest.approx(2 / 3)


@pytest.mark.parametrize("encode", [lambda m: m.astype(bool), lambda m: m * 255, lambda m: m.astype(np.float32),
                                    lambda m: (m * 255).astype(np.uint8)[:, None]])
def test_mask_encodings_agree(two_regions, encode):
    scores, mask = two_regions
    assert pixel_metrics(scores, encode(mask)) == pixel_metrics(scores, mask)


def test_channel_axis_is_squeezed(two_regions):
    scores, mask = two_regions
    assert pixel_metrics(scores[:, None], mask) == pixel_metrics(scores, mask)


# --- bad input ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_scores_are_rejected(two_regions, bad):
    scores, mask = two_regions
    scores = scores.copy()
    scores[0, 2, 1] = bad
    for call in (pixel_metrics, pro_curve, pixel_auroc, f1_optimal_threshold):
        with pytest.raises(ValueError, match="NaN or infinite"):
            call(scores, mask)
    with pytest.raises(ValueError, match="NaN or infinite"):
        image_metrics(np.array([0.1, bad]), np.array([0, 1]))
    with pytest.raises(ValueError, match="NaN or infinite"):
        resize_maps_to(scores, (8, 8))


def test_non_finite_masks_are_rejected(two_regions):
    scores, mask = two_regions
    with pytest.raises(ValueError, match=r"masks contain NaN or infinite values \(image 0\)"):
        pixel_metrics(scores, np.where(mask > 0, np.nan, 0.0))


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 4, 4\).*\(2, 4, 5\)"):
        pixel_metrics(np.zeros((2, 4, 4)), np.zeros((2, 4, 5)))
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        image_metrics(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        pixel_metrics(np.zeros((4, 4)), np.zeros((4, 4)))


def test_bad_fpr_limit():
    with pytest.raises(ValueError, match="FPR limits"):
        pixel_metrics(np.zeros((1, 2, 2)), np.ones((1, 2, 2)), fpr_limits=(0.0,))


def test_no_anomalous_pixel_gives_nan_and_a_reason(caplog, two_regions):
    scores, _ = two_regions
    with caplog.at_level(logging.WARNING, logger="iadbench.metrics.measures"):
        values = pixel_metrics(scores, np.zeros(scores.shape, dtype=bool))
        curve = pro_curve(scores, np.zeros(scores.shape, dtype=bool))
    assert all(np.isnan(value) for value in values.values())
    assert np.isnan(curve[0]).all() and np.isnan(curve[1]).all()
    assert "none of the 16 pixels" in caplog.text and "anomalous" in caplog.text


def test_no_anomalous_image_gives_nan_and_a_reason(caplog):
    with caplog.at_level(logging.WARNING, logger="iadbench.metrics.measures"):
        values = image_metrics(np.array([0.2, 0.4]), np.array([0, 0]))
    assert all(np.isnan(value) for value in values.values())
    assert "none of the 2 images is anomalous" in caplog.text
    assert np.isnan(f1_optimal_threshold(np.array([0.2, 0.4]), np.array([0, 0]))).all()


def test_no_defect_free_pixel(caplog, two_regions):
    scores, _ = two_regions
    with caplog.at_level(logging.WARNING, logger="iadbench.metrics.measures"):
        values = pixel_metrics(scores, np.ones(scores.shape))
    assert np.isnan(values["pixel_AUROC"]) and np.isnan(values["pixel_AUPRO"])
    assert values["pixel_AP"] == 1.0 and values["pixel_F1_max"] == 1.0
    assert "none defect-free" in caplog.text


# --- resizing -------------------------------------------------------------------------------------------

def test_resize_by_hand():
    np.testing.assert_allclose(resize_maps_to(np.array([[[0.0, 1.0]]]), (1, 4)), [[[0, 0.25, 0.75, 1]]])
    assert resize_maps_to(np.zeros((2, 1, 3, 3), np.float16), (5, 6)).shape == (2, 1, 5, 6)
    assert resize_maps_to(np.zeros((2, 3, 3)), (5, 6)).dtype == np.float64


RESIZE_SHAPES = [(37, 53), (16, 16), (5, 7)]


@pytest.mark.parametrize("shape", RESIZE_SHAPES)
def test_resize_matches_opencv_inter_linear(shape):
    cv2 = pytest.importorskip("cv2")
    maps = np.random.default_rng(2).random((3, 16, 16), dtype=np.float32)
    resized = resize_maps_to(maps, shape)
    assert resized.dtype == np.float32 and resized.shape == (3, *shape)
    for image, result in zip(maps, resized, strict=True):
        np.testing.assert_allclose(result, cv2.resize(image, shape[::-1], interpolation=cv2.INTER_LINEAR),
                                   atol=1e-5)


@pytest.mark.slow  # importing torch takes seconds
def test_resize_matches_torch_bilinear():
    torch = pytest.importorskip("torch")
    maps = np.random.default_rng(2).random((3, 16, 16), dtype=np.float32)
    for shape in RESIZE_SHAPES:
        expected = torch.nn.functional.interpolate(torch.from_numpy(maps)[:, None], size=shape,
                                                   mode="bilinear", align_corners=False)[:, 0].numpy()
        np.testing.assert_allclose(resize_maps_to(maps, shape), expected, atol=1e-6)


# --- properties: scikit-learn and the official PRO algorithm as oracles ----------------------------------

ties_or_not = st.sampled_from([2, 5, 50, 1 << 20])


@settings(max_examples=60, deadline=None)
@given(scores=hnp.arrays(np.float64, st.integers(1, 60), elements=st.integers(-3, 3).map(float)
                         | st.floats(-1e3, 1e3, width=32)),
       data=st.data())
def test_image_metrics_match_sklearn(scores, data):
    labels = data.draw(hnp.arrays(np.uint8, scores.shape, elements=st.integers(0, 1)))
    values = image_metrics(scores, labels)
    if 0 < labels.sum() < labels.size:
        assert values["image_AUROC"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    else:
        assert np.isnan(values["image_AUROC"])
    if labels.any():
        assert values["image_AP"] == pytest.approx(average_precision_score(labels, scores), abs=1e-12)
        assert values["image_F1_max"] == pytest.approx(literal_f1_max(scores, labels), abs=1e-12)
        threshold, f1 = f1_optimal_threshold(scores, labels)
        assert threshold in scores and f1 == pytest.approx(values["image_F1_max"], abs=1e-15)
        assert literal_f1(scores, labels, threshold) == pytest.approx(f1, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), levels=ties_or_not, dtype=st.sampled_from([np.float32, np.float64]),
       chunk=st.sampled_from([3, 64, 1 << 20]))
def test_pixel_metrics_match_sklearn_and_official_pro(seed, levels, dtype, chunk):
    maps, masks = random_category(seed, levels, dtype)
    with mock.patch.object(checks, "_CHUNK_SIZE", chunk), mock.patch.object(ranks, "_CHUNK_SIZE", chunk):
        values = pixel_metrics(maps, masks, fpr_limits=(0.3, 0.05, 1.0))
        fpr, pro = pro_curve(maps, masks)
    positive = (masks > 0).ravel()
    if not positive.any() or positive.all():
        assert np.isnan(values["pixel_AUROC"]) and np.isnan(values["pixel_AUPRO"])
        return
    assert values["pixel_AUROC"] == pytest.approx(roc_auc_score(positive, maps.ravel()), abs=1e-12)
    assert values["pixel_AP"] == pytest.approx(average_precision_score(positive, maps.ravel()), abs=1e-12)
    assert values["pixel_F1_max"] == pytest.approx(literal_f1_max(maps, masks), abs=1e-12)
    official_fpr, official_pro = reference_pro(maps, masks)
    literal_fpr, literal_pro = literal_pro_curve(maps, masks)
    np.testing.assert_allclose(fpr, official_fpr, atol=1e-12)
    np.testing.assert_allclose(pro, official_pro, atol=1e-12)
    np.testing.assert_allclose(pro, literal_pro, atol=1e-12)
    np.testing.assert_allclose(fpr, literal_fpr, atol=1e-12)
    for limit, key in ((0.3, "pixel_AUPRO_30"), (0.05, "pixel_AUPRO_05"), (1.0, "pixel_AUPRO_100")):
        official = reference_trapezoid(official_fpr, official_pro, limit) / limit
        assert values[key] == pytest.approx(official, abs=1e-12)
        assert values[key] == pytest.approx(literal_normalised_area(literal_fpr, literal_pro, limit), abs=1e-12)


def _mixed_size_category(seed: int):
    """Three images of different sizes (like Kolektor at native resolution), with defects and ties."""
    rng = np.random.default_rng(seed)
    maps, masks = [], []
    for height, width in ((9, 7), (12, 7), (5, 11)):
        mask = np.zeros((height, width), np.uint8)
        top, left = rng.integers(0, height - 3), rng.integers(0, width - 3)
        mask[top:top + 3, left:left + 2] = 1
        maps.append(rng.integers(0, 6, size=(height, width)).astype(np.float32) + 2.0 * mask)
        masks.append(mask)
    return maps, masks


@pytest.mark.parametrize("seed", range(5))
def test_images_of_different_sizes_are_pooled_like_equal_ones(seed):
    maps, masks = _mixed_size_category(seed)
    values = pixel_metrics(maps, masks, fpr_limits=(0.3, 1.0))
    scores = np.concatenate([one_map.ravel() for one_map in maps])
    positive = np.concatenate([one_mask.ravel() for one_mask in masks]) > 0
    assert values["pixel_AUROC"] == pytest.approx(roc_auc_score(positive, scores), abs=1e-12)
    assert values["pixel_AP"] == pytest.approx(average_precision_score(positive, scores), abs=1e-12)
    official_fpr, official_pro = reference_pro(maps, masks)
    for limit, key in ((0.3, "pixel_AUPRO_30"), (1.0, "pixel_AUPRO_100")):
        official = reference_trapezoid(official_fpr, official_pro, limit) / limit
        assert values[key] == pytest.approx(official, abs=1e-12)


def test_equal_size_list_equals_stack(two_regions):
    maps, masks = two_regions
    assert pixel_metrics(list(maps), list(masks)) == pixel_metrics(maps, masks)


def test_mixed_size_mismatch_names_the_image():
    maps, masks = _mixed_size_category(0)
    masks[1] = masks[1][:, :-1]
    with pytest.raises(ValueError, match=r"anomaly map 1 of shape \(12, 7\) does not match its mask"):
        pixel_metrics(maps, masks)
