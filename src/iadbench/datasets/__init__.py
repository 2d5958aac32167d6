"""Datasets: category lists, download and preparation, validation of the MVTec AD layout.

``families/`` holds one module per dataset type (catalog facts and converter), :mod:`.prepare` the
machinery any type goes through (category selection, fetching, preparing a category), and
:mod:`.anomalib_adapter` reads a prepared category through anomalib.
"""

from __future__ import annotations

from iadbench.datasets import embedded, embedded_video
from iadbench.datasets.anomalib_adapter import datamodule_for, union_datamodule
from iadbench.datasets.extract import safe_extract
from iadbench.datasets.families import FAMILIES
from iadbench.datasets.families.video import VIDEO_FAMILIES
from iadbench.datasets.prepare import dataset_categories, prepare_category, prepare_dataset, source_spec
from iadbench.datasets.validate import validate_category

__all__ = [
    "DATASET_CATEGORIES", "datamodule_for", "dataset_categories", "prepare_category", "prepare_dataset",
    "safe_extract", "source_spec", "union_datamodule", "validate_category",
]

# Categories of each dataset type, in the order the tables print them (`folder` names its own one).
DATASET_CATEGORIES: dict[str, tuple[str, ...]] = {
    "embedded": embedded.CATEGORIES,
    **{key: info.categories for key, info in FAMILIES.items()},
    embedded_video.TYPE: embedded_video.CATEGORIES,
    **{key: info.categories for key, info in VIDEO_FAMILIES.items()},
}
