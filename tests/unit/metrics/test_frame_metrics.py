"""Frame-level AUROC of the video track, micro (frames pooled) and macro (mean over videos), vs scikit-learn."""

import logging
import math

import numpy as np
import pytest
from metrics_oracles import reference_frame_auroc_macro
from sklearn.metrics import roc_auc_score

from iadbench.metrics.measures import frame_auroc, frame_auroc_macro

# Three hand-built videos: "a" mixed, "b" all anomalous (no macro AUROC), "c" mixed with ties across classes.
SCORES = np.array([0.1, 0.4, 0.35, 0.8,   0.9, 0.7, 0.2,   0.3, 0.3, 0.6, 0.6, 0.1, 0.3])
LABELS = np.array([0, 0, 1, 1,            1, 1, 1,         0, 1, 1, 0, 0, 1])
VIDEOS = np.array(["a"] * 4 + ["b"] * 3 + ["c"] * 6)


def test_micro_pools_all_frames_like_sklearn():
    assert frame_auroc(SCORES, LABELS) == pytest.approx(roc_auc_score(LABELS, SCORES), abs=1e-12)


def test_micro_by_hand():
    # normal 0.1, 0.4; anomalous 0.35, 0.8: pairs (0.35>0.1), (0.35<0.4), (0.8>0.1), (0.8>0.4) -> 3/4
    assert frame_auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75


def test_macro_excludes_the_all_anomalous_video_and_counts_it():
    mean, used, excluded = frame_auroc_macro(SCORES, LABELS, VIDEOS)
    per_video = [roc_auc_score(LABELS[VIDEOS == v], SCORES[VIDEOS == v]) for v in ("a", "c")]
    assert (used, excluded) == (2, 1)
    assert mean == pytest.approx(np.mean(per_video), abs=1e-12)
    # by hand: a = 0.75; c: normal 0.3, 0.6, 0.1 vs anomalous 0.3, 0.6, 0.3 -> (1.5 + 2.5 + 1.5) / 9
    assert mean == pytest.approx((0.75 + 5.5 / 9) / 2, abs=1e-12)


def test_all_anomalous_video_counts_in_micro_but_not_macro():
    """The all-anomalous video changes micro (its frames pool with the others) but not macro."""
    keep = VIDEOS != "b"
    assert frame_auroc(SCORES, LABELS) != pytest.approx(frame_auroc(SCORES[keep], LABELS[keep]))
    assert frame_auroc_macro(SCORES, LABELS, VIDEOS)[0] == frame_auroc_macro(SCORES[keep], LABELS[keep],
                                                                              VIDEOS[keep])[0]


def test_ties_enter_together():
    scores, labels = np.array([0.5, 0.5, 0.5, 0.5]), np.array([0, 1, 0, 1])
    assert frame_auroc(scores, labels) == 0.5
    assert frame_auroc_macro(scores, labels, ["v"] * 4) == (0.5, 1, 0)


def test_single_video_macro_equals_micro():
    scores, labels = SCORES[VIDEOS == "c"], LABELS[VIDEOS == "c"]
    mean, used, excluded = frame_auroc_macro(scores, labels, ["c"] * scores.size)
    assert (mean, used, excluded) == (frame_auroc(scores, labels), 1, 0)


def test_interleaved_frames_and_integer_ids():
    order = np.random.default_rng(0).permutation(SCORES.size)
    ids = np.unique(VIDEOS, return_inverse=True)[1]
    assert frame_auroc_macro(SCORES[order], LABELS[order], ids[order]) == pytest.approx(
        frame_auroc_macro(SCORES, LABELS, VIDEOS))


@pytest.mark.parametrize("seed", range(20))
def test_random_sequences_against_sklearn(seed):
    rng = np.random.default_rng(seed)
    n_videos = int(rng.integers(1, 6))
    lengths = rng.integers(1, 40, size=n_videos)
    videos = np.repeat([f"video_{i:02d}" for i in range(n_videos)], lengths)
    labels = np.concatenate([rng.random(n) < rng.choice([0.0, 0.3, 1.0]) for n in lengths]).astype(int)
    scores = np.round(rng.random(videos.size), 1)  # coarse: many ties, within and across classes
    expected = reference_frame_auroc_macro(scores, labels, videos)
    mean, used, excluded = frame_auroc_macro(scores, labels, videos)
    assert (used, excluded) == expected[1:]
    assert (math.isnan(mean) and math.isnan(expected[0])) or mean == pytest.approx(expected[0], abs=1e-12)
    if 0 < labels.sum() < labels.size:
        assert frame_auroc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    else:
        assert math.isnan(frame_auroc(scores, labels))


def test_no_usable_video_gives_nan_and_says_why(caplog):
    with caplog.at_level(logging.WARNING, logger="iadbench.metrics.measures"):
        mean, used, excluded = frame_auroc_macro([0.1, 0.2, 0.3], [1, 1, 0], ["x", "x", "y"])
    assert math.isnan(mean) and (used, excluded) == (0, 2)
    assert "none of the 2 videos" in caplog.text and "x, y" in caplog.text


def test_micro_with_one_class_is_nan():
    assert math.isnan(frame_auroc([0.1, 0.9], [1, 1]))


@pytest.mark.parametrize("call, message", [
    (lambda: frame_auroc([0.1, 0.2, 0.3], [0, 1]), "3 frame scores but 2 frame labels"),
    (lambda: frame_auroc_macro([0.1, 0.2], [0, 1], ["a"]), "video ids of shape"),
    (lambda: frame_auroc(np.zeros((2, 2)), np.zeros((2, 2))), "must be 1-D"),
    (lambda: frame_auroc([], []), "empty"),
    (lambda: frame_auroc_macro([], [], []), "empty"),
    (lambda: frame_auroc([0.1, float("nan")], [0, 1]), "frame scores contain NaN"),
    (lambda: frame_auroc_macro([0.1, 0.2, float("inf")], [0, 1, 1], ["a", "a", "b"]), "frame 2"),
    (lambda: frame_auroc(["x", "y"], [0, 1]), "real numbers"),
])
def test_bad_input_is_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
