import json
import shutil

import numpy as np
import pytest

from iadbench.run.predictions import load_predictions
from iadbench.serve.job_model import JobModelError, job_manifest, load_job_model, load_model_folder

JOB = ("embedded", "washer", "padim", 0)


def _scores(job_model, image_paths):
    """Image scores of ``image_paths`` through the loaded model (batch of all, the model's pre-processor)."""
    import torch
    from anomalib.data.utils import read_image

    images = torch.stack([read_image(path, as_tensor=True) for path in image_paths])
    with job_model.inference_guards(), torch.no_grad():
        model = job_model.model
        batch = model.pre_processor.transform(images) if model.pre_processor else images
        return model.model(batch).pred_score.numpy().reshape(-1)


@pytest.mark.slow
def test_manifest_carries_what_rebuilds_the_model(trained_job):
    results, config = trained_job
    manifest = job_manifest(results, *JOB, config)
    predictions = load_predictions(results / "train" / "one_class/embedded/washer/padim/0" / "predictions.npz")
    assert manifest["model_spec"] == config["models"]["padim"] and manifest["image_size"] == 64
    assert manifest["weights"] == "random" and manifest["dataset_type"] == "embedded"
    np.testing.assert_array_equal(manifest["test_scores"], predictions["scores"])
    assert manifest["test_labels"] == predictions["labels"].tolist()
    assert manifest["image_F1_threshold"] in manifest["test_scores"]
    assert manifest["metrics"] == {}  # not evaluated
    json.dumps(manifest)  # serialisable as iadbench_job.json


@pytest.mark.slow
def test_loaded_model_reproduces_the_jobs_scores(trained_job, tmp_path):
    results, config = trained_job
    predictions = load_predictions(results / "train" / "one_class/embedded/washer/padim/0" / "predictions.npz")
    job_model = load_job_model(results, *JOB, config)
    assert job_model.name == "one_class/embedded/washer/padim/0"
    np.testing.assert_allclose(_scores(job_model, predictions["image_paths"]), predictions["scores"], rtol=0, atol=1e-5)
    # The same model from a model folder (the published layout).
    folder = tmp_path / "folder"
    folder.mkdir()
    shutil.copy(job_model.checkpoint, folder / "model.ckpt")
    (folder / "iadbench_job.json").write_text(json.dumps(job_manifest(results, *JOB, config)))
    from_folder = load_model_folder(folder)
    np.testing.assert_allclose(_scores(from_folder, predictions["image_paths"][:2]), predictions["scores"][:2],
                               rtol=0, atol=1e-5)


@pytest.mark.slow
def test_missing_or_stale_checkpoint_names_the_job_and_the_command(trained_job, tmp_path):
    results, config = trained_job
    with pytest.raises(JobModelError, match=r"job one_class/embedded/washer/padim/1 has no checkpoint.*"
                       r"snakemake --cores all .*results/train/one_class/embedded/washer/padim/1/model.ckpt"):
        load_job_model(results, "embedded", "washer", "padim", 1, config)
    with pytest.raises(JobModelError, match="model 'dfm' is not in the config"):
        load_job_model(results, "embedded", "washer", "dfm", 0, config)
    changed = {**config, "models": {"padim": {**config["models"]["padim"], "max_epochs": 2}}}
    with pytest.raises(JobModelError, match="trained with another configuration.*retrain"):
        load_job_model(results, *JOB, changed)
    with pytest.raises(JobModelError, match="iadbench_job.json is missing"):
        load_model_folder(tmp_path)
