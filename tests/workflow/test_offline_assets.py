"""weights: pretrained on offline compute nodes: the head node fetches, jobs read the cache only."""

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from workflow_helpers import TINY_CONFIG, make_workdir, run_snakemake

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "datasets"))
from archives import ArchiveServer

RESNET18_HF_FILE = "huggingface.co/timm/resnet18.a1_in1k/resolve/main/model.safetensors"


@pytest.mark.slow
def test_pretrained_run_fetches_once_then_trains_offline(repo_root, tmp_path):
    import timm
    from safetensors.torch import save

    torch.manual_seed(3)  # stands in for the published weights: same architecture, known values
    served = save({name: tensor.contiguous() for name, tensor in
                   timm.create_model("resnet18", pretrained=False).state_dict().items()})
    dataset = {**TINY_CONFIG["datasets"]["embedded"], "categories": ["washer"]}
    with ArchiveServer({RESNET18_HF_FILE: served}) as server:
        config = {**TINY_CONFIG, "datasets": {"embedded": dataset}, "weights": "pretrained",
                  "models": {"padim": TINY_CONFIG["models"]["padim"]}, "assets": {"mirror": server.url("")[:-1]}}
        config_path = make_workdir(repo_root, tmp_path, config)
        run_snakemake(tmp_path, config_path)
        assert len(server.gets(RESNET18_HF_FILE)) == 1
        assert server.heads == [f"/{RESNET18_HF_FILE}"]  # huggingface_hub's metadata request, as to the Hub
        assert "Nothing to be done" in run_snakemake(tmp_path, config_path, "-n").stdout + \
            run_snakemake(tmp_path, config_path, "-n").stderr
    rows = pd.read_parquet(tmp_path / "results" / "benchmark.parquet")
    assert rows[["model", "status", "weights"]].values.tolist() == [["padim", "ok", "pretrained"]]
    assert rows["pretrained_assets"].item() == "timm resnet18 (hf-hub timm/resnet18.a1_in1k)"
    manifest = json.loads((tmp_path / "resources" / "assets" / "manifests" / "padim.json").read_text())
    (entry,) = manifest["assets"]
    # The snapshot huggingface_hub named after the commit the server reported: what the offline job loaded.
    assert entry["commit"] == ArchiveServer.HUB_COMMIT
    assert entry["path"].endswith(f"/snapshots/{ArchiveServer.HUB_COMMIT}/model.safetensors")
    train_log = (tmp_path / "results" / "logs" / "train" / "one_class" / "embedded" / "washer" / "padim" / "0.log").read_text()
    assert "refused" not in train_log


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released): connections to it are refused."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_a_run_without_network_ends_with_one_summary_of_missing_assets_and_status_2(repo_root, tmp_path):
    """The slow path (a model the recorded table does not hold: padim at 64 px, built by its fetch job): a mirror
    whose name does not resolve and a dataset archive on a refused port stand in for no network. Each job stops
    at once (no retries) and records what it could not reach; the run ends with one summary naming each missing
    download (the weights and the dataset archive), its URL and where to place it by hand, and exit status 2."""
    import time

    dataset = {**TINY_CONFIG["datasets"]["embedded"], "categories": ["washer"]}
    archive_url = f"http://127.0.0.1:{_closed_port()}/mvtec_anomaly_detection.tar.xz"
    config = {**TINY_CONFIG, "weights": "pretrained", "models": {"padim": TINY_CONFIG["models"]["padim"]},
              "datasets": {"embedded": dataset, "mvtec_ad": {"type": "mvtec_ad", "categories": ["bottle"],
                                                              "url": archive_url}},
              "assets": {"mirror": "http://mirror.invalid"}}
    config_path = make_workdir(repo_root, tmp_path, config)
    started = time.monotonic()
    result = run_snakemake(tmp_path, config_path, check=False)
    print(f"offline run reached the summary in {time.monotonic() - started:.1f} s")
    assert result.returncode == 2, result.stderr[-3000:]
    summary = result.stderr[result.stderr.index("MISSING ASSETS: 2 "):]
    place = tmp_path / "resources/assets/cache/huggingface/hub/models--timm--resnet18.a1_in1k/snapshots/manual"
    assert f"url:   http://mirror.invalid/{RESNET18_HF_FILE}" in summary
    assert f"place: {place}/model.safetensors" in summary and "(for padim)" in summary
    assert f"url:   {archive_url}" in summary and "(for dataset mvtec_ad)" in summary
    assert f"place: {tmp_path}/resources/datasets/mvtec_ad/download/mvtec_anomaly_detection.tar.xz" in summary
    assert "Retrying" not in (tmp_path / "results/logs/fetch_assets/padim.log").read_text()
    assert not (tmp_path / "results" / "train").exists()


@pytest.mark.slow
def test_the_paper_config_without_network_is_summarised_before_any_job_starts(repo_root, tmp_path):
    """The fast path: `config/paper.yaml`'s 15 models (all in the recorded table) and an MVTec AD archive whose
    name does not resolve, the mirror a refused loopback port. Snakemake's onstart check lists every download
    in one go (each model's assets, the archive) and exits with status 2 before any job starts: no fetch job,
    so no model built, nothing downloaded, no lock left."""
    import yaml

    from iadbench.models.asset_table import recorded_assets

    config = yaml.safe_load((repo_root / "config" / "paper.yaml").read_text())
    mirror = f"http://127.0.0.1:{_closed_port()}"
    archive_url = "http://datasets.invalid/mvtec_anomaly_detection.tar.xz"
    config.update(seeds=[0], assets={"mirror": mirror},
                  datasets={"mvtec_ad": {"type": "mvtec_ad", "categories": ["bottle"], "url": archive_url}})
    config_path = make_workdir(repo_root, tmp_path, config)
    result = run_snakemake(tmp_path, config_path, check=False)
    assert result.returncode == 2, result.stderr[-3000:]
    summary = result.stderr[result.stderr.index("MISSING ASSETS: "):]
    urls = {f"{mirror}/{asset.url.split('://', 1)[1]}" for name, spec in config["models"].items()
            for asset in recorded_assets(name, spec, config["image_size"])}
    assert summary.startswith(f"MISSING ASSETS: {len(urls) + 1} ")
    for url in [*urls, archive_url]:
        assert f"url:   {url}" in summary
    for model in config["models"]:
        assert model in summary or not recorded_assets(model, config["models"][model], config["image_size"])
    assert "(for dataset mvtec_ad)" in summary
    assert not (tmp_path / "results" / "logs").exists()  # no job ran: no fetch_assets, no download_dataset
    assert not (tmp_path / "resources" / "assets" / "cache" / "huggingface" / "hub").exists()
    assert not list((tmp_path / ".snakemake" / "locks").glob("*"))
