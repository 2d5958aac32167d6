"""How the report prints names: models by their published display names, categories by configurable labels
in a configurable order (``report.display_names`` and ``report.categories`` in the config).

Results keep anomalib's snake-case model names and the datasets' folder names; only what is printed (tables,
figures, rank tables, CSV/Markdown/LaTeX) goes through :class:`Labels`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from iadbench.models.specs import spec_of

# The study's category order for MVTec AD (textures and objects interleaved as its tables print them).
# The schema's default for report.categories repeats it; this copy serves reports built without a config.
STUDY_MVTEC_AD_ORDER = ("screw", "pill", "capsule", "carpet", "grid", "tile", "wood", "zipper", "cable",
                        "toothbrush", "transistor", "metal_nut", "bottle", "hazelnut", "leather")
DEFAULT_CATEGORIES: dict[str, dict[str, Any]] = {"mvtec_ad": {"order": list(STUDY_MVTEC_AD_ORDER)}}


def default_category_label(folder: str) -> str:
    """metal_nut → "Metal Nut"."""
    return " ".join(word.capitalize() for word in folder.replace("-", "_").split("_") if word) or folder


@functools.cache
def model_display_name(name: str, class_path: str | None = None) -> str:
    """The registry's display name (by name, or by the class of ``class_path``); an unknown model's own name."""
    try:
        return spec_of(name, class_path).display_name
    except Exception:  # noqa: BLE001 -- an unknown or unimportable model is printed by its name, never fatal
        return name


@dataclass
class Labels:
    """Printed names of models and categories, and the order categories are printed in, per dataset."""

    models: dict[str, str] = field(default_factory=dict)
    dataset_types: dict[str, str] = field(default_factory=dict)  # dataset name → type (config)
    categories: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(DEFAULT_CATEGORIES))

    def model(self, name: str) -> str:
        return self.models.get(name) or model_display_name(name)

    def _settings(self, dataset: str) -> dict[str, Any]:
        # A dataset's own entry wins over its type's, key by key.
        by_type = self.categories.get(self.dataset_type(dataset), {})
        by_name = self.categories.get(dataset, {})
        return {**by_type, **{key: value for key, value in by_name.items() if value}}

    def category(self, dataset: str, folder: str) -> str:
        return self._settings(dataset).get("labels", {}).get(folder) or default_category_label(folder)

    def order(self, dataset: str, categories: Iterable[str]) -> list[str]:
        """``categories`` (folder names) in the configured order; unlisted ones follow as discovered."""
        discovered = list(dict.fromkeys(categories))
        listed = [category for category in self._settings(dataset).get("order", []) if category in discovered]
        return listed + [category for category in discovered if category not in listed]

    def dataset_type(self, dataset: str) -> str:
        return self.dataset_types.get(dataset, dataset)

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with printed model and category names, rows in category order (for the figures)."""
        labelled = []
        for dataset in dict.fromkeys(frame["dataset"]):
            rows = frame[frame["dataset"] == dataset]
            position = {category: index for index, category in enumerate(self.order(dataset, rows["category"]))}
            rows = rows.sort_values("category", key=lambda column: column.map(position), kind="stable").copy()
            rows["category"] = rows["category"].map(lambda folder, d=dataset: self.category(d, folder))
            labelled.append(rows)
        result = pd.concat(labelled) if labelled else frame.copy()
        result["model"] = result["model"].map(self.model)
        return result


def _unique(names: dict[str, str]) -> dict[str, str]:
    """Two models printed alike (an override, or two configs of one class) would merge in figures: both
    get their config name added."""
    counts = pd.Series(list(names.values())).value_counts()
    return {model: f"{label} ({model})" if counts[label] > 1 else label for model, label in names.items()}


def labels_for(models: Iterable[str], config: dict[str, Any] | None = None) -> Labels:
    """Labels for ``models`` (the results' model names) from a validated config (or none: the defaults)."""
    config = config or {}
    report = config.get("report") or {}
    configured = config.get("models") or {}
    overrides = report.get("display_names") or {}
    names = {model: overrides.get(model) or model_display_name(model, (configured.get(model) or {}).get("class_path"))
             for model in dict.fromkeys(models)}
    categories = {key: dict(value) for key, value in DEFAULT_CATEGORIES.items()}
    for key, settings in (report.get("categories") or {}).items():
        # Empty entries (the schema's defaults) keep the built-in ones.
        categories[key] = {**categories.get(key, {}), **{name: value for name, value in settings.items() if value}}
    dataset_types = {name: spec.get("type", "embedded") for name, spec in (config.get("datasets") or {}).items()}
    return Labels(models=_unique(names), dataset_types=dataset_types, categories=categories)
