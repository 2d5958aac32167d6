"""Pretrained weights and auxiliary data, fetched once for compute nodes that have no internet.

``weights: pretrained`` models load published weights (timm and torchvision backbones, anomalib's
RKDE extractor, DSR's VQ model, EfficientAd's teacher) and auxiliary data (DTD for DRAEM/GLASS,
ImageNette for EfficientAd). On a cluster the compute nodes usually cannot download them, so:

* :func:`required_assets` finds what one configured model loads, by building it while recording
  every weight/data request instead of serving it (timm's ``load_pretrained``, torchvision's
  ``WeightsEnum.get_state_dict``, ``torch.hub.load_state_dict_from_url``, anomalib's
  ``download_and_extract``), plus the two requests anomalib makes only when training starts (DSR,
  EfficientAd). The list comes from the installed libraries, never from a hand-kept table;
* :func:`fetch_assets` (the ``fetch_assets`` rule, on the head node) downloads each one into the
  cache directory, in the layout the libraries read (``torch/hub/checkpoints``, the Hugging Face
  hub cache, anomalib's ``pre_trained`` and ``datasets`` folders), verified where a digest is
  published, and writes a manifest;
* training jobs run with :func:`offline_environment` (``XDG_CACHE_HOME``, ``TORCH_HOME`` and
  ``HF_HOME`` pointing at the cache, ``HF_HUB_OFFLINE=1``, ``TRANSFORMERS_OFFLINE=1``) and call
  :func:`check_assets` first: a missing asset fails at once, naming the command that fetches it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

ASSET_DIR = "resources/assets"  # default, relative to the working directory
CACHE_DIR = "cache"  # under the asset directory
FETCH_COMMAND = "snakemake --cores 1 assets"
# torch.hub's convention: a checkpoint's file name carries the first hex digits of its sha256.
HASH_IN_FILENAME = re.compile(r"-([a-f0-9]*)\.")


class MissingAssetError(FileNotFoundError):
    """A pretrained weight or data file a model needs is not in the asset cache."""


@dataclasses.dataclass(frozen=True)
class Asset:
    """One file (or extracted archive) a model loads.

    ``path`` is relative to the cache directory (absolute when the model was pointed elsewhere);
    ``sha256`` is the full published digest, ``sha256_prefix`` torch.hub's file-name prefix; an
    ``extract_to`` folder means ``url`` is an archive whose members land there and provide ``path``.
    """

    name: str
    url: str
    path: str
    sha256: str | None = None
    sha256_prefix: str | None = None
    extract_to: str | None = None
    hf_ref: str | None = None  # Hugging Face cache: refs/<revision> file that points at the snapshot


def cache_dir(asset_dir: str | Path) -> Path:
    return Path(asset_dir).resolve() / CACHE_DIR


def offline_environment(asset_dir: str | Path) -> dict[str, str]:
    """Environment of a job that must read weights from the cache and never download."""
    cache = cache_dir(asset_dir)
    return {
        "XDG_CACHE_HOME": str(cache),  # anomalib's pre_trained/ and datasets/ (platformdirs)
        "TORCH_HOME": str(cache / "torch"),
        "HF_HOME": str(cache / "huggingface"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


# --------------------------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------------------------


class _Skipped(dict):
    """Stands in for a state dict while recording; ``load_state_dict`` ignores it."""


def _relative(path: Path, cache: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(cache)) if path.is_relative_to(cache) else str(path)


def _torch_hub_asset(url: str, name: str) -> Asset:
    filename = url.split("?")[0].rsplit("/", 1)[-1]
    match = HASH_IN_FILENAME.search(filename)
    return Asset(name=name, url=url, path=f"torch/hub/checkpoints/{filename}",
                 sha256_prefix=match.group(1) if match and match.group(1) else None)


def timm_asset(pretrained_cfg: dict[str, Any]) -> Asset:
    """Where timm loads a pretrained config's weights from, as timm itself resolves it."""
    from timm.models._builder import _resolve_pretrained_source

    load_from, location = _resolve_pretrained_source(dict(pretrained_cfg))
    architecture = pretrained_cfg.get("architecture", "?")
    if load_from == "hf-hub":
        hub_id, filename = location if isinstance(location, tuple) else (location, "model.safetensors")
        repo, _, revision = hub_id.partition("@")
        revision = revision or "main"
        # A stable stand-in for the commit hash the Hub would report (the cache needs some name).
        snapshot = hashlib.sha1(f"{repo}@{revision}".encode()).hexdigest()
        folder = f"huggingface/hub/models--{repo.replace('/', '--')}"
        return Asset(name=f"timm {architecture} (hf-hub {hub_id})",
                     url=f"https://huggingface.co/{repo}/resolve/{revision}/{filename}",
                     path=f"{folder}/snapshots/{snapshot}/{filename}", hf_ref=f"{folder}/refs/{revision}")
    if load_from == "url":
        return _torch_hub_asset(location, f"timm {architecture}")
    raise ValueError(f"timm {architecture}: pretrained weights come from {load_from!r} ({location!r}), "
                     "which iadbench cannot fetch; give the model a local file instead")


