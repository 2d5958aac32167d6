"""Which published weights and data a model loads with ``weights: pretrained`` (recorded by building it
with every loader patched, or read from the table of recorded answers without torch), and fetching or
checking them once for compute nodes without internet."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from iadbench.core.files import read_json, write_json, write_text
from iadbench.datasets.download import host_of
from iadbench.models import hooks
from iadbench.models.asset_table import (
    TABLE,
    library_versions,
    recordable,
    recorded_assets,
    table_entry,
    table_text,
)
from iadbench.models.assets import (
    FETCH_COMMAND,
    Asset,
    AssetUnreachableError,
    MissingAssetError,
    _cache_environment,
    _is_present,
    _located,
    _torch_hub_asset,
    anomalib_download,
    cache_dir,
    fetch_asset,
    timm_asset,
)
from iadbench.models.build import build_model
from iadbench.models.patching import replace
from iadbench.models.specs import spec_for_class

logger = logging.getLogger(__name__)


class _Skipped(dict):
    """Stands in for a state dict while recording; ``load_state_dict`` ignores it."""


_SKIPPED_OPEN_CLIP = "<recorded, not loaded>"  # stands in for open_clip's downloaded file while recording


@contextlib.contextmanager
def _recording(found: list[Asset], cache: Path) -> Iterator[None]:
    """Weight and data requests are recorded in ``found`` and skipped (the model keeps random weights)."""
    # The module timm's builder calls load_pretrained from (its public re-export is not what it calls).
    import timm.models._builder as timm_builder
    import torch
    import torch.hub
    from torchvision.models import WeightsEnum

    original_load = torch.nn.Module.load_state_dict
    open_clip_factory = sys.modules.get("open_clip.factory")
    open_clip_load_checkpoint = open_clip_factory.load_checkpoint if open_clip_factory else None

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
        found.append(anomalib_download(Path(root), info, cache))

    def open_clip_download(cfg, *args, **kwargs):  # open_clip's weights (WinCLIP): recorded, not loaded
        if not cfg.get("url"):
            raise ValueError(f"open_clip weights {cfg}: only URL weights are fetched by iadbench")
        found.append(hooks.open_clip_asset(cfg["url"]))
        return _SKIPPED_OPEN_CLIP

    def open_clip_load(model, checkpoint_path, *args, **kwargs):
        if checkpoint_path != _SKIPPED_OPEN_CLIP:
            return open_clip_load_checkpoint(model, checkpoint_path, *args, **kwargs)
        return None

    with contextlib.ExitStack() as stack:
        replace(stack, torch.nn.Module, "load_state_dict", load_state_dict)
        replace(stack, timm_builder, "load_pretrained", load_pretrained)
        replace(stack, WeightsEnum, "get_state_dict", get_state_dict)
        replace(stack, torch.hub, "load_state_dict_from_url", load_state_dict_from_url)
        for module in [module for name, module in list(sys.modules.items()) if name.startswith("anomalib.models")]:
            if "download_and_extract" in vars(module):
                replace(stack, module, "download_and_extract", download_and_extract)
        if open_clip_factory is not None:  # installed, and imported by anomalib's WinCLIP
            replace(stack, open_clip_factory, "download_pretrained", open_clip_download)
            replace(stack, open_clip_factory, "load_checkpoint", open_clip_load)
        yield


def _training_time_assets(model: Any, cache: Path) -> list[Asset]:
    """Requests anomalib makes when training starts, not when the model is built (DSR, EfficientAd): the spec's."""
    spec = spec_for_class(type(model))
    return spec.training_time_assets(model, cache) if spec.training_time_assets else []


def required_assets(name: str, spec: dict[str, Any], image_size: int, asset_dir: str | Path) -> list[Asset]:
    """Every asset model ``name`` (config entry ``spec``) loads with ``weights: pretrained``: the recorded
    table's answer when it has one for these libraries (nothing imported, nothing built), else the build's."""
    recorded = recorded_assets(name, spec, image_size)
    return recorded if recorded is not None else built_assets(name, spec, image_size, asset_dir)


def built_assets(name: str, spec: dict[str, Any], image_size: int, asset_dir: str | Path) -> list[Asset]:
    """Every asset model ``name`` loads, found by building it with every weight/data loader recording."""
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


