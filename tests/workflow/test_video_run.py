"""`config/video.yaml` end to end (the shared `finished_video_run`): every test frame of the embedded video
set scored exactly once by each video model, and rows of the video track."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from iadbench.run.predictions import load_predictions

pytestmark = pytest.mark.slow
MODELS = ("ai_vad", "fuvas")


def test_every_test_frame_is_scored_exactly_once(finished_video_run):
    test_dir = finished_video_run / "resources" / "datasets" / "embedded_video" / "walkway" / "Test"
    frames = sorted((video.name, int(frame.stem) - 1) for video in test_dir.iterdir()
                    if not video.name.endswith("_gt") for frame in video.glob("*.tif"))
    assert len(frames) == 2 * 5
    for model in MODELS:
        predictions = load_predictions(
            finished_video_run / "results" / "train" / "one_class" / "embedded_video" / "walkway" / model / "0" / "predictions.npz")
        scored = list(zip(predictions["video_ids"].tolist(), predictions["frame_indices"].tolist(), strict=True))
        assert sorted(scored) == frames and len(set(scored)) == len(scored), model
        assert np.isfinite(predictions["scores"]).all(), model
        assert predictions["maps"].shape[0] == predictions["masks"].shape[0] == len(frames), model
        assert all(Path(path).is_file() for path in predictions["mask_paths"]), model


def test_video_rows(finished_video_run):
    rows = pd.read_parquet(finished_video_run / "results" / "benchmark.parquet")
    assert sorted(rows["model"]) == list(MODELS)
    assert (rows["status"] == "ok").all(), rows[["model", "error_tail"]].to_string()
    assert (rows["track"] == "video").all() and (rows["n_frames"] == 10).all() and (rows["n_videos"] == 2).all()
    assert (rows["n_videos_excluded_macro"] == 0).all() and (rows["n_test_anomalous"] == 6).all()
    for column in ("frame_AUROC", "frame_AUROC_macro", "pixel_AUROC", "pixel_AUPRO"):
        assert rows[column].between(0, 1).all(), column
    assert rows[["image_AUROC", "image_AP", "image_F1_max"]].isna().all(axis=None)
    assert rows["timing_error"].str.startswith("video model: not timed").all()
    assert (finished_video_run / "results" / "report" / "index.html").is_file()