def _anomalib_download(root: Path, info: Any, cache: Path, provides: Path | None = None) -> Asset:
    return Asset(name=f"anomalib {info.name}", url=info.url, path=_relative(provides or root, cache),
                 sha256=info.hashsum, extract_to=_relative(root, cache))


@contextlib.contextmanager
def _cache_environment(cache: Path) -> Iterator[None]:
    """Paths that libraries resolve at call time point into the cache inside the block."""
    names = ("XDG_CACHE_HOME", "TORCH_HOME")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(XDG_CACHE_HOME=str(cache), TORCH_HOME=str(cache / "torch"))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _recording(found: list[Asset], cache: Path) -> Iterator[None]:
    """Weight and data requests are recorded in ``found`` and skipped (the model keeps random weights)."""
    import timm.models._builder as timm_builder
    import torch
    import torch.hub
    from torchvision.models import _api as torchvision_api

    from iadbench.models.random_weights import _replace

    original_load = torch.nn.Module.load_state_dict

    def load_state_dict(module, state_dict, *args, **kwargs):
        if isinstance(state_dict, _Skipped):
            return torch.nn.modules.module._IncompatibleKeys([], [])
        return original_load(module, state_dict, *args, **kwargs)

    def load_pretrained(model, pretrained_cfg=None, *args, **kwargs):
        found.append(timm_asset(pretrained_cfg or model.pretrained_cfg))

    def get_state_dict(weights, *args, **kwargs):
        found.append(_torch_hub_asset(weights.url, f"torchvision {weights}"))
        return _Skipped()

    def load_state_dict_from_url(url, *args, **kwargs):
        found.append(_torch_hub_asset(url, "torch.hub checkpoint"))
        return _Skipped()

    def download_and_extract(root, info):
        found.append(_anomalib_download(Path(root), info, cache))

    with contextlib.ExitStack() as stack:
        _replace(stack, torch.nn.Module, "load_state_dict", load_state_dict)
        _replace(stack, timm_builder, "load_pretrained", load_pretrained)
        _replace(stack, torchvision_api.WeightsEnum, "get_state_dict", get_state_dict)
        _replace(stack, torch.hub, "load_state_dict_from_url", load_state_dict_from_url)
        for module in [module for name, module in list(sys.modules.items()) if name.startswith("anomalib.models")]:
            if "download_and_extract" in vars(module):
                _replace(stack, module, "download_and_extract", download_and_extract)
        yield


def _training_time_assets(model: Any, cache: Path) -> list[Asset]:
    """Requests anomalib makes when training starts, not when the model is built."""
    from anomalib.models import Dsr, EfficientAd
    from anomalib.utils.path import get_pretrained_weights_dir

    if isinstance(model, Dsr):
        from anomalib.models.image.dsr.lightning_model import WEIGHTS_DOWNLOAD_INFO

        root = get_pretrained_weights_dir() / "dsr"
        return [_anomalib_download(root, WEIGHTS_DOWNLOAD_INFO, cache, root / WEIGHTS_DOWNLOAD_INFO.name)]
    if isinstance(model, EfficientAd):
        from anomalib.models.image.efficient_ad import lightning_model

        root = get_pretrained_weights_dir()
        assets = [_anomalib_download(root, lightning_model.WEIGHTS_DOWNLOAD_INFO, cache,
                                     root / "efficientad_pretrained_weights")]
        if not model.imagenet_dir.is_dir():
            assets.append(_anomalib_download(model.imagenet_dir, lightning_model.IMAGENETTE_DOWNLOAD_INFO, cache))
        return assets
    return []


def required_assets(name: str, spec: dict[str, Any], image_size: int, asset_dir: str | Path) -> list[Asset]:
    """Every asset model ``name`` (config entry ``spec``) loads with ``weights: pretrained``."""
    from iadbench.models import build_model

    cache = cache_dir(asset_dir)
    found: list[Asset] = []
    with _cache_environment(cache):
        import anomalib.models  # noqa: F401  (so that _recording sees every model module)

        with _recording(found, cache):
            model = build_model(name, spec, image_size, "pretrained", asset_dir)
        found += _training_time_assets(model, cache)
    unique: dict[str, Asset] = {}
    for asset in found:
        unique.setdefault(asset.path, asset)
    return list(unique.values())


# Arguments whose anomalib default is a folder under the working directory (downloaded into when
# missing): with pretrained weights they default to the cache, so that jobs find what was fetched.
CACHED_DATA_ARGUMENTS = {"dtd_dir": "dtd", "imagenet_dir": "imagenette"}  # DRAEM, EfficientAd


def pretrained_init_args(model_class: type, init_args: dict[str, Any], asset_dir: str | Path) -> dict[str, Any]:
    """``init_args`` for ``weights: pretrained``: unset data folders point into the asset cache."""
    from iadbench.models import accepts_argument

    args = dict(init_args)
    for argument, dataset in CACHED_DATA_ARGUMENTS.items():
        if accepts_argument(model_class, argument) and argument not in args:
            args[argument] = str(cache_dir(asset_dir) / "anomalib" / "datasets" / dataset)
    return args


