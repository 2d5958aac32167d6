"""config/smoke.yaml: every study model (and newer anomalib models, by name) gives an `ok` row."""

import pandas as pd
import pytest
import yaml
from workflow_helpers import make_workdir, run_snakemake

from iadbench.models.specs import STUDY_MODELS
from iadbench.run.timing import TIMING_DISABLED

CLASSIFICATION_MODELS = {"dfkde", "ganomaly"}  # no anomaly maps: pixel metrics do not apply


@pytest.mark.slow
def test_smoke_config_every_model_ok(repo_root, tmp_path):
    smoke = yaml.safe_load((repo_root / "config" / "smoke.yaml").read_text())
    assert set(STUDY_MODELS) <= set(smoke["models"]) and len(smoke["models"]) >= 15 + 3
    config_path = make_workdir(repo_root, tmp_path, smoke)
    run_snakemake(tmp_path, config_path, timeout=2400)
    rows = pd.read_parquet(tmp_path / "results" / "benchmark.parquet").set_index("model")
    assert set(rows.index) == set(smoke["models"])
    failed = rows[rows["status"] != "ok"]
    assert failed.empty, failed[["error_type", "error_tail"]].to_dict("index")
    assert rows["image_AUROC"].between(0, 1).all()
    # timing: {enabled: false}: no model timed, every row says why.
    assert (rows["timing_error"] == TIMING_DISABLED).all() and rows["latency_ms_b1"].isna().all()
    for model, row in rows.iterrows():
        if model in CLASSIFICATION_MODELS:
            assert not row["pixel_metrics_applicable"] and pd.isna(row["pixel_AUROC"]), model
        else:
            assert row["pixel_metrics_applicable"] and 0 <= row["pixel_AUROC"] <= 1, model
    assert rows.loc["rkde", "task_type"] == "detection"
    html = (tmp_path / "results" / "report" / "index.html").read_text()
    assert "rkde" in html and "–" in html  # RKDE reported like any model; n/a cells for dfkde
