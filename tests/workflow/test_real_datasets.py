"""Real-dataset rules end to end, against a loopback HTTP server (no internet here or in CI)."""

import re
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from workflow_helpers import TINY_CONFIG, make_workdir, run_snakemake

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "datasets"))
from archives import ArchiveServer, mvtec_ad_tree, sha256, tar_bytes

PADIM = {"padim": TINY_CONFIG["models"]["padim"]}


@pytest.mark.slow
def test_download_tiny_mvtec_ad_from_local_server_gives_a_row(repo_root, tmp_path):
    archive = tar_bytes(mvtec_ad_tree(("bottle",)), "xz")
    with ArchiveServer({"mvtec_anomaly_detection.tar.xz": archive}) as server:
        dataset = {"type": "mvtec_ad", "categories": ["bottle"], "checksum": sha256(archive),
                   "url": server.url("mvtec_anomaly_detection.tar.xz")}
        # Two training images and the default hold-out: training keeps both (one gives PaDiM NaN maps).
        config = {**TINY_CONFIG, "datasets": {"mvtec_ad": dataset}, "models": PADIM}
        config_path = make_workdir(repo_root, tmp_path, config)
        run_snakemake(tmp_path, config_path)
        assert len(server.gets("mvtec_anomaly_detection.tar.xz")) == 1  # downloaded once
    rows = pd.read_parquet(tmp_path / "results" / "benchmark.parquet")
    assert rows[["dataset", "category", "model", "status"]].values.tolist() == [["mvtec_ad", "bottle", "padim", "ok"]]
    assert 0 <= rows["image_AUROC"].item() <= 1
    assert (tmp_path / "resources" / "datasets" / "mvtec_ad" / ".complete").exists()


def test_all_five_datasets_plan_one_job_per_category(repo_root, tmp_path):
    datasets = {name: {"type": name, "categories": "all"}
                for name in ("mvtec_ad", "mvtec_3d", "btech", "kolektor", "visa")}
    config_path = make_workdir(repo_root, tmp_path, {**TINY_CONFIG, "datasets": datasets, "models": PADIM})
    plan = run_snakemake(tmp_path, config_path, "-n").stdout
    # Each checkpoint path is named by its train job and by the jobs reading it: count distinct ones.
    train_jobs = Counter(dataset for dataset, _ in set(re.findall(r"results/train/one_class/(\w+)/(\w+)/padim/0/model\.ckpt", plan)))
    assert train_jobs == {"mvtec_ad": 15, "mvtec_3d": 10, "btech": 3, "kolektor": 1, "visa": 12}
    assert len(re.findall(r"rule download_dataset:", plan)) == 5


def test_paper_config_plans_the_study_grid(repo_root, tmp_path):
    import yaml

    paper = yaml.safe_load((repo_root / "config" / "paper.yaml").read_text())
    config_path = make_workdir(repo_root, tmp_path, paper)
    plan = run_snakemake(tmp_path, config_path, "-n").stdout
    jobs = set(re.findall(r"results/train/one_class/mvtec_ad/(\w+)/(\w+)/0/model\.ckpt", plan))
    assert len(jobs) == 225
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", plan, flags=re.MULTILINE))
    assert counts["train"] == "675" and counts["evaluate"] == "675"  # 3 seeds
    assert {model for _, model in jobs} == set(paper["models"]) and len(paper["models"]) == 15
