"""``mvtec_layout``: any folder of categories in the MVTec AD layout (MPDD-, BTAD-shaped or in-house data).

Like ``folder`` it has no catalog entry: the categories are the sub-folders of ``path:`` that hold
``train/good`` (found when the config is read, so Snakemake knows the jobs: one ``iterdir`` of ``path:``),
the defect names are whatever folders ``test/`` holds, and masks are optional per defect: a defect
without a ``ground_truth/<defect>`` folder is evaluated on image metrics only (see
:func:`iadbench.run.evaluate.evaluate_predictions` for what the pixel metrics then cover). A defect whose
mask folder exists must have a mask for every image, as in the real datasets.

Preparing a category hardlinks its images (files with one of ``extensions:``) into the MVTec AD layout;
any other file is skipped, reported once in the log and counted in the category's ``summary.json``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from iadbench.datasets.families.base import DatasetUnavailableError
from iadbench.datasets.families.layout import place, subfolders
from iadbench.datasets.validate import IMAGE_EXTENSIONS, NORMAL_LABEL

logger = logging.getLogger(__name__)

TYPE = "mvtec_layout"
SPLITS = ("train", "test", "ground_truth")
NAME = re.compile(r"[A-Za-z0-9_-]+")
NAME_RULE = "names may only contain letters, digits, '_' and '-'"


class LayoutConfigError(ValueError):
    """A config entry of type ``mvtec_layout`` that cannot be read; ``key`` is the offending key."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


def source_folder(spec: dict[str, Any]) -> Path:
    """``path:``, checked to be a folder (an archive must be extracted first: its categories are needed
    before anything runs)."""
    if not spec.get("path"):
        raise LayoutConfigError("path", "an mvtec_layout dataset needs `path:` (the folder holding the categories)")
    path = Path(spec["path"]).expanduser()
    if not path.exists():
        raise LayoutConfigError("path", f"`path:` {path} does not exist")
    if not path.is_dir():
        raise LayoutConfigError(
            "path", f"`path:` {path} is not a folder (extract an archive first: its categories must be known "
            "when the config is read)")
    return path


def discover(root: Path) -> list[str]:
    """Sorted names of the sub-folders of ``root`` holding ``train/good`` (hidden folders left out)."""
    return sorted(child.name for child in root.iterdir()
                  if not child.name.startswith(".") and (child / "train" / NORMAL_LABEL).is_dir())


def categories(spec: dict[str, Any], selected: str | list[str], reserved: frozenset[str]) -> list[str]:
    """``all`` → every category found under ``path:``; a list → itself, each checked to be found there.

    A selected folder whose name breaks the project's name rule (or takes a reserved name) is an error
    naming it: its name would become a result path and a table column.
    """
    root = source_folder(spec)
    found = discover(root)
    if not found:
        raise LayoutConfigError(
            "path", f"`path:` {root} holds no category (a category is a sub-folder with train/good/ in it)")
    if selected == "all":
        chosen = found
    else:
        unknown = [name for name in selected if name not in found]
        if unknown:
            raise LayoutConfigError(
                "categories", f"categories {unknown} not found in {root} (found: {', '.join(found)})")
        chosen = list(selected)
    for name in chosen:
        if not NAME.fullmatch(name) or name in reserved:
            why = NAME_RULE if not NAME.fullmatch(name) else f"{name!r} is reserved"
            raise LayoutConfigError(
                "categories", f"category folder {root / name}: {why}; rename the folder or list the other "
                "categories in `categories:`")
    return chosen


def image_extensions(spec: dict[str, Any]) -> tuple[str, ...]:
    """Suffixes read as images and masks (``extensions:``, default .png and .jpg in both cases)."""
    return tuple(spec.get("extensions", IMAGE_EXTENSIONS))


def convert(source: Path, category: str, out: Path, extensions: tuple[str, ...]) -> list[Path]:
    """Link ``train/``, ``test/`` and ``ground_truth/`` images of ``source/category`` to ``out``; returns
    the files skipped (not one of ``extensions``), after logging them once."""
    folder = source / category
    if not folder.is_dir():
        raise DatasetUnavailableError(f"category {category!r} is missing from {source}")
    skipped: list[Path] = []
    for split in SPLITS:
        for label_dir in subfolders(folder / split):
            for path in sorted(label_dir.iterdir()):
                if not path.is_file():
                    continue
                if path.suffix in extensions:
                    place(path, out / split / label_dir.name / path.name)
                else:
                    skipped.append(path)
    log_skipped(skipped, extensions, folder)
    return skipped


def log_skipped(skipped: list[Path], extensions: tuple[str, ...], where: Path | str) -> None:
    """One warning for all files that are not images, naming a few of them."""
    if skipped:
        shown = ", ".join(str(path) for path in skipped[:5]) + (", ..." if len(skipped) > 5 else "")
        logger.warning("%s: skipped %d file(s) that are not images (%s): %s",
                       where, len(skipped), " ".join(extensions), shown)
