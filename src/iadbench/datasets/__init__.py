"""Datasets: category lists, download and preparation, validation of the MVTec AD layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iadbench.datasets import embedded, real
from iadbench.datasets.catalog import CATALOG
from iadbench.datasets.extract import safe_extract
from iadbench.datasets.real import datamodule_for
from iadbench.datasets.validate import validate_category

__all__ = [
    "DATASET_CATEGORIES", "datamodule_for", "dataset_categories", "prepare_category", "prepare_dataset",
    "safe_extract", "validate_category",
]

# Categories of each dataset type, in the order the tables print them (`folder` names its own one).
DATASET_CATEGORIES: dict[str, tuple[str, ...]] = {
    "embedded": embedded.CATEGORIES,
    **{key: info.categories for key, info in CATALOG.items()},
}


def dataset_categories(spec: dict[str, Any]) -> list[str]:
    """The categories a dataset entry of the config selects (``all`` expands)."""
    if spec.get("type", "embedded") != "embedded":
        return real.categories_of(spec)
    return real.select_categories(spec.get("categories", "all"), embedded.CATEGORIES, "embedded")


def prepare_dataset(spec: dict[str, Any], root: str | Path) -> None:
    """Get the dataset once into ``root`` (download/checksum/extraction or `path:`); ``.complete`` last."""
    real.prepare_dataset(spec, root)


def prepare_category(spec: dict[str, Any], root: str | Path, category: str) -> None:
    """Make ``root/category`` ready to read through :func:`datamodule_for` (MVTec AD layout, validated)."""
    if spec.get("type", "embedded") == "embedded":
        generator = spec.get("generator", {})
        size_keys = ("image_size", "n_train", "n_test_good", "n_test_per_defect")
        sizes = embedded.EmbeddedSpec(**{key: generator[key] for key in size_keys if key in generator})
        embedded.generate_category(Path(root), category, seed=generator.get("seed", 0), spec=sizes)
    else:
        real.prepare_category(spec, root, category)
