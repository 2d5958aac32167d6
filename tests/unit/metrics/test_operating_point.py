"""The operating point: hold-out rule, threshold rule and the metrics at it, against hand-computed cases."""

import math

import numpy as np
import pytest

from iadbench.datasets import holdout
from iadbench.metrics import operating_point as op


def test_holdout_count_rule():
    assert holdout.holdout_count(24, 0.1, 5) == 5          # the minimum wins over ceil(2.4) = 3
    assert holdout.holdout_count(100, 0.1, 5) == 10        # the share wins
    assert holdout.holdout_count(6, 0.1, 5) == 3           # never more than half
    assert holdout.holdout_count(1, 0.1, 5) == 0
    assert holdout.holdout_count(24, 0.1, 1) == 3     # the defaults: ceil(0.1 * 24)
    assert holdout.holdout_count(5, 0.1, 1) == 1      # at least one image: the fewest a threshold needs
    assert holdout.holdout_count(100, 0.0, 5) == 0    # holdout_share 0: nothing held out, whatever the minimum
    assert holdout.holdout_count(2, 0.1, 1) == 0      # training keeps two images (one gives PaDiM NaN maps)
    assert holdout.holdout_count(3, 0.1, 1) == 1
    assert holdout.holdout_count(4, 0.5, 5) == 2


def test_no_holdout_trains_on_everything():
    paths = [f"train/good/{index:03d}.png" for index in range(20)]
    assert holdout.holdout_paths(paths, seed=0, share=0.0, minimum=1) == []
    assert holdout.holdout_paths(paths, seed=0, share=0.0, minimum=1, group_of={"000.png": "a"}) == []


def test_holdout_is_seeded_and_a_subset():
    paths = [f"train/good/{index:03d}.png" for index in range(20)]
    first = holdout.holdout_paths(reversed(paths), seed=0, share=0.1, minimum=5)
    assert first == holdout.holdout_paths(paths, seed=0, share=0.1, minimum=5)  # order of the input is irrelevant
    assert len(first) == 5 and set(first) <= set(paths)
    assert first != holdout.holdout_paths(paths, seed=1, share=0.1, minimum=5)


def test_threshold_for_target_fpr_by_hand():
    scores = np.arange(1.0, 11.0)  # 1..10
    # 10 % of 10 scores: one false positive allowed: only the score 10 is above the threshold.
    threshold = op.threshold_for_fpr(scores, 0.1)
    assert 9.0 < threshold <= 10.0 and np.mean(scores >= threshold) == pytest.approx(0.1)
    # 5 % of 10: none allowed: the threshold lies just above the highest normal score.
    assert op.threshold_for_fpr(scores, 0.05) == np.nextafter(10.0, np.inf)
    # Ties at the cut: none of the tied scores may be flagged, so the FPR stays below the target.
    tied = np.array([1.0, 2.0, 5.0, 5.0, 5.0])
    assert np.mean(tied >= op.threshold_for_fpr(tied, 0.4)) == 0.0
    assert math.isnan(op.threshold_for_fpr([], 0.05))
    with pytest.raises(ValueError, match="target_fpr"):
        op.threshold_for_fpr(scores, 1.5)


def test_metrics_at_threshold_by_hand():
    scores = [0.1, 0.4, 0.6, 0.8, 0.3, 0.9]
    labels = [0, 0, 0, 1, 1, 1]
    values = op.metrics_at(scores, labels, 0.5)
    # flagged: 0.6 (normal, FP), 0.8 and 0.9 (TP); 0.3 missed (FN). TP 2, FP 1, FN 1, TN 2.
    assert values == {"image_precision": 2 / 3, "image_recall": 2 / 3, "image_FPR": 1 / 3, "image_F1": 4 / 6}
    nothing = op.metrics_at(scores, labels, 5.0)
    assert math.isnan(nothing["image_precision"]) and nothing["image_recall"] == 0 and nothing["image_F1"] == 0


def test_operating_point_values_from_predictions():
    predictions = {"scores": np.array([0.1, 0.4, 0.6, 0.8, 0.3, 0.9]), "labels": np.array([0, 0, 0, 1, 1, 1]),
                   "calibration_scores": np.array([0.1, 0.2, 0.3, 0.5]), "calibration_source": np.asarray("validation")}
    values = op.operating_point_values(predictions, target_fpr=0.25)  # one of 4 may be flagged: above 0.3
    assert 0.3 < values["image_threshold"] <= 0.5 and values["op_calibration_FPR"] == 0.25
    assert values["image_recall"] == 2 / 3 and values["image_FPR"] == 2 / 3  # 0.4 and 0.6 flagged
    assert values["op_n_images"] == 4 and values["op_source"] == "validation"
    without = op.operating_point_values({"scores": predictions["scores"], "labels": predictions["labels"]}, 0.05)
    assert without["op_source"] == "none" and math.isnan(without["image_F1"])


def test_validation_split_is_preferred(tmp_path):
    assert holdout.calibration_rule(tmp_path) == holdout.HOLDOUT
    assert holdout.calibration_rule(tmp_path, 0.0) == holdout.NONE  # no split, no hold-out: no operating point
    (tmp_path / "validation" / "good").mkdir(parents=True)
    (tmp_path / "validation" / "good" / "000.png").write_bytes(b"")
    assert holdout.calibration_rule(tmp_path) == holdout.VALIDATION
    assert holdout.calibration_rule(tmp_path, 0.0) == holdout.VALIDATION  # the split never costs training images


def test_grouped_holdout_takes_whole_samples():
    paths = [f"train/good/S{sample}_C{view}.jpg" for sample in range(6) for view in range(1, 6)]
    group_of = {path.rsplit("/", 1)[1]: path.split("/")[-1].split("_")[0] for path in paths}
    held = holdout.holdout_paths(paths, seed=0, share=0.1, minimum=5, group_of=group_of)
    assert len(held) == 5 and len({group_of[path.rsplit("/", 1)[1]] for path in held}) == 1  # one whole sample
    held = holdout.holdout_paths(paths, seed=0, share=0.2, minimum=5, group_of=group_of)  # 6 wanted: two samples
    assert len(held) == 10
    assert held == holdout.holdout_paths(list(reversed(paths)), seed=0, share=0.2, minimum=5, group_of=group_of)
