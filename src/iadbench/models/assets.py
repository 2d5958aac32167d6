"""Pretrained weights and auxiliary data, fetched once for compute nodes that have no internet.

(Over 350 lines: discovery, fetching and checking share the Asset record and the cache layout.)

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
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from iadbench.datasets.download import (
    ChecksumMismatchError,
    download,
    file_checksum,
    file_lock,
    unreachable_once,
)
from iadbench.datasets.extract import safe_extract

logger = logging.getLogger(__name__)

ASSET_DIR = "resources/assets"  # default, relative to the working directory
CACHE_DIR = "cache"  # under the asset directory
FETCH_COMMAND = "snakemake --cores 1 assets"
# torch.hub's convention: a checkpoint's file name carries the first hex digits of its sha256.
HASH_IN_FILENAME = re.compile(r"-([a-f0-9]*)\.")


class MissingAssetError(FileNotFoundError):
    """A pretrained weight or data file a model needs is not in the asset cache."""


class AssetUnreachableError(MissingAssetError):
    """An asset's host (or mirror) cannot be reached at all: no retry cures that, the file is placed by hand."""

    def __init__(self, entry: dict[str, str]) -> None:
        self.entry = entry  # name, url, place (where the file goes by hand), how, reason
        super().__init__(f"{entry['name']}: {entry['url']} unreachable ({entry['reason']}); {entry['how']}")


@dataclasses.dataclass(frozen=True)
class Asset:
    """One file (or extracted archive) a model loads.

    ``path`` is relative to the cache directory (absolute when the model was pointed elsewhere);
    ``sha256`` is the full published digest, ``sha256_prefix`` torch.hub's file-name prefix; an
    ``extract_to`` folder means ``url`` is an archive whose members land there and provide ``path``.
    A Hugging Face hub file (``hf_repo``, ``hf_filename``, ``hf_revision``) is fetched and looked up
    through ``huggingface_hub``; its ``path`` is ``<repo folder>/snapshots/*/<file>``, the snapshot
    being named after the commit the Hub reports at fetch time (which the manifest records).
    """

    name: str
    url: str
    path: str
    sha256: str | None = None
    sha256_prefix: str | None = None
    extract_to: str | None = None
    hf_repo: str | None = None
    hf_filename: str | None = None
    hf_revision: str | None = None


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
    # Private, no public equivalent: timm's own choice of source (hf-hub / url / file) for a config;
    # tests/unit/models/test_random_weights.py fails loudly if it moves.
    from timm.models._builder import _resolve_pretrained_source

    load_from, location = _resolve_pretrained_source(dict(pretrained_cfg))
    architecture = pretrained_cfg.get("architecture", "?")
    if load_from == "hf-hub":
        from huggingface_hub.file_download import repo_folder_name

        hub_id, filename = location if isinstance(location, tuple) else (location, "model.safetensors")
        repo, _, revision = hub_id.partition("@")
        revision = revision or "main"
        folder = f"{HF_HUB_CACHE}/{repo_folder_name(repo_id=repo, repo_type='model')}"
        url = f"{HF_ORIGIN}/{repo}/resolve/{revision}/{filename}"
        return Asset(name=f"timm {architecture} (hf-hub {hub_id})", url=url,
                     path=f"{folder}/snapshots/*/{filename}",
                     hf_repo=repo, hf_filename=filename, hf_revision=revision)
    if load_from == "url":
        return _torch_hub_asset(location, f"timm {architecture}")
    raise ValueError(f"timm {architecture}: pretrained weights come from {load_from!r} ({location!r}), "
                     "which iadbench cannot fetch; give the model a local file instead")


def anomalib_download(root: Path, info: Any, cache: Path, provides: Path | None = None) -> Asset:
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


# --------------------------------------------------------------------------------------------
# Fetch and check
# --------------------------------------------------------------------------------------------

HF_ORIGIN = "https://huggingface.co"
HF_HUB_CACHE = "huggingface/hub"  # in the cache directory: $HF_HOME/hub, HF_HOME as in offline_environment


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


