import json

import numpy as np
import pandas as pd
import pytest

from iadbench.config.base import Job
from iadbench.serve import export as export_module
from iadbench.serve.export import (
    error_summary,
    export_job,
    parity,
    relative_deltas,
    summary_row,
    write_summary,
)

JOB = Job("embedded", "washer", "padim", 0)


def test_relative_delta_scales_by_the_reference_above_one():
    np.testing.assert_allclose(relative_deltas(np.array([0.5, 1000.0]), np.array([0.5001, 1000.05])),
                               [1e-4, 5e-5], rtol=1e-6)
    with pytest.raises(ValueError, match="shapes differ"):
        relative_deltas(np.zeros((2, 2)), np.zeros((1, 2)))


def test_parity_passes_within_the_tolerance_and_fails_above_it():
    reference = {"score": [np.array([10.0]), np.array([2000.0])], "map": [np.full((4, 4), 0.3)]}
    close = {"score": [np.array([10.0005]), np.array([2000.1])], "map": [np.full((4, 4), 0.30005)]}
    result = parity(reference, close, tolerance=1e-4)
    assert result["passed"] and result["reason"] == ""
    assert result["max_abs_delta_score"] == pytest.approx(0.1, rel=1e-6)
    assert result["max_rel_delta_score"] == pytest.approx(5e-5, rel=1e-3)
    assert result["max_abs_delta_map"] == pytest.approx(5e-5, rel=1e-3)
    far = {"score": close["score"], "map": [np.full((4, 4), 0.3002)]}
    result = parity(reference, far, tolerance=1e-4)
    assert not result["passed"] and result["reason"].startswith("map: max relative |Δ| 0.0002 > 0.0001")
    nan = {"score": [np.array([np.nan]), np.array([2000.0])], "map": close["map"]}
    assert parity(reference, nan)["reason"] == "score: non-finite values"
    no_maps = parity({"score": [np.array([1.0])], "map": []}, {"score": [np.array([1.0])], "map": []})
    assert no_maps["passed"] and no_maps["max_abs_delta_map"] is None


def test_error_summary_keeps_torch_exports_reason_and_where():
    message = ("Failed to export the model with torch.export. \x1b[96mThis is step 1/3\x1b[0m of exporting.\n"
               "- Modify the model code\n\n## Exception summary\n\n<class 'Guard'>: Could not guard on Eq(u0, 1)\n"
               "Caused by: x\n\nThe following call raised this error:\n"
               '  File "/v/lib/site-packages/torchvision/f.py", line 922, in normalize\n    if (std == 0).any():\n')
    assert error_summary(RuntimeError(message)) == ("<class 'Guard'>: Could not guard on Eq(u0, 1) at "
                                                    'File "torchvision/f.py", line 922, in normalize if (std == 0).any():')
    assert error_summary(ValueError("plain\n  message")) == "plain message"


def test_summary_of_a_job_that_could_not_load(tmp_path):
    record = {**JOB._asdict(), "status": "failed", "reason": "load: JobModelError: job x failed", "formats": {}}
    row = summary_row(record)
    assert row["status"] == "failed" and row["onnx_status"] is None and row["reason"].startswith("load:")
    path = tmp_path / "row.parquet"
    pd.DataFrame([row]).to_parquet(path)
    assert write_summary([path], tmp_path / "summary.csv")["status"].tolist() == ["failed"]


@pytest.mark.slow
def test_a_job_that_cannot_load_gets_a_failed_record_naming_it(trained_job, tmp_path):
    results, config = trained_job
    record = export_job(results_dir=results, job=Job("embedded", "washer", "padim", 3), config=config,
                        out_dir=tmp_path)
    assert record["status"] == "failed" and "embedded/washer/padim/3 has no checkpoint" in record["reason"]
    assert json.loads((tmp_path / "export.json").read_text())["status"] == "failed"
    assert pd.read_parquet(tmp_path / "row.parquet")["status"].tolist() == ["failed"]


@pytest.mark.slow
def test_a_format_that_fails_to_export_is_recorded_with_its_reason(trained_job, tmp_path, monkeypatch):
    results, config = trained_job

    def broken(*args, **kwargs):
        raise RuntimeError("no exporter for this op")

    monkeypatch.setattr(export_module, "_export", broken)  # the name export_job's module calls
    record = export_job(results_dir=results, job=JOB, config=config, out_dir=tmp_path, formats=["openvino"],
                        repeats=1)
    entry = record["formats"]["openvino"]
    assert entry["status"] == "failed" and entry["stage"] == "export"
    assert entry["reason"] == "export: RuntimeError: no exporter for this op"
    assert record["status"] == "failed" and record["reason"].startswith("openvino: export: RuntimeError")


@pytest.mark.slow
def test_exported_padim_matches_its_checkpoint(trained_job, tmp_path):
    import onnxruntime

    results, config = trained_job
    record = export_job(results_dir=results, job=JOB, config=config, out_dir=tmp_path, repeats=2)
    assert record["status"] == "ok", record["reason"]
    assert record["input_size"] == [64, 64] and record["n_images"] == 9
    # The torch reference reproduces the job's saved scores (batch 1 here, batched in training).
    assert record["torch_vs_saved_max_abs_delta_score"] < 1e-4
    for fmt in ("onnx", "openvino"):
        entry = record["formats"][fmt]
        assert entry["status"] == "ok" and entry["max_rel_delta_score"] <= 1e-4 and entry["max_rel_delta_map"] <= 1e-4
        assert entry["ms_b1"] > 0 and entry["images_per_second"] > 0
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {session.get_inputs()[0].name: np.zeros((1, 3, 64, 64), np.float32)})
    named = dict(zip([output.name for output in session.get_outputs()], outputs, strict=True))
    assert named["pred_score"].size == 1 and named["anomaly_map"].shape[-2:] == (64, 64)
    assert (tmp_path / "openvino" / "model.xml").exists() and (tmp_path / "openvino" / "model.bin").exists()
