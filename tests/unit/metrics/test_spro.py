"""sPRO / AU-sPRO against hand-computed cases (the official MVTec LOCO AD definitions)."""

import numpy as np
import pytest

from iadbench.metrics import spro

CONFIGS = spro.parse_defects_config([
    {"defect_name": "missing_part", "pixel_value": 255, "saturation_threshold": 1.0, "relative_saturation": True},
    {"defect_name": "contamination", "pixel_value": 100, "saturation_threshold": 1, "relative_saturation": False},
    {"defect_name": "half", "pixel_value": 50, "saturation_threshold": 0.5, "relative_saturation": True},
    {"defect_name": "big", "pixel_value": 20, "saturation_threshold": 10, "relative_saturation": False},
])


def defect(pixels, shape, value):
    mask = np.zeros(shape, dtype=np.uint8)
    for row, col in pixels:
        mask[row, col] = value
    return mask


def test_saturation_area_rules():
    three = np.zeros((1, 4), dtype=np.uint8)
    three[0, :3] = 1
    assert spro.Defect(three > 0, CONFIGS[255]).saturation_area == 3   # relative 1.0: the whole defect
    assert spro.Defect(three > 0, CONFIGS[50]).saturation_area == 1    # int(0.5 * 3)
    assert spro.Defect(three > 0, CONFIGS[100]).saturation_area == 1   # absolute 1 pixel
    assert spro.Defect(three > 0, CONFIGS[20]).saturation_area == 3    # min(10, area 3)


def test_image_with_two_defects_of_different_types_by_hand():
    # Image A: "missing_part" (relative 1.0) on the scores 6, 5; "contamination" (absolute 1 px) on 4, 3;
    # defect-free pixels 1, 2. Image B (defect-free): 0.5, 7.
    map_a = np.array([[6.0, 5.0, 1.0], [4.0, 3.0, 2.0]])
    channels = np.stack([defect([(0, 0), (0, 1)], (2, 3), 255), defect([(1, 0), (1, 1)], (2, 3), 100)])
    defects_a = spro.defects_of(channels, CONFIGS)
    assert [d.config.defect_name for d in defects_a] == ["missing_part", "contamination"]
    fpr, mean_spro = spro.spro_curve([map_a, np.array([[0.5, 7.0]])], [defects_a, []])
    # Descending: 7 (FP) | 6 (missing 1/2) | 5 (missing 2/2) | 4 (contamination saturated: 1/1) | 3 | 2 | 1 | 0.5
    np.testing.assert_allclose(fpr, [0, .25, .25, .25, .25, .25, .5, .75, 1, 1])
    np.testing.assert_allclose(mean_spro, [0, 0, .25, .5, 1, 1, 1, 1, 1, 1])
    areas = spro.au_spro([map_a, np.array([[0.5, 7.0]])], [defects_a, []])
    assert areas[0.01] == 0 and areas[0.05] == 0
    assert areas[0.3] == pytest.approx(0.05 / 0.3)   # y = 1 from FPR 0.25 to 0.3
    assert areas[1.0] == pytest.approx(0.75)


def test_false_positives_use_the_union_of_an_images_masks():
    # Overlapping defects: a pixel inside either mask is never a false positive.
    map_a = np.array([[3.0, 2.0, 1.0]])
    first = spro.Defect(np.array([[True, True, False]]), CONFIGS[255])
    second = spro.Defect(np.array([[False, True, False]]), CONFIGS[255])
    fpr, mean_spro = spro.spro_curve([map_a], [[first, second]])
    np.testing.assert_allclose(fpr, [0, 0, 0, 1, 1])
    np.testing.assert_allclose(mean_spro, [0, .25, 1, 1, 1])


def test_area_up_to_interpolates_at_the_limit():
    fpr, y = np.array([0.0, 0.2, 1.0]), np.array([0.0, 1.0, 1.0])
    assert spro.area_up_to(fpr, y, 0.1) == pytest.approx(0.5 * 0.5 * 0.1 / 0.1)
    assert spro.area_up_to(fpr, y, 1.0) == pytest.approx(0.1 + 0.8)


def test_bad_ground_truth_is_named():
    with pytest.raises(ValueError, match="pixel value 7"):
        spro.defects_of(np.full((1, 2, 2), 7, dtype=np.uint8), CONFIGS, "x.npz")
    with pytest.raises(ValueError, match="exactly one positive value"):
        spro.defects_of(np.array([[[0, 255], [100, 0]]], dtype=np.uint8), CONFIGS, "x.npz")
    with pytest.raises(ValueError, match="must be an integer"):
        spro.parse_defects_config([{"defect_name": "a", "pixel_value": 1, "saturation_threshold": 0.5,
                                    "relative_saturation": False}])
    with pytest.raises(ValueError, match="at least one defect"):
        spro.spro_curve([np.zeros((2, 2))], [[]])
