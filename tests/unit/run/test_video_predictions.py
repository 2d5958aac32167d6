"""Video jobs: per-frame predictions (every test frame scored exactly once) and their evaluation row."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from sklearn.metrics import roc_auc_score

from iadbench.config.base import Job
from iadbench.core.files import write_json
from iadbench.datasets import datamodule_for, prepare
from iadbench.run import evaluate
from iadbench.run.predictions import assemble_video_predictions, save_predictions
from iadbench.stats import uncertainty

SPEC = {"type": "embedded_video", "generator": {"image_size": 32, "n_train_videos": 1, "n_test_videos": 3,
                                                "frames_per_video": 7}}


@pytest.fixture(scope="module")
def video_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("video")
    prepare.prepare_category(SPEC, root, "walkway")
    return root


def scored_batches(datamodule):
    """The test batches as a model would return them: score = 10 x video number + the clip's last frame,
    anomaly map = that score everywhere."""
    batches = []
    for batch in datamodule.test_dataloader():
        videos = torch.tensor([int(Path(path).name[-3:]) for path in batch.video_path])
        score = 10.0 * videos + batch.frames.float()
        batch.pred_score = score
        batch.anomaly_map = score[:, None, None, None].expand(-1, 1, *batch.gt_mask.shape[-2:]).clone()
        batches.append(batch)
    return batches


@pytest.mark.parametrize("clip_length", [1, 2, 3])
def test_every_test_frame_gets_exactly_one_score(video_root, clip_length):
    spec = {**SPEC, "clip_length_in_frames": clip_length, "frames_between_clips": 4}
    datamodule = datamodule_for(spec, video_root, "walkway", num_workers=0, eval_batch_size=4, seed=0)
    datamodule.setup()
    predictions = assemble_video_predictions(scored_batches(datamodule), datamodule.test_data)
    expected_ids = np.repeat(["Test001", "Test002", "Test003"], 7)
    assert predictions["video_ids"].tolist() == expected_ids.tolist()
    assert predictions["frame_indices"].tolist() == list(range(7)) * 3
    # Frame f: the clip ending at f; the first clip_length - 1 frames: the video's first clip.
    expected = [10.0 * video + max(frame, clip_length - 1) for video in (1, 2, 3) for frame in range(7)]
    assert predictions["scores"].tolist() == expected
    assert predictions["maps"].shape == (21, 32, 32) and predictions["maps"][:, 0, 0].tolist() == expected
    # Labels and masks are each frame's own, read back from its mask file.
    for index, (image, mask_path) in enumerate(zip(predictions["image_paths"], predictions["mask_paths"], strict=True)):
        frame, video = predictions["frame_indices"][index], predictions["video_ids"][index]
        assert Path(image) == video_root / "walkway" / "Test" / video / f"{frame + 1:03d}.tif"
        truth = np.asarray(Image.open(mask_path)) > 0
        assert predictions["labels"][index] == truth.any()
        assert (predictions["masks"][index] > 0).tolist() == truth.tolist()
    assert 0 < predictions["labels"].sum() < 21


def test_a_frame_scored_twice_or_missing_is_an_error(video_root):
    datamodule = datamodule_for(SPEC, video_root, "walkway", num_workers=0, eval_batch_size=4, seed=0)
    datamodule.setup()
    batches = scored_batches(datamodule)
    with pytest.raises(ValueError, match="scored twice"):
        assemble_video_predictions([*batches, batches[0]], datamodule.test_data)
    with pytest.raises(ValueError, match="expected every frame"):
        assemble_video_predictions(batches[1:], datamodule.test_data)


def video_predictions(scores, labels, ids, maps=None, masks=None):
    count = len(scores)
    return {"scores": np.asarray(scores, dtype=np.float64), "labels": np.asarray(labels, dtype=np.uint8),
            "maps": np.zeros(0) if maps is None else maps, "masks": np.zeros(0, np.uint8) if masks is None else masks,
            "image_paths": np.asarray([f"v.avi#{index}" for index in range(count)]),
            "mask_paths": np.asarray([""] * count), "video_ids": np.asarray(ids),
            "frame_indices": np.arange(count)}


def test_video_evaluation_micro_macro_and_counts():
    scores = [0.1, 0.9, 0.4, 0.8, 0.3, 0.7, 0.6, 0.65]
    labels = [0, 1, 0, 1, 0, 1, 1, 1]
    ids = ["a", "a", "a", "b", "b", "b", "c", "c"]  # c: all anomalous, excluded from the macro mean
    values = evaluate.evaluate_video_predictions(video_predictions(scores, labels, ids), "native", [0.3]).values
    assert values["frame_AUROC"] == pytest.approx(roc_auc_score(labels, scores))
    per_video = [roc_auc_score(labels[:3], scores[:3]), roc_auc_score(labels[3:6], scores[3:6])]
    assert values["frame_AUROC_macro"] == pytest.approx(np.mean(per_video))
    assert (values["n_videos"], values["n_videos_excluded_macro"], values["n_frames"]) == (3, 1, 8)
    assert values["pixel_metrics_applicable"] is False and "pixel_AUROC" not in values


def test_video_evaluation_pixel_metrics_from_saved_masks():
    masks = np.zeros((4, 8, 8), np.uint8)
    masks[1, 2:4, 2:4] = masks[3, 5:7, 5:7] = 1
    maps = masks.astype(np.float32) + np.linspace(0, 0.5, 4 * 64, dtype=np.float32).reshape(4, 8, 8)
    predictions = video_predictions([0, 1, 0, 1], [0, 1, 0, 1], ["a"] * 4, maps[:, ::2, ::2], masks)
    values = evaluate.evaluate_video_predictions(predictions, "native", [0.3]).values
    assert values["eval_resolution"] == "model"  # no mask files: the saved masks
    assert 0.5 < values["pixel_AUROC"] <= 1 and not np.isnan(values["pixel_AUPRO"])


def test_video_job_row(tmp_path):
    predictions = video_predictions([0.1, 0.9, 0.2, 0.8], [0, 1, 0, 1], ["a", "a", "b", "b"])
    save_predictions(tmp_path / "predictions.npz", predictions)
    write_json(tmp_path / "train_info.json", {"status": "ok", "track": "video", "n_test": 4})
    row = evaluate.evaluate_job(
        job=Job("video", "walkway", "ai_vad", 0), predictions_path=tmp_path / "predictions.npz",
        train_info_path=tmp_path / "train_info.json", row_path=tmp_path / "row.parquet", resolution="native",
        fpr_limits=[0.3], config_hash="x")
    assert row["track"].iloc[0] == "video" and row["frame_AUROC"].iloc[0] == 1.0
    assert row["n_frames"].iloc[0] == 4 and row["n_videos"].iloc[0] == 2 and row["n_test_anomalous"].iloc[0] == 2
    assert row[["image_AUROC", "image_AP", "pixel_AUROC", "image_AUROC_ci_low"]].isna().all(axis=None)
    assert len(pd.read_parquet(tmp_path / "scores.parquet")) == 4
    assert uncertainty.load_replicates(tmp_path / "bootstrap.npz") == {}  # no bootstrap over frames


def test_image_job_rows_say_image(tmp_path):
    save_predictions(tmp_path / "predictions.npz", {"scores": np.zeros(0)})
    write_json(tmp_path / "train_info.json", {"status": "failed", "error_type": "X"})
    row = evaluate.evaluate_job(
        job=Job("embedded", "brick", "padim", 0), predictions_path=tmp_path / "predictions.npz",
        train_info_path=tmp_path / "train_info.json", row_path=tmp_path / "row.parquet", resolution="native",
        fpr_limits=[0.3], config_hash="x")
    assert row["track"].iloc[0] == "image" and pd.isna(row["frame_AUROC"].iloc[0])


def test_video_jobs_are_not_timed(tmp_path):
    from iadbench.run.jobs import run_timing
    from iadbench.run.timing import VIDEO_NOT_TIMED

    write_json(tmp_path / "train_info.json", {"status": "ok", "track": "video"})
    models = {"ai_vad": {"checkpoint_path": tmp_path / "model.ckpt", "train_info_path": tmp_path / "train_info.json",
                         "model_spec": {}, "image_size": 64}}
    record = run_timing(models=models, weights="random", asset_dir=tmp_path, batch=2, budget_s=1, threads=1,
                        out_path=tmp_path / "timing.json")["ai_vad"]
    assert record["timing_error"] == VIDEO_NOT_TIMED and record["latency_ms_b1"] is None  # JSON null: NaN
    assert (tmp_path / "timing.json").is_file()
