"""`snakemake predict` and `iadbench predict` on a copy of the finished tiny run (no retraining)."""

import copy
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from workflow_helpers import run_snakemake

from iadbench.config.load import validate_config
from iadbench.models.checkpoint import write_safetensors
from iadbench.run.predictions import load_predictions
from iadbench.serve.job_model import job_manifest
from iadbench.serve.predict import PREDICTION_SCHEMA

PREDICT = {
    "own_tests": {"images": "resources/datasets/embedded/washer/test",
                  "job": {"dataset": "embedded", "category": "washer", "model": "padim", "seed": 0}},
    "from_hub": {"images": "resources/datasets/embedded/washer/test/good", "hub": "owner/washer-padim"},
    "new_images": {"images": ["incoming/*", "incoming/**/*.png"], "best": {"dataset": "embedded", "category": "grass"},
                   "threshold": {"method": "fpr", "max_fpr": 0.25}},
}


@pytest.fixture(scope="module")
def predicted(finished_run, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("predict") / "run"
    shutil.copytree(finished_run, workdir, symlinks=True)
    incoming = workdir / "incoming"
    (incoming / "sub").mkdir(parents=True)
    good = sorted((workdir / "resources/datasets/embedded/grass/test/good").glob("*.png"))
    shutil.copy(good[0], incoming / "sub" / "same_size.png")
    Image.open(good[1]).convert("RGB").resize((90, 70)).save(incoming / "other_size.png")
    (incoming / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    config_path = workdir / "config" / "test.yaml"
    config = yaml.safe_load(config_path.read_text())
    # A published model folder in a Hugging Face cache built by hand (no network): refs/main -> snapshot.
    snapshot = workdir / "hf" / "models--owner--washer-padim" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    write_safetensors(workdir / "results/train/one_class/embedded/washer/padim/0/model.ckpt", snapshot / "model.safetensors")
    manifest = job_manifest(workdir / "results", "embedded", "washer", "padim", 0,
                            validate_config(copy.deepcopy(config), workdir / "workflow/schemas/config.schema.yaml"))
    (snapshot / "iadbench_job.json").write_text(json.dumps(manifest))
    config_path.write_text(yaml.safe_dump({**config, "predict": PREDICT}))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_CACHE", str(workdir / "hf"))
        patch.setenv("HF_HUB_OFFLINE", "1")
        result = run_snakemake(workdir, config_path, targets=("predict",))
    return workdir, config_path, result


@pytest.mark.slow
def test_predict_target_reproduces_the_jobs_scores(predicted):
    workdir, _, result = predicted
    assert "rule train:" not in result.stdout + result.stderr  # the finished run's models, not retrained
    out = workdir / "results/predict/own_tests"
    frame = pd.read_parquet(out / "predictions.parquet")
    assert list(frame.columns) == list(PREDICTION_SCHEMA) and (frame["status"] == "ok").all()
    saved = load_predictions(workdir / "results/train/one_class/embedded/washer/padim/0/predictions.npz")
    by_path = frame.set_index("path")["image_score"]
    # The job saved absolute paths (of the finished run's folder); the set lists them relative to this copy.
    saved_paths = ["resources/" + str(path).split("/resources/", 1)[1] for path in saved["image_paths"]]
    assert sorted(by_path.index) == sorted(saved_paths)
    delta = np.abs(by_path.loc[saved_paths].to_numpy() - saved["scores"]).max()
    print(f"predict parity: max |delta score| = {delta:.3g} over {len(frame)} images")
    assert delta < 1e-5
    row = pd.read_parquet(workdir / "results/evaluate/one_class/embedded/washer/padim/0/row.parquet").iloc[0]
    assert (frame["threshold"] == row["image_F1_threshold"]).all() and (frame["threshold_method"] == "f1").all()
    assert all((out / overlay).is_file() for overlay in frame["overlay"])
    html = (out / "index.html").read_text()
    assert "own_tests" in html and f"image_AUROC {row['image_AUROC']:.4f}" in html and "image_size" not in html


@pytest.mark.slow
def test_best_model_set_with_bad_and_resized_files(predicted):
    workdir, _, _ = predicted
    frame = pd.read_parquet(workdir / "results/predict/new_images/predictions.parquet").set_index("path")
    assert list(frame.index) == ["incoming/corrupt.png", "incoming/other_size.png", "incoming/sub/same_size.png"]
    assert frame.loc["incoming/corrupt.png", "status"] == "error" and frame.loc["incoming/corrupt.png", "error"]
    assert (frame.loc[["incoming/other_size.png", "incoming/sub/same_size.png"], "status"] == "ok").all()
    assert "90x70 differs from the job's test images (64x64)" in frame.loc["incoming/other_size.png", "size_note"]
    assert frame.loc["incoming/sub/same_size.png", "size_note"] == ""
    benchmark = pd.read_parquet(workdir / "results/benchmark.parquet")
    grass = benchmark[(benchmark["category"] == "grass") & (benchmark["status"] == "ok")]
    best = grass.loc[grass["image_AUROC"].idxmax(), "model"]
    assert (frame["job"] == f"one_class/embedded/grass/{best}/0").all()
    assert (frame["model_source"] == f"the best job of embedded/grass by image_AUROC, job one_class/embedded/grass/{best}/0").all()
    assert (frame["threshold_method"] == "fpr").all() and (frame["test_fpr"] <= 0.25).all()
    html = (workdir / "results/predict/new_images/index.html").read_text()
    assert "corrupt.png" in html and "Files not scored" in html


@pytest.mark.slow
def test_cli_predict_and_its_errors(predicted):
    workdir, config_path, _ = predicted
    command = [sys.executable, "-m", "iadbench.cli", "predict", "--job", "embedded/washer/dfm/0", "--config",
               str(config_path), "--max-fpr", "0.2", "--out", "cli_out", "resources/datasets/embedded/washer/test/good",
               "incoming/corrupt.png"]
    result = subprocess.run(command, check=False, cwd=workdir, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "1 not readable" in result.stdout
    frame = pd.read_parquet(workdir / "cli_out" / "predictions.parquet")
    assert (frame["job"] == "one_class/embedded/washer/dfm/0").all() and (frame["max_fpr"] == 0.2).all()
    assert frame["status"].tolist().count("error") == 1 and (workdir / "cli_out" / "index.html").is_file()
    missing = subprocess.run([*command[:5], "embedded/washer/dfm/3", *command[6:]], check=False, cwd=workdir,
                             capture_output=True, text=True, timeout=600)
    assert missing.returncode == 2
    assert "job one_class/embedded/washer/dfm/3 has no checkpoint" in missing.stderr
    assert (f"snakemake --cores all results/train/one_class/embedded/washer/dfm/3/model.ckpt --configfile {config_path}"
            in missing.stderr)
    offline = {**os.environ, "HF_HUB_CACHE": str(workdir / "hf"), "HF_HUB_OFFLINE": "1"}
    hub = [sys.executable, "-m", "iadbench.cli", "predict", "--out", "cli_hub", "--hub"]
    result = subprocess.run([*hub, "owner/washer-padim", "resources/datasets/embedded/washer/test/good"], check=False,
                            cwd=workdir, capture_output=True, text=True, timeout=600, env=offline)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (pd.read_parquet(workdir / "cli_hub" / "predictions.parquet")["status"] == "ok").all()
    absent = subprocess.run([*hub, "owner/absent", "incoming"], check=False, cwd=workdir, capture_output=True,
                            text=True, timeout=600, env=offline)
    assert absent.returncode == 2 and "`hf download owner/absent`" in absent.stderr


@pytest.mark.slow
def test_hub_set_scores_offline_from_the_cache_like_the_job(predicted):
    workdir, _, _ = predicted
    hub = pd.read_parquet(workdir / "results/predict/from_hub/predictions.parquet").set_index("path")
    job = pd.read_parquet(workdir / "results/predict/own_tests/predictions.parquet").set_index("path")
    assert (hub["model_source"] == "Hugging Face Hub model owner/washer-padim").all() and (hub["status"] == "ok").all()
    assert np.abs(hub["image_score"] - job.loc[hub.index, "image_score"]).max() < 1e-5
    assert (hub["threshold"] == job["threshold"].iloc[0]).all()
