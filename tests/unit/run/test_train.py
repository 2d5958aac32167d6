import json

import numpy as np
import pytest

from iadbench.run.predictions import load_predictions
from iadbench.run.train import train_job

SPEC = {"init_args": {"backbone": "resnet18", "layers": ["layer1", "layer2"]}, "max_epochs": 1,
        "train_batch_size": 4, "eval_batch_size": 4}


@pytest.mark.slow
def test_train_job_saves_raw_predictions(tiny_dataset, tmp_path):
    info = train_job(dataset_root=tiny_dataset, category="washer", model_name="padim", model_spec=SPEC, seed=0,
                     image_size=64, weights="random", out_dir=tmp_path)
    assert info["status"] == "ok", info["error_tail"]
    assert json.loads((tmp_path / "train_info.json").read_text())["status"] == "ok"
    assert (tmp_path / "model.ckpt").stat().st_size > 0
    predictions = load_predictions(tmp_path / "predictions.npz")
    n_test = 3 + 2 * 3  # good + 2 per defect type (washer has 3)
    assert predictions["scores"].shape == (n_test,)
    assert predictions["maps"].shape == predictions["masks"].shape == (n_test, 64, 64)
    assert predictions["labels"].sum() == 6
    assert all(bool(path) == bool(label) for path, label in zip(predictions["mask_paths"], predictions["labels"]))
    assert np.isfinite(predictions["scores"]).all()
    assert info["n_train"] == 6 and info["n_parameters"] > 0 and info["peak_rss_mb"] > 0
    assert info["task_type"] == "segmentation"


@pytest.mark.slow
def test_failing_model_still_writes_a_failed_record(tiny_dataset, tmp_path):
    spec = {**SPEC, "init_args": {"backbone": "no_such_backbone"}}
    info = train_job(dataset_root=tiny_dataset, category="washer", model_name="padim", model_spec=spec, seed=0,
                     image_size=64, weights="random", out_dir=tmp_path)
    assert info["status"] == "failed" and info["error_type"]
    assert "no_such_backbone" in info["error_tail"]
    assert (tmp_path / "predictions.npz").exists() and (tmp_path / "model.ckpt").exists()


def test_pretrained_true_with_random_weights_is_refused(tmp_path):
    from anomalib.models import Padim

    from iadbench.models.random_weights import random_weights_init_args

    assert random_weights_init_args("padim", Padim, {}, tmp_path)["pre_trained"] is False
    with pytest.raises(ValueError, match="contradicts"):
        random_weights_init_args("padim", Padim, {"pre_trained": True}, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize(("model_class", "error_type"), [("KilledPadim", "KilledSIGKILL"),
                                                          ("RaisingPadim", "RuntimeError")])
def test_isolated_job_failure_leaves_failed_record(tiny_dataset, tmp_path, monkeypatch, repo_root,
                                                   model_class, error_type):
    from iadbench.run.attempts import RetryWithMoreResources, read_ledger
    from iadbench.run.jobs import run_training

    monkeypatch.setenv("PYTHONPATH", str(repo_root / "tests" / "support"))
    log = tmp_path / "job.log"
    log.write_text("earlier output of this job\n")
    spec = {**SPEC, "class_path": f"misbehaving_models.{model_class}"}
    out = tmp_path / "results" / "train" / "embedded" / "washer" / "padim" / "0"
    job = {"log_path": log, "dataset_root": str(tiny_dataset), "category": "washer", "model_name": "padim",
               "model_spec": spec, "seed": 0, "image_size": 64, "weights": "random", "out_dir": str(out),
               "results_dir": tmp_path / "results", "final_attempt": 2,
               "extra_info": {"git_commit": "abc123", "train_config_hash": "f00"}}
    if model_class == "KilledPadim":  # out of memory: the first attempt of two fails the job, for a retry
        with pytest.raises(RetryWithMoreResources):
            run_training(attempt=1, **job)
        assert not (out / "train_info.json").exists()
    info = run_training(attempt=2, **job)
    assert info["status"] == "failed" and info["error_type"].startswith(error_type)
    assert json.loads((out / "train_info.json").read_text())["status"] == "failed"
    assert (out / "predictions.npz").exists()
    # A failed record keeps its provenance: where and with what it ran.
    assert info["git_commit"] == "abc123" and info["hostname"] and info["torch_version"] and info["gpu"]
    assert info["max_epochs"] == 1 and info["train_config_hash"] == "f00"
    assert info["attempts"] == len(read_ledger(out)) == (2 if model_class == "KilledPadim" else 1)
    if model_class == "KilledPadim":
        assert "earlier output of this job" in info["error_tail"]


def test_random_weights_reach_parent_constructors(tmp_path):
    from anomalib.models import Padim

    from iadbench.models.random_weights import random_weights_init_args
    from iadbench.models.registry import accepts_argument

    class Subclass(Padim):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)

    assert accepts_argument(Subclass, "pre_trained")
    assert not accepts_argument(Subclass, "no_such_argument")
    assert random_weights_init_args("sub", Subclass, {}, tmp_path) == {"pre_trained": False}


@pytest.mark.slow
def test_fit_seconds_leave_out_validation(tiny_dataset, tmp_path):
    """PaDiM trains in one epoch; anomalib then validates on the test set each epoch: not training time."""
    spec = {**SPEC, "max_epochs": 2}
    info = train_job(dataset_root=tiny_dataset, category="washer", model_name="padim", model_spec=spec, seed=0,
                     image_size=64, weights="random", out_dir=tmp_path)
    assert info["status"] == "ok", info["error_tail"]
    assert 0 < info["fit_seconds"] < info["fit_wall_seconds"]