def fetch_assets(name: str, spec: dict[str, Any], image_size: int, asset_dir: str | Path,
                 mirror: str | None = None, missing_path: str | Path | None = None) -> dict[str, Any]:
    """Fetch every asset of one configured model; returns the manifest (written by the caller).

    Assets whose host cannot be reached (no network, a dead mirror) do not stop the others: each is listed,
    then :class:`AssetUnreachableError` names them all, and ``missing_path`` (when given) receives the list
    (``{"model", "missing": [{name, url, place, how, reason}]}``, what the run's summary prints; removed when
    nothing is missing)."""
    assets = required_assets(name, spec, image_size, asset_dir)
    entries, missing, reachable = [], [], {}
    for asset in assets:
        try:
            entries.append(fetch_asset(asset, asset_dir, mirror, reachable))
        except AssetUnreachableError as error:
            missing.append(error.entry)
    if missing_path is not None:
        if missing:
            write_json(missing_path, {"model": name, "missing": missing})
        else:
            Path(missing_path).unlink(missing_ok=True)
    if missing:
        listing = "; ".join(f"{entry['name']} ({entry['url']}): {entry['how']}" for entry in missing)
        raise AssetUnreachableError({"name": f"{name}: {len(missing)} of {len(assets)} asset(s)",
                                     "url": ", ".join(sorted({host_of(entry["url"]) for entry in missing})),
                                     "reason": missing[0]["reason"], "how": listing})
    logger.info("%s: %d asset(s) in %s", name, len(entries), cache_dir(asset_dir))
    return {"model": name, "cache": str(cache_dir(asset_dir)), "assets": entries}


def check_assets(name: str, spec: dict[str, Any], image_size: int, asset_dir: str | Path) -> list[Asset]:
    """Raise :class:`MissingAssetError` naming every asset of the model missing from the cache."""
    cache = cache_dir(asset_dir)
    assets = required_assets(name, spec, image_size, asset_dir)
    missing = [asset for asset in assets if not _is_present(asset, cache)]
    if missing:
        listing = "; ".join(f"{asset.name} -> {_located(asset, cache)}" for asset in missing)
        raise MissingAssetError(f"{name} (weights: pretrained) needs {len(missing)} asset(s) not in {cache}: "
                                f"{listing}. Jobs do not download; fetch them on a machine with internet "
                                f"(the cluster's head node) with `{FETCH_COMMAND}`")
    return assets


def missing_assets_summary(records: list[str | Path], since: float = 0.0) -> str:
    """One summary of every download the run's jobs could not make (``fetch_assets``' and ``download_dataset``'s
    ``missing_path`` records written at or after ``since``, a time stamp). "" when none."""
    missing = []
    for path in map(Path, records):
        if path.is_file() and path.stat().st_mtime >= since:
            record = read_json(path)
            missing += [{**entry, "model": record["model"]} for entry in record["missing"]]
    return summary_of_missing(missing)


def summary_of_missing(missing: list[dict[str, str]]) -> str:
    """The summary of missing downloads (entries: name, url, place, how, reason, model: who needs it), each
    once with everyone needing it: name, URL and where to place it by hand. "" when none."""
    if not missing:
        return ""
    unique = {entry["url"]: entry for entry in missing}  # one backbone serves several models
    lines = [(f"MISSING ASSETS: {len(unique)} file(s) (pretrained weights, their data, dataset archives) could not "
              f"be downloaded (no network: {missing[0]['reason']}). Fetch them where the network is reachable, "
              "or place each by hand:")]
    for url, entry in unique.items():
        models = ", ".join(sorted({other["model"] for other in missing if other["url"] == url}))
        lines += [f"- {entry['name']} (for {models})", f"    url:   {url}", f"    place: {entry['place']}"]
        lines += [f"    how:   {entry['how']}"] if entry["how"] != f"put the file at {entry['place']}" else []
    lines.append(f"Then run the same command again (or `{FETCH_COMMAND}` first).")
    return "\n".join(lines)


def record_asset_table(models: list[tuple[str, dict[str, Any], int]], path: str | Path = TABLE) -> dict[str, Any]:
    """Build each ``(name, spec, image_size)`` and write what it loads into the table at ``path`` (entries of
    other models are kept); returns the table. A model pointed at a folder of its own is left out."""
    path = Path(path)
    old = read_json(path) if path.is_file() else {"versions": None, "entries": {}}
    entries = dict(old["entries"]) if old["versions"] == library_versions() else {}  # others: stale
    with tempfile.TemporaryDirectory() as asset_dir:  # paths are recorded relative to the cache
        for name, spec, image_size in models:
            assets = built_assets(name, spec, image_size, asset_dir)
            if recordable(assets):
                key, entry = table_entry(name, spec, image_size, assets)
                entries[key] = entry
            else:
                logger.warning("%s: assets outside the cache, not recorded", name)
    text = table_text(entries, library_versions())
    write_text(path, text)
    return json.loads(text)