# --------------------------------------------------------------------------------------------
# Fetch and check
# --------------------------------------------------------------------------------------------


def mirrored(url: str, mirror: str | None) -> str:
    """``https://host/path`` as ``<mirror>/host/path`` (an internal mirror, or a test server)."""
    if not mirror:
        return url
    return f"{mirror.rstrip('/')}/{url.split('://', 1)[1]}"


def _located(asset: Asset, cache: Path) -> Path:
    return cache / asset.path  # an absolute asset.path stays as it is


def _present(path: Path) -> bool:
    """A file, or a folder with something in it (an empty one is what an interrupted fetch leaves)."""
    return path.is_file() or (path.is_dir() and any(path.iterdir()))


def fetch_asset(asset: Asset, asset_dir: str | Path, mirror: str | None = None) -> dict[str, Any]:
    """Download ``asset`` into the cache unless present; returns its manifest entry.

    All or nothing: files are downloaded under ``.downloads/`` and renamed into place once their
    digest matched; an archive's members are extracted beside it and renamed into place (a new
    folder as a whole). A lock per asset lets parallel ``fetch_assets`` jobs share one (DTD for
    DRAEM and GLASS, one backbone for many).
    """
    from iadbench.datasets.download import file_lock

    cache = cache_dir(asset_dir)
    target = _located(asset, cache)
    url = mirrored(asset.url, mirror)
    downloads = cache / ".downloads"
    key = hashlib.sha1(asset.url.encode()).hexdigest()
    with file_lock(downloads / f"{key}.fetch.lock"):
        if not _present(target):
            logger.info("fetching %s from %s", asset.name, url)
            _download_and_place(asset, url, target, downloads / key, cache)
    if asset.hf_ref:
        reference = cache / asset.hf_ref
        reference.parent.mkdir(parents=True, exist_ok=True)
        reference.write_text(Path(asset.path).parent.name)  # the snapshot folder: HF's offline lookup
    return {**dataclasses.asdict(asset), "url": url}


def _download_and_place(asset: Asset, url: str, target: Path, download_path: Path, cache: Path) -> None:
    """Download beside the cache, verify, then rename (a file) or extract (an archive) into place."""
    from iadbench.datasets.download import ChecksumMismatchError, download, file_checksum
    from iadbench.datasets.extract import safe_extract

    download(url, download_path, checksum=asset.sha256, algorithm="sha256" if asset.sha256 else None)
    if asset.sha256_prefix:
        actual = file_checksum(download_path, "sha256")
        if not actual.startswith(asset.sha256_prefix):
            download_path.unlink()
            raise ChecksumMismatchError(download_path, "sha256", asset.sha256_prefix + "...", actual,
                                        f" ({asset.name}: torch.hub's file-name digest)")
    if not asset.extract_to:
        target.parent.mkdir(parents=True, exist_ok=True)
        download_path.rename(target)
        return
    root = cache / asset.extract_to
    staging = Path(tempfile.mkdtemp(prefix=".extracting-", dir=download_path.parent))
    try:
        safe_extract(download_path, staging / "members")
        root.parent.mkdir(parents=True, exist_ok=True)
        if not _present(root):
            with contextlib.suppress(OSError):
                root.rmdir()  # an empty folder left by anomalib or an earlier attempt
            (staging / "members").rename(root)
        else:
            for member in sorted((staging / "members").iterdir()):
                if not (root / member.name).exists():
                    member.rename(root / member.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    download_path.unlink()
    if not _present(target):
        raise MissingAssetError(f"{asset.name}: {url} extracted into {root} but did not provide {target}")


def fetch_assets(name: str, spec: dict[str, Any], image_size: int, asset_dir: str | Path,
                 mirror: str | None = None) -> dict[str, Any]:
    """Fetch every asset of one configured model; returns the manifest (written by the caller)."""
    assets = required_assets(name, spec, image_size, asset_dir)
    entries = [fetch_asset(asset, asset_dir, mirror) for asset in assets]
    logger.info("%s: %d asset(s) in %s", name, len(entries), cache_dir(asset_dir))
    return {"model": name, "cache": str(cache_dir(asset_dir)), "assets": entries}


def check_assets(name: str, spec: dict[str, Any], image_size: int, asset_dir: str | Path) -> list[Asset]:
    """Raise :class:`MissingAssetError` naming every asset of the model missing from the cache."""
    cache = cache_dir(asset_dir)
    assets = required_assets(name, spec, image_size, asset_dir)
    missing = [asset for asset in assets if not _present(_located(asset, cache))
               or (asset.hf_ref and not (cache / asset.hf_ref).is_file())]
    if missing:
        listing = "; ".join(f"{asset.name} -> {_located(asset, cache)}" for asset in missing)
        raise MissingAssetError(f"{name} (weights: pretrained) needs {len(missing)} asset(s) not in {cache}: "
                                f"{listing}. Jobs do not download; fetch them on a machine with internet "
                                f"(the cluster's head node) with `{FETCH_COMMAND}`")
    return assets