def _hf_cached(asset: Asset, cache: Path) -> Path | None:
    """The file huggingface_hub resolves ``asset`` to offline (refs/<revision>, snapshot), else None."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(asset.hf_repo, asset.hf_filename, cache_dir=cache / HF_HUB_CACHE,
                                   revision=asset.hf_revision)
    return Path(found) if isinstance(found, str) else None  # None, or a cached "does not exist"


def _is_present(asset: Asset, cache: Path) -> bool:
    return _hf_cached(asset, cache) is not None if asset.hf_repo else _present(_located(asset, cache))


def _probe_url(asset: Asset, url: str, mirror: str | None) -> str:
    """The URL whose host the fetch contacts first (huggingface_hub: the mirror, else HF_ENDPOINT / the Hub)."""
    if asset.hf_repo and not mirror:
        from huggingface_hub import constants

        return constants.ENDPOINT
    return url


def by_hand(asset: Asset, cache: Path, url: str) -> dict[str, str]:
    """Where a file fetched elsewhere goes in the cache, and how (what a summary of missing assets lists)."""
    if asset.hf_repo:
        from huggingface_hub.file_download import repo_folder_name

        folder = cache / HF_HUB_CACHE / repo_folder_name(repo_id=asset.hf_repo, repo_type="model")
        revision = asset.hf_revision or "main"
        place = folder / "snapshots" / "manual" / asset.hf_filename
        how = (f"put the file at {place} and write `manual` into {folder / 'refs' / revision} (or run `hf download "
               f"{asset.hf_repo} {asset.hf_filename} --cache-dir {cache / HF_HUB_CACHE}` where the Hub is reachable)")
    elif asset.extract_to:
        place, provides = cache / asset.extract_to, _located(asset, cache)
        how = f"extract the archive into {place}" + (f" (it must then hold {provides})" if provides != place else "")
    else:
        place = _located(asset, cache)
        how = f"put the file at {place}"
    return {"name": asset.name, "url": url, "place": str(place), "how": how}


def fetch_asset(asset: Asset, asset_dir: str | Path, mirror: str | None = None,
                reachable: dict[str, str | None] | None = None) -> dict[str, Any]:
    """Download ``asset`` into the cache unless present; returns its manifest entry.

    All or nothing: Hugging Face files go through ``huggingface_hub.hf_hub_download`` (blob renamed in
    once complete, then checked against its LFS sha256), torch.hub checkpoints named with a digest
    prefix through ``torch.hub.download_url_to_file`` (moved in once the prefix matched); other files
    are downloaded under ``.downloads/`` and renamed into place once their digest matched, an archive's
    members extracted beside it and renamed into place (a new folder as a whole). A lock per asset
    lets parallel ``fetch_assets`` jobs share one (DTD for DRAEM and GLASS, one backbone for many).
    A Hugging Face entry records the file and ``commit`` the revision resolved to.

    A host whose name does not resolve or that refuses the connection raises :class:`AssetUnreachableError`
    at once (no retry: :func:`iadbench.datasets.download.unreachable`); ``reachable`` caches each probed
    host's answer across the assets of a run.
    """
    cache = cache_dir(asset_dir)
    url = mirrored(asset.url, mirror)
    downloads = cache / ".downloads"
    key = hashlib.sha1(asset.url.encode()).hexdigest()
    with file_lock(downloads / f"{key}.fetch.lock"):
        if not _is_present(asset, cache):
            why = unreachable_once(_probe_url(asset, url, mirror), {} if reachable is None else reachable)
            if why:
                raise AssetUnreachableError({**by_hand(asset, cache, url), "reason": why})
            logger.info("fetching %s from %s", asset.name, url)
            if asset.hf_repo:
                _hf_download(asset, cache, mirror)
            elif asset.sha256_prefix:
                _torch_hub_download(asset, url, _located(asset, cache))
            else:
                _download_and_place(asset, url, _located(asset, cache), downloads / key, cache)
        entry = {**dataclasses.asdict(asset), "url": url}
        if asset.hf_repo:
            entry.update(_hf_entry(asset, cache))
    return entry


def _hf_download(asset: Asset, cache: Path, mirror: str | None) -> None:
    """``hf_hub_download`` into the hub cache, under the commit the server reports (where timm looks)."""
    from huggingface_hub import hf_hub_download

    # A mirror keeps <host>/<path>: the Hub is <mirror>/huggingface.co there. None: the Hub (or HF_ENDPOINT).
    # token=False at a mirror: huggingface_hub would send the user's Hub token (HF_TOKEN, the login) to
    # whatever host the config names; the weights are public, no credential is needed.
    local = Path(hf_hub_download(asset.hf_repo, asset.hf_filename, revision=asset.hf_revision,
                                 cache_dir=cache / HF_HUB_CACHE,
                                 endpoint=mirrored(HF_ORIGIN, mirror) if mirror else None,
                                 token=False if mirror else None))
    # Over plain HTTP huggingface_hub checks only the size; an LFS blob is named after its sha256: check it.
    blob = local.resolve()
    if re.fullmatch(r"[0-9a-f]{64}", blob.name) and (actual := file_checksum(blob, "sha256")) != blob.name:
        local.unlink()
        blob.unlink()
        raise ChecksumMismatchError(local, "sha256", blob.name, actual,
                                    f" ({asset.name}: the Hub's LFS digest; the download was deleted)")


def _hf_entry(asset: Asset, cache: Path) -> dict[str, Any]:
    from huggingface_hub.file_download import repo_folder_name

    local = _hf_cached(asset, cache)
    if local is None:
        raise MissingAssetError(f"{asset.name}: fetched, yet huggingface_hub does not find it in {cache}")
    repo_folder = cache / HF_HUB_CACHE / repo_folder_name(repo_id=asset.hf_repo, repo_type="model")
    blob = local.resolve().name
    commit = local.relative_to(repo_folder / "snapshots").parts[0]
    return {"path": str(local.relative_to(cache)), "commit": commit,
            "sha256": blob if re.fullmatch(r"[0-9a-f]{64}", blob) else None}


def _torch_hub_download(asset: Asset, url: str, target: Path) -> None:
    """torch.hub's downloader: a temporary file beside ``target``, moved in once its sha256 has the prefix.

    It neither resumes nor checks the length against Content-Length: the digest prefix catches truncation.
    """
    import torch.hub

    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(url, str(target), hash_prefix=asset.sha256_prefix, progress=False)
    except RuntimeError as error:  # torch.hub's only signal of a digest mismatch
        got = re.search(r'got "([0-9a-f]+)"', str(error))
        if got is None:
            raise
        note = f" ({asset.name}: torch.hub's file-name digest; the download was deleted)"
        raise ChecksumMismatchError(target, "sha256", f"{asset.sha256_prefix}...", got[1], note) from None


# No library fits: archives need resumed multi-GB downloads, a full digest check, extraction moved in whole.
def _download_and_place(asset: Asset, url: str, target: Path, download_path: Path, cache: Path) -> None:
    """Download beside the cache, verify, then rename (a file) or extract (an archive) into place."""
    download(url, download_path, checksum=asset.sha256, algorithm="sha256" if asset.sha256 else None)
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


