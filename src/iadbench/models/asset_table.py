"""The recorded table of what each configured model loads with ``weights: pretrained``, read without torch.

Finding a model's assets by building it (:func:`iadbench.models.required_assets.built_assets`) imports torch
and anomalib and constructs the model: 15-60 s per model on a busy machine, which made an offline run of
``config/paper.yaml`` spend minutes before saying what is missing. ``recorded_assets.json`` (package data)
holds the answer of that build for the models of the pretrained configs (``config/paper.yaml``,
``config/literature.yaml``), keyed by what the build depends on: the model class, its ``init_args`` and the
image size. It is used only when the installed libraries that decide the requests (anomalib, timm, torch,
torchvision, huggingface_hub) have the versions it was recorded with; otherwise, and for any other entry,
the model is built as before. ``tools/record_assets.py`` records it again; ``tests/unit/models/
test_asset_table.py`` rebuilds cheap entries and fails when the table no longer matches the build.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from iadbench.models.assets import Asset
from iadbench.models.registry import resolve_class_path

logger = logging.getLogger(__name__)

# Package data (copied into the wheel by setuptools, see pyproject.toml).
TABLE = Path(str(resources.files("iadbench.models") / "recorded_assets.json"))
# The libraries whose code decides which files a model requests (and where they land in the cache).
LIBRARIES = ("anomalib", "timm", "torch", "torchvision", "huggingface_hub")


def library_versions() -> dict[str, str | None]:
    """Installed versions of :data:`LIBRARIES` (from their metadata: nothing is imported)."""
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def table_key(name: str, spec: dict[str, Any], image_size: int) -> str:
    """What the build of a configured model depends on, as one canonical string."""
    return json.dumps({"class_path": resolve_class_path(name, spec.get("class_path")),
                       "init_args": spec.get("init_args") or {}, "image_size": int(image_size)}, sort_keys=True)


def recordable(assets: list[Asset]) -> bool:
    """Whether a list holds only cache-relative paths (a model pointed at a folder of its own is not recorded)."""
    return all(not Path(asset.path).is_absolute() and not (asset.extract_to and Path(asset.extract_to).is_absolute())
               for asset in assets)


@functools.cache
def _read(path: Path) -> dict[str, Any]:
    try:
        table = json.loads(path.read_text())
        return {"versions": dict(table["versions"]), "entries": dict(table["entries"])}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a table of recorded assets ({error}); record it again with "
                         "`python tools/record_assets.py`") from error


def read_table(path: str | Path = TABLE) -> dict[str, Any]:
    return _read(Path(path))


def recorded_assets(name: str, spec: dict[str, Any], image_size: int,
                    path: str | Path = TABLE) -> list[Asset] | None:
    """The recorded assets of a configured model, or None when it must be built to know them (an entry not
    in the table, or installed libraries other than the ones the table was recorded with)."""
    table = read_table(path)
    entry = table["entries"].get(table_key(name, spec, image_size))
    if entry is None:
        return None
    if table["versions"] != library_versions():
        logger.info("%s: the recorded assets are for %s, installed are %s: building the model to list them",
                    name, table["versions"], library_versions())
        return None
    return [Asset(**asset) for asset in entry["assets"]]


def table_entry(name: str, spec: dict[str, Any], image_size: int, assets: list[Asset]) -> tuple[str, dict[str, Any]]:
    """``(key, entry)`` of a model's assets as the table stores them."""
    return table_key(name, spec, image_size), {"model": name, "assets": [dataclasses.asdict(a) for a in assets]}


def table_text(entries: dict[str, dict[str, Any]], versions: dict[str, str | None]) -> str:
    """The table file's text (stable: sorted keys, one entry per key), for the recorder and the test."""
    return json.dumps({"versions": versions, "entries": dict(sorted(entries.items()))}, indent=1) + "\n"
