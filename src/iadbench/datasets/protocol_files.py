"""The files a dataset's own protocol reads beyond the MVTec AD layout (docs/protocols.md), where
preparation (the families' converters) puts them or where the source keeps them.

* MVTec LOCO AD: each anomalous test image's masks kept apart, ``defect_masks/<type>/<image stem>.npz``
  (``masks``: ``(K, H, W)`` uint8, the PNGs' own pixel values), and the category's ``defects_config.json``
  (:mod:`iadbench.datasets.families.mvtec_loco`).
* Real-IAD: ``samples.json``, image file name → its sample (the folder of the image in the dataset's JSON,
  shared by the sample's 5 camera views; :mod:`iadbench.datasets.families.real_iad`).
* MVTec AD 2: the private test sets (``test_private``, ``test_private_mixed``: no public ground truth), left
  in the source, and the evaluation server's submission layout (``MVTecAD2.get_relative_anomaly_image_out_path``
  of MVTec's ``MVTecAD2_public_code_utils``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from iadbench.datasets.families.mvtec_loco import DEFECTS_CONFIG, MASKS_FOLDER
from iadbench.datasets.families.real_iad import SAMPLES_FILE

PRIVATE_SPLITS = ("test_private", "test_private_mixed")
SUBMISSION_FOLDER = "mvtec_ad_2_submission"


def category_dir_of(image_path: str | Path) -> Path:
    """``<category>/test/<type>/<image>`` → ``<category>``."""
    return Path(str(image_path)).parents[2]


def defect_masks_file(image_path: str | Path) -> Path:
    """Where preparation put a LOCO test image's per-defect masks."""
    path = Path(str(image_path))
    return category_dir_of(path) / MASKS_FOLDER / path.parent.name / f"{path.stem}.npz"


def read_defect_masks(image_path: str | Path) -> np.ndarray:
    """A LOCO test image's ``(K, H, W)`` per-defect masks; a missing or broken file is named."""
    path = defect_masks_file(image_path)
    try:
        with np.load(path, allow_pickle=False) as data:
            return np.asarray(data["masks"])
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(f"cannot read the per-defect masks {path}: {error}") from error


def defects_config_entries(category_dir: str | Path) -> list[dict[str, Any]]:
    """The entries of a prepared LOCO category's ``defects_config.json`` (checked by
    :func:`iadbench.metrics.spro.parse_defects_config`)."""
    path = Path(category_dir) / DEFECTS_CONFIG
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read {path}: {error}") from error
    return entries if isinstance(entries, list) else [entries]  # a lone object: parse_defects_config names it


def sample_ids_of(image_paths) -> list[str]:
    """Each test image's sample from its category's samples.json (``<category>/test/<class>/<image>``)."""
    cache: dict[Path, dict[str, str]] = {}
    ids = []
    for image_path in image_paths:
        path = Path(str(image_path))
        samples_file = category_dir_of(path) / SAMPLES_FILE
        if samples_file not in cache:
            try:
                cache[samples_file] = json.loads(samples_file.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as error:
                raise ValueError(f"cannot read Real-IAD's sample grouping {samples_file}: {error}") from error
        if path.name not in cache[samples_file]:
            raise ValueError(f"{samples_file} does not name the sample of {path.name}")
        ids.append(cache[samples_file][path.name])
    return ids


def private_images(source_category_dir: str | Path, split: str) -> list[Path]:
    """A private split's images in the source dataset (``<category>/<split>/NNN*.png``), sorted."""
    if split not in PRIVATE_SPLITS:
        raise ValueError(f"split must be one of {PRIVATE_SPLITS}, got {split!r}")
    folder = Path(source_category_dir) / split
    return sorted(folder.glob("[0-9][0-9][0-9]*.png")) if folder.is_dir() else []


def submission_paths(out_dir: str | Path, category: str, split: str, image_path: str | Path) -> tuple[Path, Path]:
    """The server's two files of one private image: ``anomaly_images/<category>/<split>/<stem>.tiff``
    (float16 map) and ``anomaly_images_thresholded/<category>/<split>/<stem>.png`` (0/255)."""
    if split not in PRIVATE_SPLITS:
        raise ValueError(f"split must be one of {PRIVATE_SPLITS}, got {split!r}")
    stem = Path(str(image_path)).stem
    return (Path(out_dir) / "anomaly_images" / category / split / f"{stem}.tiff",
            Path(out_dir) / "anomaly_images_thresholded" / category / split / f"{stem}.png")
