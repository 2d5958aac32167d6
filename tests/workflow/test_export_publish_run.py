"""`snakemake export publish` and `iadbench upload --dry-run` on a copy of the finished tiny run (no retraining)."""

import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import torch
import yaml
from workflow_helpers import run_snakemake

from iadbench.models.checkpoint import read_checkpoint

PADIM = {"dataset": "embedded", "category": "washer", "model": "padim", "seed": 0}


@pytest.fixture(scope="module")
def exported(finished_run, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("export") / "run"
    shutil.copytree(finished_run, workdir, symlinks=True)
    config_path = workdir / "config" / "test.yaml"
    config = yaml.safe_load(config_path.read_text())
    config_path.write_text(yaml.safe_dump({**config, "publish": {"jobs": [PADIM], "namespace": "someone"},
                                           "export": {"timing_repeats": 3}}))
    result = run_snakemake(workdir, config_path, targets=("export", "publish"))
    return workdir, result


@pytest.mark.slow
def test_export_records_parity_within_tolerance(exported):
    import onnxruntime

    workdir, result = exported
    assert "rule train:" not in result.stdout + result.stderr  # the finished run's models, not retrained
    folder = workdir / "results/export/one_class/embedded/washer/padim/0"
    record = json.loads((folder / "export.json").read_text())
    assert record["status"] == "ok", record["reason"]
    for fmt in ("onnx", "openvino"):
        entry = record["formats"][fmt]
        print(f"{fmt}: max |delta score| {entry['max_abs_delta_score']:.3g}, max |delta map| "
              f"{entry['max_abs_delta_map']:.3g}, {entry['ms_b1']:.2f} ms (torch {record['torch_ms_b1']:.2f} ms)")
        assert entry["max_rel_delta_score"] <= record["tolerance"] == 1e-4
        assert entry["max_rel_delta_map"] <= 1e-4
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    assert "pred_score" in [output.name for output in session.get_outputs()]
    summary = pd.read_csv(workdir / "results/export/summary.csv")
    assert summary[["model", "status", "onnx_status", "openvino_status"]].values.tolist() == [["padim", "ok", "ok", "ok"]]


@pytest.mark.slow
def test_publish_folders_carry_cards_checkpoint_and_export(exported):
    from huggingface_hub import DatasetCard, ModelCard

    workdir, _ = exported
    publish = workdir / "results/publish"
    model = publish / "models/embedded-washer-padim-0"
    card = ModelCard.load(model / "README.md")
    row = pd.read_parquet(workdir / "results/evaluate/one_class/embedded/washer/padim/0/row.parquet").iloc[0]
    metrics = {result.metric_type: result.metric_value for result in card.data.eval_results}
    assert metrics["image_AUROC"] == row["image_AUROC"] and metrics["pixel_AUPRO"] == row["pixel_AUPRO"]
    assert "## Exported models" in card.text
    assert {path.name for path in (model / "export").rglob("*")} >= {"model.onnx", "model.xml", "model.bin"}
    assert json.loads((model / "iadbench_job.json").read_text())["model"] == "padim"
    weights = read_checkpoint(model / "model.safetensors")["state_dict"]
    trained = read_checkpoint(workdir / "results/train/one_class/embedded/washer/padim/0/model.ckpt")["state_dict"]
    assert set(weights) == set(trained)
    for key, value in trained.items():  # bit for bit (NaN where anomalib's unset thresholds are NaN)
        torch.testing.assert_close(weights[key], value, rtol=0, atol=0, equal_nan=True)
    assert not (model / "model.ckpt").exists()  # no pickle published
    dataset = DatasetCard.load(publish / "dataset/README.md")
    assert "random-weights" in dataset.data.tags
    assert len(pd.read_parquet(publish / "dataset/data")) == 4
    listing = subprocess.run([sys.executable, "-m", "iadbench.cli", "upload", "--dry-run"], cwd=workdir,
                             capture_output=True, text=True, check=True).stdout
    assert "would upload results/publish/dataset -> dataset someone/iadbench-results" in listing
    assert "model someone/iadbench-embedded-washer-padim-0" in listing and "model.onnx" in listing
