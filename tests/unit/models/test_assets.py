"""Offline assets: discovery from the libraries, fetch into their cache layout, offline loading."""

import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from iadbench.datasets.download import ChecksumMismatchError
from iadbench.models.assets import (
    FETCH_COMMAND,
    Asset,
    MissingAssetError,
    cache_dir,
    fetch_asset,
    mirrored,
    offline_environment,
    timm_asset,
)
from iadbench.models.required_assets import built_assets, check_assets, fetch_assets

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "datasets"))
from archives import ArchiveServer, sha256, zip_bytes

RESNET18 = {"init_args": {"backbone": "resnet18", "layers": ["layer1", "layer2"]}}
ANOMALIB_RELEASES = "https://github.com/open-edge-platform/anomalib/releases/download"
RESNET18_HF_FILE = "huggingface.co/timm/resnet18.a1_in1k/resolve/main/model.safetensors"
RESNET18_HF_REPO = "huggingface/hub/models--timm--resnet18.a1_in1k"
OPEN_CLIP_RELEASES = "https://github.com/mlfoundations/open_clip/releases/download/v0.2-weights"


def _mirror(server: ArchiveServer) -> str:
    return server.url("")[:-1]


def _offline_python(asset_dir: Path, code: str) -> str:
    """Run ``code`` in a fresh interpreter with a training job's environment and no network."""
    import os

    script = ("from iadbench.core.offline import network_forbidden\n"
              "with network_forbidden('offline test'):\n" + "".join(f"    {line}\n" for line in code.splitlines()))
    result = subprocess.run([sys.executable, "-c", script], env={**os.environ, **offline_environment(asset_dir)},
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.parametrize(("model", "spec", "expected"), [
    ("padim", RESNET18, {("https://huggingface.co/timm/resnet18.a1_in1k/resolve/main/model.safetensors",
                          "huggingface/hub/models--timm--resnet18.a1_in1k/snapshots")}),
    ("ganomaly", {}, set()),
    ("draem", {}, {("https://www.robots.ox.ac.uk/~vgg/data/dtd/download/dtd-r1.0.1.tar.gz", "anomalib/datasets/dtd")}),
    ("dsr", {}, {(f"{ANOMALIB_RELEASES}/dsr_pretrained_weights/dsr_vq_model_pretrained.zip",
                  "anomalib/pre_trained/dsr/vq_model_pretrained_128_4096.pckl")}),
    ("efficient_ad", {}, {
        (f"{ANOMALIB_RELEASES}/efficientad_pretrained_weights/efficientad_pretrained_weights.zip",
         "anomalib/pre_trained/efficientad_pretrained_weights"),
        ("https://s3.amazonaws.com/fast-ai-imageclas/imagenette2.tgz", "anomalib/datasets/imagenette")}),
    ("rkde", {}, {
        ("https://download.pytorch.org/models/fasterrcnn_resnet50_fpn_coco-258fb6c6.pth",
         "torch/hub/checkpoints/fasterrcnn_resnet50_fpn_coco-258fb6c6.pth"),
        ("https://github.com/openvinotoolkit/anomalib/releases/download/rkde-weights/rkde_feature_extractor.pth",
         "torch/hub/checkpoints/rkde_feature_extractor.pth")}),
    ("winclip", {}, {(f"{OPEN_CLIP_RELEASES}/vit_b_16_plus_240-laion400m_e31-8fb26589.pt",
                      "clip/vit_b_16_plus_240-laion400m_e31-8fb26589.pt")}),
])
def test_required_assets_are_what_the_libraries_request(tmp_path, model, spec, expected):
    assets = built_assets(model, spec, 256, tmp_path)
    # Hugging Face snapshots sit in a folder named after a commit: compare up to "snapshots".
    assert {(asset.url, asset.path.split("/snapshots/")[0] + "/snapshots" if "/snapshots/" in asset.path
             else asset.path) for asset in assets} == expected
    assert not any(cache_dir(tmp_path).rglob("*.pth")), "discovery must not download or write weights"


@pytest.mark.slow
@pytest.mark.parametrize("model", ["cfa", "csflow"])
def test_hard_coded_torchvision_weights_are_found(tmp_path, model):
    """CFA and CS-Flow ignore pre_trained and always load torchvision weights: found all the same."""
    (asset,) = built_assets(model, {}, 256, tmp_path)
    assert asset.url.startswith("https://download.pytorch.org/models/") and asset.sha256_prefix
    assert asset.path == f"torch/hub/checkpoints/{asset.url.rsplit('/', 1)[1]}"


def test_mirror_keeps_host_and_path():
    assert mirrored("https://huggingface.co/timm/x/resolve/main/model.safetensors", "http://127.0.0.1:8/m/") == \
        "http://127.0.0.1:8/m/huggingface.co/timm/x/resolve/main/model.safetensors"
    assert mirrored("https://a/b", None) == "https://a/b"


def test_no_hugging_face_token_goes_to_a_mirror(tmp_path, monkeypatch):
    """The weights are public: a mirror (another host) never receives the user's Hub token."""
    from safetensors.torch import save

    token = "hf_iadbenchSecretTokenNeverSentToAMirror"
    monkeypatch.setenv("HF_TOKEN", token)
    served = save({"weight": torch.zeros(2)})
    with ArchiveServer({RESNET18_HF_FILE: served}) as server:
        fetch_assets("padim", RESNET18, 64, tmp_path, mirror=_mirror(server))
    assert server.headers, "the mirror was not asked"
    for headers in server.headers:
        assert "authorization" not in {name.lower() for name in headers}, headers
        assert token not in json.dumps(headers)


def test_fetched_timm_weights_load_offline_through_timm(tmp_path):
    """The Hugging Face cache layout written by fetch is what timm reads with HF_HUB_OFFLINE=1."""
    import timm
    from safetensors.torch import save

    torch.manual_seed(1)
    state = timm.create_model("resnet18", pretrained=False).state_dict()
    served = save({name: tensor.contiguous() for name, tensor in state.items()})
    with ArchiveServer({RESNET18_HF_FILE: served}) as server:
        manifest = fetch_assets("padim", RESNET18, 64, tmp_path, mirror=_mirror(server))
        fetch_assets("padim", RESNET18, 64, tmp_path, mirror=_mirror(server))  # present: not fetched again
        assert len(server.gets(RESNET18_HF_FILE)) == 1
        assert server.heads == [f"/{RESNET18_HF_FILE}"]  # huggingface_hub's metadata request, as to the Hub
    (entry,) = manifest["assets"]
    commit = ArchiveServer.HUB_COMMIT
    assert entry["url"] == f"{_mirror(server)}/{RESNET18_HF_FILE}"
    assert (entry["commit"], entry["path"], entry["sha256"]) == \
        (commit, f"{RESNET18_HF_REPO}/snapshots/{commit}/model.safetensors", hashlib.sha256(served).hexdigest())
    # huggingface_hub's own layout: refs/main names the commit the server reported, the snapshot links the blob.
    repo = cache_dir(tmp_path) / RESNET18_HF_REPO
    assert (repo / "refs" / "main").read_text() == commit
    assert (cache_dir(tmp_path) / entry["path"]).resolve() == repo / "blobs" / entry["sha256"]
    check_assets("padim", RESNET18, 64, tmp_path)
    expected = float(state["conv1.weight"].double().sum())
    printed = _offline_python(tmp_path, "import timm\n"
                              "model = timm.create_model('resnet18', pretrained=True)\n"
                              "print(float(model.conv1.weight.double().sum()))")
    assert float(printed.split()[-1]) == pytest.approx(expected, abs=0, rel=1e-12)


def test_fetched_torch_hub_checkpoint_loads_offline(tmp_path):
    buffer = io.BytesIO()
    torch.save({"weight": torch.arange(6.0)}, buffer)
    data = buffer.getvalue()
    name = f"tiny-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    url = f"https://download.pytorch.org/models/{name}"
    asset = Asset(name="tiny", url=url, path=f"torch/hub/checkpoints/{name}", sha256_prefix=name[5:13])
    with ArchiveServer({f"download.pytorch.org/models/{name}": data}) as server:
        fetch_asset(asset, tmp_path, mirror=_mirror(server))
    printed = _offline_python(tmp_path, f"import torch.hub\nprint(torch.hub.load_state_dict_from_url({url!r})['weight'].sum().item())")
    assert printed.split()[-1] == "15.0"


def test_fetched_open_clip_weights_load_offline_where_a_job_reads_them(tmp_path):
    """WinCLIP's CLIP weights (open_clip: a GitHub release file named with its sha256 prefix) go through the
    asset cache: fetched from the mirror (a loopback server) into clip/, then read there by open_clip in a
    job's environment with the network forbidden (open_clip alone would look in ~/.cache/clip)."""
    from iadbench.models.hooks import open_clip_asset

    buffer = io.BytesIO()
    torch.save({"state_dict": {"weight": torch.arange(4.0)}}, buffer)
    data = buffer.getvalue()
    name = f"vit_tiny-laion400m_e31-{hashlib.sha256(data).hexdigest()[:8]}.pt"
    url = f"{OPEN_CLIP_RELEASES}/{name}"
    asset = open_clip_asset(url)
    assert asset.path == f"clip/{name}" and asset.sha256_prefix == name[-11:-3]
    with ArchiveServer({url.split("://", 1)[1]: data}) as server:
        fetch_asset(asset, tmp_path, mirror=_mirror(server))
    assert (cache_dir(tmp_path) / "clip" / name).read_bytes() == data
    printed = _offline_python(tmp_path, "import contextlib, torch\n"
                              "from open_clip import pretrained\n"
                              "from iadbench.models.hooks import open_clip_from_cache\n"
                              "with contextlib.ExitStack() as stack:\n"
                              "    open_clip_from_cache(stack)\n"
                              f"    path = pretrained.download_pretrained({{'url': {url!r}}})\n"
                              "print(path, torch.load(path)['state_dict']['weight'].sum().item())")
    assert printed.split() == [str(cache_dir(tmp_path) / "clip" / name), "6.0"]


@pytest.mark.parametrize("served", ["wrong", "truncated"])
def test_wrong_digest_leaves_nothing(tmp_path, served):
    """torch.hub's downloader accepts a body cut short of Content-Length: the file-name digest catches it."""
    data = b"the published checkpoint" * 100
    prefix = "00000000" if served == "wrong" else hashlib.sha256(data).hexdigest()[:8]
    name = f"tiny-{prefix}.pth"
    asset = Asset(name="tiny", url=f"https://download.pytorch.org/models/{name}",
                  path=f"torch/hub/checkpoints/{name}", sha256_prefix=prefix)
    cut = {"cut_after": len(data) // 2, "cuts": 1} if served == "truncated" else {}
    with ArchiveServer({f"download.pytorch.org/models/{name}": data}, **cut) as server, \
            pytest.raises(ChecksumMismatchError, match="tiny"):
        fetch_asset(asset, tmp_path, mirror=_mirror(server))
    assert not (cache_dir(tmp_path) / asset.path).exists()
    assert [path.name for path in (cache_dir(tmp_path) / "torch").rglob("*") if path.is_file()
            and path.suffix != ".lock"] == []
    assert [path.name for path in (cache_dir(tmp_path) / ".downloads").iterdir() if path.suffix != ".lock"] == []


def _resnet18_hf_asset() -> Asset:
    import timm

    return timm_asset(timm.models.get_pretrained_cfg("resnet18.a1_in1k").to_dict())


@pytest.mark.parametrize("served", ["wrong digest", "truncated"])
def test_hugging_face_download_that_fails_leaves_nothing_to_load(tmp_path, served):
    """A blob that does not hash to the Hub's LFS digest, or a connection that keeps dropping (huggingface_hub
    resumes 5 times, a second apart): no file in the snapshot, so the asset stays missing."""
    data = b"weights" * 1000
    options, error, message = (({"hub_etags": {RESNET18_HF_FILE: "0" * 64}}, ChecksumMismatchError, "LFS digest")
                               if served == "wrong digest" else
                               ({"cut_after": 0, "cuts": 100}, Exception, "peer closed connection"))
    asset = _resnet18_hf_asset()
    with ArchiveServer({RESNET18_HF_FILE: data}, **options) as server, pytest.raises(error, match=message):
        fetch_asset(asset, tmp_path, mirror=_mirror(server))
    repo = cache_dir(tmp_path) / RESNET18_HF_REPO
    assert [path for path in repo.rglob("*") if path.is_file() and path.parent.name not in ("refs", ".locks")] == []
    with pytest.raises(MissingAssetError, match="snapshots"):
        check_assets("padim", RESNET18, 64, tmp_path)


def test_archive_assets_extract_where_anomalib_looks(tmp_path):
    archive = zip_bytes({"vq_model_pretrained_128_4096.pckl": b"weights"})
    asset = Asset(name="anomalib dsr", url="https://example.org/dsr.zip", sha256=sha256(archive),
                  path="anomalib/pre_trained/dsr/vq_model_pretrained_128_4096.pckl", extract_to="anomalib/pre_trained/dsr")
    with ArchiveServer({"example.org/dsr.zip": archive, "example.org/bad.zip": archive[:-10]}) as server:
        entry = fetch_asset(asset, tmp_path, mirror=_mirror(server))
        bad = Asset(**{**entry, "url": "https://example.org/bad.zip", "path": "anomalib/other/x", "extract_to": "anomalib/other"})
        with pytest.raises(ChecksumMismatchError):
            fetch_asset(bad, tmp_path, mirror=_mirror(server))
    cache = cache_dir(tmp_path)
    assert (cache / asset.path).read_bytes() == b"weights"
    assert not (cache / "anomalib" / "other" / "x").exists()
    assert [path.name for path in (cache / ".downloads").iterdir() if path.suffix != ".lock"] == []


def test_missing_asset_names_the_fetch_command(tmp_path):
    with pytest.raises(MissingAssetError) as raised:
        check_assets("padim", RESNET18, 64, tmp_path)
    message = str(raised.value)
    assert FETCH_COMMAND in message and "resnet18.a1_in1k" in message and str(cache_dir(tmp_path)) in message


def test_pretrained_job_without_assets_fails_fast_with_a_failed_record(tiny_dataset, tmp_path):
    from iadbench.run.jobs import run_training

    out_dir = tmp_path / "job"
    info = run_training(dataset_root=str(tiny_dataset), category="washer", model_name="padim",
                        model_spec={**RESNET18, "max_epochs": 1, "train_batch_size": 4, "eval_batch_size": 4},
                        seed=0, image_size=64, weights="pretrained", out_dir=str(out_dir),
                        asset_dir=str(tmp_path / "assets"))
    assert info["status"] == "failed" and info["error_type"] == "MissingAssetError"
    assert FETCH_COMMAND in json.loads((out_dir / "train_info.json").read_text())["error_tail"]


def test_parallel_fetches_of_one_archive_download_it_once(tmp_path):
    """DRAEM and GLASS both need DTD: their fetch jobs may run at once and must not trip over each other."""
    from concurrent.futures import ThreadPoolExecutor

    archive = zip_bytes({"dtd/images/banded/banded_0001.jpg": b"jpeg", "dtd/labels/labels.txt": b"x"})
    asset = Asset(name="dtd", url="https://example.org/dtd.zip", sha256=sha256(archive),
                  path="anomalib/datasets/dtd", extract_to="anomalib/datasets/dtd")
    with ArchiveServer({"example.org/dtd.zip": archive}, delay_seconds=0.3) as server:
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda _: fetch_asset(asset, tmp_path, mirror=_mirror(server)), range(3)))
        assert len(server.gets("example.org/dtd.zip")) == 1
    root = cache_dir(tmp_path) / "anomalib" / "datasets" / "dtd"
    assert (root / "dtd" / "images" / "banded" / "banded_0001.jpg").read_bytes() == b"jpeg"


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released): connections to it are refused."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("mirror", ["refused", "unresolvable"])
def test_an_unreachable_mirror_fails_at_once_and_one_summary_lists_every_asset(tmp_path, mirror):
    """No network (a refused loopback port, a `.invalid` name): no retries (huggingface_hub alone would retry
    5 times, ~25 s per file); every asset of every model listed once, with its URL and where to put it."""
    import time

    from iadbench.models.assets import AssetUnreachableError
    from iadbench.models.required_assets import missing_assets_summary

    base = f"http://127.0.0.1:{_closed_port()}" if mirror == "refused" else "http://assets-mirror.invalid"
    cache = cache_dir(tmp_path)
    dsr = Asset(name="anomalib dsr", url=f"{ANOMALIB_RELEASES}/dsr/dsr.zip", sha256="0" * 64,
                path="anomalib/pre_trained/dsr/vq.pckl", extract_to="anomalib/pre_trained/dsr")
    torch_hub = Asset(name="torch.hub x", url="https://download.pytorch.org/models/x-1234abcd.pth",
                      path="torch/hub/checkpoints/x-1234abcd.pth", sha256_prefix="1234abcd")
    for asset in (_resnet18_hf_asset(), dsr, torch_hub):  # the three fetchers: huggingface_hub, ours, torch.hub
        started = time.monotonic()
        with pytest.raises(AssetUnreachableError, match="unreachable") as raised:
            fetch_asset(asset, tmp_path, mirror=base)
        assert time.monotonic() - started < 3, asset.name
        assert raised.value.entry["url"] == mirrored(asset.url, base)
    records = [tmp_path / "padim.missing.json", tmp_path / "patchcore.missing.json"]
    with pytest.raises(AssetUnreachableError, match="padim: 1 of 1 asset"):
        fetch_assets("padim", RESNET18, 64, tmp_path, mirror=base, missing_path=records[0])
    with pytest.raises(AssetUnreachableError):
        fetch_assets("patchcore", {"init_args": {"backbone": "resnet18", "layers": ["layer2"]}}, 64, tmp_path,
                     mirror=base, missing_path=records[1])
    summary = missing_assets_summary(records + [tmp_path / "absent.missing.json"])
    assert summary.startswith("MISSING ASSETS: 1 file(s)")  # one backbone, two models
    hub_file = cache / RESNET18_HF_REPO / "snapshots" / "manual" / "model.safetensors"
    assert f"url:   {base}/{RESNET18_HF_FILE}" in summary and f"place: {hub_file}" in summary
    assert "(for padim, patchcore)" in summary and "refs/main" in summary and FETCH_COMMAND in summary
    assert missing_assets_summary(records, since=time.time() + 60) == ""  # records of an earlier run: ignored
    assert not [path for path in cache.rglob("*") if path.is_file() and ".lock" not in path.name
                and path.relative_to(cache).parts[0] in ("huggingface", "torch", "anomalib")]  # nothing fetched


def test_a_fetch_that_succeeds_removes_the_models_missing_record(tmp_path):
    from safetensors.torch import save

    record = tmp_path / "padim.missing.json"
    record.write_text(json.dumps({"model": "padim", "missing": []}))
    with ArchiveServer({RESNET18_HF_FILE: save({"weight": torch.zeros(2)})}) as server:
        fetch_assets("padim", RESNET18, 64, tmp_path, mirror=_mirror(server), missing_path=record)
    assert not record.exists()
