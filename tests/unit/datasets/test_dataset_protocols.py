"""LOCO, Real-IAD and MVTec AD 2 protocols on hand-computed cases."""

import json

import numpy as np
import pytest
from PIL import Image

from iadbench.datasets import protocol_files
from iadbench.metrics import protocols
from iadbench.run import submission
from iadbench.run.protocols import loco_values, protocol_values

DEFECTS_CONFIG = [
    {"defect_name": "missing", "pixel_value": 255, "saturation_threshold": 1.0, "relative_saturation": True},
    {"defect_name": "scratch", "pixel_value": 100, "saturation_threshold": 1, "relative_saturation": False},
]


def loco_category(root):
    """good/000 and one image of each type, 2x2 px, with their per-defect masks."""
    category = root / "box"
    for kind in ("good", "logical_anomalies", "structural_anomalies"):
        (category / "test" / kind).mkdir(parents=True)
        Image.fromarray(np.zeros((2, 2), dtype=np.uint8)).save(category / "test" / kind / "000.png")
    (category / "defect_masks" / "logical_anomalies").mkdir(parents=True)
    (category / "defect_masks" / "structural_anomalies").mkdir(parents=True)
    np.savez(category / "defect_masks/logical_anomalies/000.npz", masks=np.array([[[255, 255], [0, 0]]], np.uint8))
    np.savez(category / "defect_masks/structural_anomalies/000.npz", masks=np.array([[[0, 0], [100, 100]]], np.uint8))
    (category / "defects_config.json").write_text(json.dumps(DEFECTS_CONFIG))
    return category


def test_loco_logical_structural_and_mean_by_hand(tmp_path):
    category = loco_category(tmp_path)
    kinds = ["good", "logical_anomalies", "structural_anomalies"]
    predictions = {
        "scores": np.array([0.2, 0.9, 0.1]), "labels": np.array([0, 1, 1]),
        "image_paths": np.array([str(category / "test" / kind / "000.png") for kind in kinds]),
        "maps": np.array([[[0, 0], [0, 1]], [[5, 0.5], [2, 0]], [[0, 0], [3, 0]]], dtype=np.float32),
        "dataset_type": np.asarray("mvtec_loco"),
    }
    values = protocol_values(predictions, kinds, target_fpr=0.05)
    # Logical set (good + logical): descending 5 (defect 1/2) | 2, 1 (FP) | 0.5 (defect 2/2) | 0 ...
    # curve (0,0) (0,.5) (1/6,.5) (2/6,.5) (2/6,1) (1,1): area .5 up to FPR 1/3, then 1.
    assert values["pixel_AUsPRO_05_logical"] == pytest.approx(0.5)
    assert values["pixel_AUsPRO_30_logical"] == pytest.approx(0.5)
    assert values["pixel_AUsPRO_100_logical"] == pytest.approx(0.5 / 3 + 2 / 3)
    # Structural: the absolute saturation (1 px) is reached by the top score 3, before any FP.
    assert values["pixel_AUsPRO_01_structural"] == pytest.approx(1.0)
    assert values["pixel_AUsPRO_30_mean"] == pytest.approx(0.75)
    assert values["pixel_AUsPRO_100_mean"] == pytest.approx(11 / 12)
    assert (values["image_AUROC_logical"], values["image_AUROC_structural"], values["image_AUROC_mean"]) == (1, 0, .5)


def test_loco_missing_masks_are_named(tmp_path):
    category = loco_category(tmp_path)
    (category / "defect_masks/logical_anomalies/000.npz").unlink()
    predictions = {"scores": np.array([0.2, 0.9]), "labels": np.array([0, 1]),
                   "image_paths": np.array([str(category / "test/good/000.png"),
                                            str(category / "test/logical_anomalies/000.png")]),
                   "maps": np.zeros((2, 2, 2), np.float32)}
    with pytest.raises(ValueError, match="logical_anomalies/000.npz"):
        loco_values(predictions, ["good", "logical_anomalies"])


