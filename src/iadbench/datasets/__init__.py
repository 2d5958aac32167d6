"""Datasets: category lists, preparation and validation of the MVTec AD layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iadbench.datasets import embedded

# Categories of each dataset type, in the order the tables print them.
DATASET_CATEGORIES: dict[str, tuple[str, ...]] = {
    "embedded": embedded.CATEGORIES,
}


def dataset_categories(spec: dict[str, Any]) -> list[str]:
    """The categories a dataset entry of the config selects (``all`` expands)."""
    known = DATASET_CATEGORIES[spec.get("type", "embedded")]
    selected = spec.get("categories", "all")
    if selected == "all":
        return list(known)
    unknown = [category for category in selected if category not in known]
    if unknown:
        raise ValueError(f"unknown categories {unknown} (known: {', '.join(known)})")
    return list(selected)


def prepare_category(spec: dict[str, Any], root: str | Path, category: str) -> None:
    """Make ``root/category`` ready to read through anomalib's MVTecAD datamodule."""
    if spec["type"] == "embedded":
        generator = spec.get("generator", {})
        size_keys = ("image_size", "n_train", "n_test_good", "n_test_per_defect")
        sizes = embedded.EmbeddedSpec(**{key: generator[key] for key in size_keys if key in generator})
        embedded.generate_category(Path(root), category, seed=generator.get("seed", 0), spec=sizes)
    else:
        raise ValueError(f"dataset type {spec['type']!r} cannot be prepared")
