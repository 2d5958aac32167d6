"""Training with an operating point: the held-out images leave training and get scored with the test set."""

import shutil

import numpy as np
import pytest

from iadbench.run.predictions import load_predictions
from iadbench.run.train import train_job

SPEC = {"init_args": {"backbone": "resnet18", "layers": ["layer1", "layer2"]}, "max_epochs": 1,
        "train_batch_size": 4, "eval_batch_size": 4}


@pytest.mark.slow
def test_holdout_images_are_excluded_from_training_and_scored(tiny_dataset, tmp_path):
    info = train_job(dataset_root=tiny_dataset, category="washer", model_name="padim", model_spec=SPEC, seed=0,
                     image_size=64, weights="random", out_dir=tmp_path,
                     operating_point={"holdout_share": 0.1, "holdout_min": 2, "target_fpr": 0.05})
    assert info["status"] == "ok", info["error_tail"]
    predictions = load_predictions(tmp_path / "predictions.npz")
    assert info["n_train"] == 4 and info["n_calibration"] == 2  # 6 training images, 2 held out
    held = [str(path) for path in predictions["calibration_paths"]]
    assert len(held) == 2 and all("/train/good/" in path for path in held)
    assert not set(held) & {str(path) for path in predictions["image_paths"]}
    assert predictions["calibration_scores"].shape == (2,) and np.isfinite(predictions["calibration_scores"]).all()
    assert predictions["calibration_maps"].shape == (2, 64, 64)
    assert str(predictions["calibration_source"]) == "train_holdout" and str(predictions["dataset_type"]) == "embedded"


@pytest.mark.slow
def test_validation_split_calibrates_and_training_keeps_every_image(tiny_dataset, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(tiny_dataset / "washer", root / "washer")
    (root / "washer" / "validation" / "good").mkdir(parents=True)
    for image in sorted((root / "washer" / "test" / "good").iterdir())[:2]:
        shutil.copy(image, root / "washer" / "validation" / "good" / f"val_{image.name}")
    info = train_job(dataset_root=root, category="washer", model_name="padim", model_spec=SPEC, seed=0,
                     image_size=64, weights="random", out_dir=tmp_path / "job", operating_point={})
    assert info["status"] == "ok", info["error_tail"]
    predictions = load_predictions(tmp_path / "job" / "predictions.npz")
    assert info["n_train"] == 6 and str(predictions["calibration_source"]) == "validation"
    assert all("/validation/good/" in str(path) for path in predictions["calibration_paths"])
    assert predictions["calibration_scores"].shape == (2,)


@pytest.mark.slow
def test_no_holdout_trains_on_every_image_and_has_no_operating_point(tiny_dataset, tmp_path):
    from iadbench.metrics.operating_point import operating_point_values

    info = train_job(dataset_root=tiny_dataset, category="washer", model_name="padim", model_spec=SPEC, seed=0,
                     image_size=64, weights="random", out_dir=tmp_path, operating_point={"holdout_share": 0})
    assert info["status"] == "ok", info["error_tail"]
    predictions = load_predictions(tmp_path / "predictions.npz")
    assert info["n_train"] == 6 and info["n_calibration"] == 0 and "calibration_scores" not in predictions
    values = operating_point_values(predictions, 0.05)
    assert values["op_source"] == "none" and np.isnan(values["image_F1"]) and values["op_n_images"] == 0
