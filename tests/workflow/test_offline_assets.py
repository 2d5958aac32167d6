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


@pytest.mark.slow
def test_a_run_without_network_ends_with_one_summary_of_missing_assets_and_status_2(repo_root, tmp_path):
    """A mirror whose name does not resolve stands in for no network: the run stops at once (no retries), with
    one summary naming each missing asset, its URL and where to place it by hand, and exit status 2."""
    import time

    dataset = {**TINY_CONFIG["datasets"]["embedded"], "categories": ["washer"]}
    config = {**TINY_CONFIG, "datasets": {"embedded": dataset}, "weights": "pretrained",
              "models": {"padim": TINY_CONFIG["models"]["padim"]}, "assets": {"mirror": "http://mirror.invalid"}}
    config_path = make_workdir(repo_root, tmp_path, config)
    started = time.monotonic()
    result = run_snakemake(tmp_path, config_path, check=False)
    print(f"offline run reached the summary in {time.monotonic() - started:.1f} s")
    assert result.returncode == 2, result.stderr[-3000:]
    summary = result.stderr[result.stderr.index("MISSING ASSETS: 1 "):]
    place = tmp_path / "resources/assets/cache/huggingface/hub/models--timm--resnet18.a1_in1k/snapshots/manual"
    assert f"url:   http://mirror.invalid/{RESNET18_HF_FILE}" in summary
    assert f"place: {place}/model.safetensors" in summary and "(for padim)" in summary
    assert "Retrying" not in (tmp_path / "results/logs/fetch_assets/padim.log").read_text()
    assert not (tmp_path / "results" / "train").exists()
