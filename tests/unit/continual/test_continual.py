"""A continual step's parts: the union datamodule, PaDiM's
pooled Gaussians, and (slow) step 1 = the standalone job, accumulate = joint for PaDiM."""

import numpy as np
import pytest
import torch

from iadbench.continual.step import finish_step
from iadbench.core.files import read_json, write_json
from iadbench.datasets import datamodule_for, union_datamodule
from iadbench.run.continual_step import pool_gaussians
from iadbench.run.predictions import load_predictions
from iadbench.run.train import train_job


def test_pooled_gaussians_equal_the_gaussian_of_all_images():
    from anomalib.models.components.stats import MultiVariateGaussian

    generator = torch.Generator().manual_seed(0)
    first = torch.randn(7, 5, 3, 2, generator=generator)
    second = 2 + 0.5 * torch.randn(4, 5, 3, 2, generator=generator)
    fitted = [MultiVariateGaussian() for _ in range(3)]
    for gaussian, embedding in zip(fitted, (first, second, torch.cat([first, second]))):
        gaussian.fit(embedding)
    mean, inv_covariance = pool_gaussians(fitted[0].mean, fitted[0].inv_covariance, 7,
                                          fitted[1].mean, fitted[1].inv_covariance, 4)
    assert mean.dtype == torch.float32 and mean.shape == fitted[2].mean.shape
    torch.testing.assert_close(mean, fitted[2].mean, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(inv_covariance, fitted[2].inv_covariance, rtol=1e-3, atol=1e-4)


def test_union_datamodule(tiny_dataset):
    spec = {"type": "embedded"}
    single = union_datamodule(spec, tiny_dataset, ["washer"], num_workers=0)
    assert type(single) is type(datamodule_for(spec, tiny_dataset, "washer"))
    union = union_datamodule(spec, tiny_dataset, ["washer", "grass"], num_workers=0)
    union.setup()
    categories = {path.split("/")[-4] for path in union.train_data.samples.image_path}
    assert categories == {"washer", "grass"} and len(union.train_data) == 12  # 6 training images each
    assert {path.split("/")[-4] for path in union.test_data.samples.image_path} == {"washer", "grass"}


def test_a_failed_step_leaves_failed_inputs_for_every_evaluation(tmp_path):
    write_json(tmp_path / "train_info.json", {"status": "failed", "error_type": "ValueError", "error_tail": "x"})
    finish_step(tmp_path, ["a", "b"])
    for category in ("a", "b"):
        assert read_json(tmp_path / "predictions" / f"{category}.json")["status"] == "failed"
        assert load_predictions(tmp_path / "predictions" / f"{category}.npz")["scores"].size == 0


PADIM = {"init_args": {"backbone": "resnet18", "layers": ["layer1", "layer2"]}, "max_epochs": 1,
         "train_batch_size": 16, "eval_batch_size": 16}


def _step(tiny_dataset, out_dir, strategy, step, train, seen, previous=None):
    continual = {"step": step, "strategy": strategy, "train_categories": train, "seen_categories": seen,
                 "previous_dir": str(previous) if previous else None,
                 "accumulate": "padim" if strategy == "accumulate" else None}
    info = train_job(dataset_spec={"type": "embedded"}, dataset_root=tiny_dataset, category=train[0],
                     model_name="padim", model_spec=PADIM, seed=0, image_size=64, weights="random", out_dir=out_dir,
                     continual=continual)
    assert info["status"] == "ok", info.get("error_tail")
    finish_step(out_dir, seen)
    return info


@pytest.mark.slow
def test_step_one_is_the_standalone_job_and_padim_accumulate_is_joint(tiny_dataset, tmp_path):
    standalone = train_job(dataset_root=tiny_dataset, category="washer", model_name="padim", model_spec=PADIM,
                           seed=0, image_size=64, weights="random", out_dir=tmp_path / "standalone")
    first = _step(tiny_dataset, tmp_path / "step1", "accumulate", 1, ["washer"], ["washer"])
    alone, step_one = load_predictions(tmp_path / "standalone" / "predictions.npz"), load_predictions(
        tmp_path / "step1" / "predictions" / "washer.npz")
    assert alone.keys() == step_one.keys()
    for key in alone:
        np.testing.assert_array_equal(alone[key], step_one[key])
    assert read_json(tmp_path / "step1" / "predictions" / "washer.json")["n_test"] == standalone["n_test"]
    second = _step(tiny_dataset, tmp_path / "step2", "accumulate", 2, ["grass"], ["washer", "grass"],
                   previous=tmp_path / "step1")
    assert first["bank_images"] == 6 and second["bank_images"] == 12
    joint = _step(tiny_dataset, tmp_path / "joint2", "joint", 2, ["washer", "grass"], ["washer", "grass"])
    assert joint["n_train"] == 12
    for category in ("washer", "grass"):
        pooled = load_predictions(tmp_path / "step2" / "predictions" / f"{category}.npz")
        together = load_predictions(tmp_path / "joint2" / "predictions" / f"{category}.npz")
        np.testing.assert_allclose(pooled["scores"], together["scores"], rtol=1e-3)
        np.testing.assert_allclose(pooled["maps"], together["maps"], rtol=1e-3, atol=1e-3)