def test_real_iad_sample_auroc_takes_the_max_over_views():
    # Samples: A normal (0.1, 0.3), B anomalous in one view (0.2, 0.25), C normal (0.05), D anomalous (0.9).
    scores = [0.1, 0.3, 0.2, 0.25, 0.05, 0.9]
    labels = [0, 0, 0, 1, 0, 1]
    ids = ["A", "A", "B", "B", "C", "D"]
    best, anomalous = protocols.sample_scores(scores, labels, ids)
    np.testing.assert_array_equal(best, [0.3, 0.25, 0.05, 0.9])
    np.testing.assert_array_equal(anomalous, [0, 1, 0, 1])
    assert protocols.sample_auroc(scores, labels, ids) == 0.75  # B loses to A only: 3 of 4 pairs


def test_real_iad_grouping_is_read_from_samples_json(tmp_path):
    category = tmp_path / "audiojack"
    (category / "test" / "good").mkdir(parents=True)
    (category / "samples.json").write_text(json.dumps({"OK__S0001__a_C1.jpg": "OK/S0001"}))
    assert protocol_files.sample_ids_of([category / "test/good/OK__S0001__a_C1.jpg"]) == ["OK/S0001"]
    with pytest.raises(ValueError, match="does not name the sample of b.jpg"):
        protocol_files.sample_ids_of([category / "test/good/b.jpg"])


def test_mvtec_ad_2_seg_f1_at_the_validation_threshold():
    assert protocols.validation_threshold([np.array([[1.0, 3.0]])]) == 5.0  # mean 2 + 3 * std 1
    maps = [np.array([[6.0, 4.0], [5.0, 0.0]])]
    masks = [np.array([[1, 1], [0, 0]])]
    assert protocols.seg_f1(maps, masks, 5.0) == 0.5  # TP 6, FP 5, FN 4: 2 / (2 + 1 + 1)
    predictions = {"scores": np.array([0.5]), "labels": np.array([1]), "dataset_type": np.asarray("mvtec_ad_2"),
                   "calibration_scores": np.array([0.1]), "calibration_maps": np.array([[[1.0, 3.0]]]),
                   "calibration_source": np.asarray("validation"), "calibration_paths": np.array(["v.png"])}
    values = protocol_values(predictions, ["bad"], target_fpr=0.05,
                             native_maps=[np.array([[6.0, 4.0]])], native_masks=[np.array([[1, 1]])])
    assert values["pixel_SegF1_threshold"] == 5.0 and values["pixel_SegF1"] == pytest.approx(2 / 3)


def test_mvtec_ad_2_submission_layout(tmp_path):
    import tifffile

    image = tmp_path / "source" / "can" / "test_private" / "000_regular.png"
    image.parent.mkdir(parents=True)
    Image.fromarray(np.zeros((4, 6, 3), dtype=np.uint8)).save(image)
    assert protocol_files.private_images(tmp_path / "source" / "can", "test_private") == [image]
    one_map = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], dtype=np.float32)
    written = submission.write_submission(tmp_path / "out", "can", "test_private", [image], [one_map], 2.5)
    tiff = tmp_path / "out/anomaly_images/can/test_private/000_regular.tiff"
    png = tmp_path / "out/anomaly_images_thresholded/can/test_private/000_regular.png"
    assert written == [tiff, png]
    stored = tifffile.imread(tiff)
    assert stored.dtype == np.float16 and stored.shape == (4, 6)
    binary = np.asarray(Image.open(png))
    assert binary.shape == (4, 6) and set(np.unique(binary)) == {0, 255}
    np.testing.assert_array_equal(binary == 255, stored.astype(np.float32) >= 2.5)
    with pytest.raises(ValueError, match="split must be one of"):
        submission.write_submission(tmp_path / "out", "can", "test_public", [image], [one_map], 2.5)
