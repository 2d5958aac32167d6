"""The recorded table of each configured model's assets: it matches the build, it covers the pretrained
configs, and the offline fast path reads it without torch (one summary of every download, no model built)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from iadbench.config.base import model_image_size
from iadbench.config.load import SCHEMA_PATH, validate_config
from iadbench.models.asset_table import (
    TABLE,
    library_versions,
    read_table,
    recorded_assets,
    table_key,
    table_text,
)
from iadbench.models.required_assets import built_assets, record_asset_table

REPO = Path(__file__).resolve().parents[3]
PRETRAINED_CONFIGS = ("config/paper.yaml", "config/literature.yaml")


def _configured_models(config_path: str) -> list[tuple[str, dict, int]]:
    config = validate_config(yaml.safe_load((REPO / config_path).read_text()), SCHEMA_PATH)
    return [(name, spec, model_image_size(config, name)) for name, spec in config["models"].items()]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_table_is_recorded_with_the_installed_libraries():
    """Otherwise every lookup falls back to building the model: record it again (tools/record_assets.py)."""
    assert read_table()["versions"] == library_versions(), "python tools/record_assets.py"


@pytest.mark.parametrize("config_path", PRETRAINED_CONFIGS)
def test_every_model_of_the_pretrained_configs_is_recorded(config_path):
    missing = [name for name, spec, size in _configured_models(config_path) if recorded_assets(name, spec, size) is None]
    assert not missing, f"{config_path}: {missing} not recorded; run `python tools/record_assets.py`"


@pytest.mark.parametrize(("config_path", "model"), [("config/paper.yaml", "padim"), ("config/paper.yaml", "draem"),
                                                     ("config/literature.yaml", "stfpm")])
def test_the_recorded_assets_are_what_building_the_model_requests(tmp_path, config_path, model):
    """A rebuild of cheap entries (a timm backbone from the Hub, anomalib's DTD archive, a torchvision-tagged
    timm model) gives exactly the recorded assets: the table cannot go stale without this failing."""
    (spec, size), = [(spec, size) for name, spec, size in _configured_models(config_path) if name == model]
    assert recorded_assets(model, spec, size) == built_assets(model, spec, size, tmp_path)


def test_other_entries_and_other_library_versions_are_built(tmp_path):
    spec = {"init_args": {"backbone": "resnet18", "layers": ["layer1"]}}
    assert recorded_assets("padim", spec, 64) is None  # not recorded
    table = read_table()
    entry = next(iter(table["entries"].values()))
    key = next(iter(table["entries"]))
    other = tmp_path / "table.json"
    other.write_text(table_text({key: entry}, {**table["versions"], "timm": "0.0.1"}))
    config = json.loads(key)
    name = entry["model"]
    assert recorded_assets(name, {"init_args": config["init_args"]}, config["image_size"], path=TABLE) is not None
    assert recorded_assets(name, {"init_args": config["init_args"]}, config["image_size"], path=other) is None


def test_recording_writes_the_build_under_its_key(tmp_path):
    spec = {"init_args": {"backbone": "resnet18", "layers": ["layer1", "layer2"]}}
    path = tmp_path / "recorded.json"
    table = record_asset_table([("padim", spec, 64)], path)
    assert table["versions"] == library_versions()
    (entry,) = table["entries"].values()
    assert next(iter(table["entries"])) == table_key("padim", spec, 64)
    assert [asset["hf_repo"] for asset in entry["assets"]] == ["timm/resnet18.a1_in1k"]
    assert recorded_assets("padim", spec, 64, path=path) == built_assets("padim", spec, 64, tmp_path)


# Run in a fresh interpreter: which modules the fast path imports is the point.
FAST_PATH = r"""
import json, sys
from pathlib import Path
from iadbench.datasets.prepare import source_spec
from iadbench.models.offline_check import unreachable_downloads
from iadbench.models.required_assets import fetch_assets
from iadbench.models.assets import AssetUnreachableError

models, mirror, archive_url, work = json.loads(sys.argv[1])
work = Path(work)
dataset = source_spec({"type": "mvtec_ad", "categories": "all", "url": archive_url})
missing, unrecorded = unreachable_downloads([tuple(model) for model in models],
                                            [("mvtec_ad", dataset, work / "datasets" / "mvtec_ad")], work, mirror)
try:
    fetch_assets(*models[0], asset_dir=work, mirror=mirror, missing_path=work / "first.missing.json")
except AssetUnreachableError:
    pass
heavy = sorted(name for name in ("torch", "anomalib", "timm", "torchvision") if name in sys.modules)
print(json.dumps({"missing": missing, "unrecorded": unrecorded, "heavy": heavy}))
"""


def test_the_offline_fast_path_lists_every_download_without_building_a_model(tmp_path):
    """All the paper's models and its dataset archive against a refused loopback port (the mirror) and an
    unresolvable name (the archive): every recorded asset listed once per model, the archive too, and neither
    the check nor a model's fetch imports torch or anomalib (no model built)."""
    models = _configured_models("config/paper.yaml")
    mirror = f"http://127.0.0.1:{_closed_port()}"
    archive_url = "http://datasets.invalid/mvtec_anomaly_detection.tar.xz"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run([sys.executable, "-c", FAST_PATH, json.dumps([models, mirror, archive_url, str(tmp_path)])],
                            capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout)
    assert answer["heavy"] == [] and answer["unrecorded"] == []
    listed = {(entry["model"], entry["url"]) for entry in answer["missing"]}
    expected = {(name, f"{mirror}/{asset.url.split('://', 1)[1]}")
                for name, spec, size in models for asset in recorded_assets(name, spec, size)}
    assert listed == expected | {("dataset mvtec_ad", archive_url)}
    archive = next(entry for entry in answer["missing"] if entry["model"] == "dataset mvtec_ad")
    assert archive["place"] == str(tmp_path / "datasets/mvtec_ad/download/mvtec_anomaly_detection.tar.xz")
    assert "gaierror" in archive["reason"] and all("Refused" in entry["reason"] for entry in answer["missing"]
                                                   if entry is not archive)
    record = json.loads((tmp_path / "first.missing.json").read_text())
    assert record["model"] == models[0][0] and record["missing"]
    assert not (tmp_path / "cache" / "torch").exists() and not (tmp_path / "cache" / "huggingface" / "hub").exists()
