"""File helpers the converters share to write a category in the MVTec AD layout.

Images are hardlinked, not copied, where the filesystem allows; converted only where anomalib converts
them too or where masks need merging/binarising.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from iadbench.datasets.families.base import DatasetUnavailableError


def place(source: Path, destination: Path) -> None:
    """Hardlink ``source`` to ``destination`` (no extra disk), copying across filesystems."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, destination)
    except FileExistsError:
        raise  # two sources mapped to one name: a conversion bug or duplicate metadata, never overwrite
    except OSError:
        shutil.copy2(source, destination)


def save_binary_mask(masks: list[Path], destination: Path) -> None:
    """Union of the masks (any non-zero pixel) as a 0/255 grey PNG."""
    union = None
    for mask in masks:
        with Image.open(mask) as image:
            pixels = np.asarray(image.convert("L")) > 0
        union = pixels if union is None else union | pixels
    destination.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(union.astype(np.uint8) * 255, mode="L").save(destination)


def files(folder: Path, suffixes: tuple[str, ...] = (".png", ".PNG")) -> list[Path]:
    """Sorted files of ``folder`` with one of ``suffixes``; none when ``folder`` is missing."""
    return sorted(path for path in folder.iterdir() if path.suffix in suffixes) if folder.is_dir() else []


def subfolders(folder: Path) -> list[Path]:
    """Sorted subfolders; none when ``folder`` is missing (validation then reports what is empty)."""
    return sorted(path for path in folder.iterdir() if path.is_dir()) if folder.is_dir() else []


def inside(root: Path, relative: str) -> Path:
    """``root / relative``, refusing paths (from CSV or JSON metadata) that leave ``root``."""
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root.resolve()):
        raise ValueError(f"metadata path {relative!r} leaves {root}")
    return candidate


def category_folder(source: Path, category: str) -> Path:
    """``source/category``, for datasets with one folder per category; an error when it is missing."""
    folder = source / category
    if not folder.is_dir():
        raise DatasetUnavailableError(f"category {category!r} is missing from {source}")
    return folder
