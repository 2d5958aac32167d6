"""``folder``: the user's own images, read in place through anomalib's ``Folder`` datamodule.

Unlike the catalog families (:class:`~iadbench.datasets.families.base.DatasetFamily`) it has no known
categories, nothing to fetch and nothing to convert: the config names the folders, preparing a category
only validates them, so it exposes these few functions instead.

``abnormal_dir:`` (and ``mask_dir:``) may map defect names to folders: the defect types of one category
(the report's one column), each image's defect type kept in ``scores.parquet``. A defect the ``mask_dir``
mapping leaves out has no masks (image metrics only). Files in the folders that are not images (by
``extensions:``) are skipped: logged once and counted in the category's ``summary.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from iadbench.datasets.families.base import DatasetUnavailableError
from iadbench.datasets.families.mvtec_layout import log_skipped
from iadbench.datasets.validate import IMAGE_EXTENSIONS, CategorySummary, non_images, validate_folder

TYPE = "folder"
DEFAULT_CATEGORY = "custom"
DIR_KEYS = ("normal_dir", "abnormal_dir", "mask_dir", "normal_test_dir")


def categories(selected: str | list[str], reserved: frozenset[str]) -> list[str]:
    """One category, named by a one-element ``categories:`` list (default ``custom``), not in ``reserved``."""
    if selected == "all":
        return [DEFAULT_CATEGORY]
    if len(selected) != 1 or selected[0] in reserved or selected[0].startswith("."):
        raise ValueError(f"a folder dataset is one category with a plain name, not {selected}")
    return list(selected)


def base_folder(spec: dict[str, Any]) -> Path:
    """The folder the ``*_dir:`` keys are relative to (``path:``, else the current folder)."""
    return Path(spec.get("path", ".")).expanduser()


def image_dirs(spec: dict[str, Any], base: Path) -> dict[str, Path | dict[str, Path]]:
    """The configured ``*_dir:`` folders under ``base``, keyed as anomalib's ``Folder`` takes them (a mapping
    defect name -> folder stays a mapping)."""
    return {key: {name: base / one for name, one in spec[key].items()} if isinstance(spec[key], dict)
            else base / spec[key] for key in DIR_KEYS if spec.get(key)}


def multi_defect(spec: dict[str, Any]) -> bool:
    """Whether ``abnormal_dir:`` maps defect names to folders (read through iadbench's own pairing)."""
    return isinstance(spec.get("abnormal_dir"), dict)


def all_folders(dirs: dict[str, Path | dict[str, Path]]) -> list[tuple[str, Path]]:
    """(key, folder) of every configured folder, mappings flattened (key ``abnormal_dir.<defect>``)."""
    flat = []
    for key, value in dirs.items():
        flat += [(f"{key}.{name}", one) for name, one in value.items()] if isinstance(value, dict) else [(key, value)]
    return flat


def image_extensions(spec: dict[str, Any]) -> tuple[str, ...]:
    """Suffixes read from the folders (``extensions:``, default .png and .jpg in both cases)."""
    return tuple(spec.get("extensions", IMAGE_EXTENSIONS))


def source_root(spec: dict[str, Any]) -> Path:
    """The resolved base folder, once every configured ``*_dir:`` is checked to be a folder."""
    base = base_folder(spec)
    for key, path in all_folders(image_dirs(spec, base)):
        if not path.is_dir():
            raise DatasetUnavailableError(f"folder dataset: `{key}:` {path} is not a folder")
    if not spec.get("normal_dir"):
        raise DatasetUnavailableError("folder dataset: `normal_dir:` is required")
    return base.resolve()


def prepare(spec: dict[str, Any], base: Path, staging: Path) -> CategorySummary:
    """Validate the folders and describe them in ``staging/folder.json``."""
    dirs = image_dirs(spec, base)
    extensions = image_extensions(spec)
    try:
        summary = validate_folder(**dirs, extensions=extensions)
    except ValueError as error:
        if hasattr(error, "path"):
            raise
        raise DatasetUnavailableError(str(error)) from None
    skipped = non_images([path for _, path in all_folders(dirs)], extensions)
    log_skipped(skipped, extensions, f"folder dataset {base}")
    summary.n_skipped_files = len(skipped)
    description = {key: {name: str(one) for name, one in value.items()} if isinstance(value, dict) else str(value)
                   for key, value in dirs.items()} | {"extensions": list(extensions)}
    (staging / "folder.json").write_text(json.dumps(description, indent=2) + "\n")
    return summary
