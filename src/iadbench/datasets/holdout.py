"""Which defect-free images calibrate the operating point (:mod:`iadbench.metrics.operating_point`).

Decided per job by :func:`calibration_rule`, so that paper comparability costs as little as possible:

* the dataset's own defect-free validation split, ``<category>/validation/good`` (MVTec AD 2 and MVTec
  LOCO AD ship one), scored by the trained model; the training set is untouched (no hold-out);
* otherwise a seeded hold-out of the training images (:func:`holdout_paths`): ``ceil(holdout_share * N)``
  of the ``N`` training images, at least ``holdout_min`` (default 1, the fewest a threshold needs), never
  more than half of them and never so many that training keeps fewer than 2 (a category of 2 images holds
  out none and has no operating point), drawn by ``numpy.random.default_rng(seed)`` from the paths sorted by name. They
  are removed from training before the model sees them and are never in the test set (the test set comes
  from the test folders). ``holdout_share: 0`` holds out nothing: the model trains on every image, as
  the papers do, and a category without a validation split then has no operating point.

A category whose images come in groups (Real-IAD's samples of 5 camera views, ``samples.json``) is held
out by whole groups, so that no view of a held-out sample is trained on.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from iadbench.datasets.families.real_iad import SAMPLES_FILE

VALIDATION = "validation"
HOLDOUT = "train_holdout"
NONE = "none"
# The hold-out's defaults (workflow/schemas/config.schema.yaml, operating_point:, says the same).
DEFAULTS = {"holdout_share": 0.1, "holdout_min": 1}
# Training keeps at least this many images: PaDiM's covariance and the other Gaussian fits need two, and
# one image gives NaN anomaly maps (a 2-image category held out 1 before and failed its gallery).
MIN_TRAIN_IMAGES = 2
IMAGE_SUFFIXES = (".png", ".PNG", ".jpg", ".JPG", ".jpeg", ".bmp", ".tif", ".tiff")


def holdout_count(n_train: int, share: float, minimum: int) -> int:
    """How many of ``n_train`` training images are held out: 0 when ``share`` is 0 (no hold-out), else
    ``max(minimum, ceil(share * n))``, at most half of them (so training keeps the larger part) and never so
    many that training keeps fewer than ``MIN_TRAIN_IMAGES``: 0 below 3 images."""
    if share <= 0:
        return 0
    wanted = max(int(minimum), math.ceil(share * n_train))
    return max(0, min(wanted, n_train // 2, n_train - MIN_TRAIN_IMAGES))


def holdout_paths(train_paths, seed: int, share: float, minimum: int,
                  group_of: dict[str, str] | None = None) -> list[str]:
    """The held-out training images: a seeded draw (``default_rng(seed)``) from the paths sorted by name.

    ``group_of`` (file name → group, e.g. Real-IAD's samples of 5 views): whole groups are drawn, in a
    seeded order of the sorted group names, until at least the rule's count is held out (never more than
    half of the images), so no view of a held-out sample is trained on."""
    ordered = sorted(str(path) for path in train_paths)
    count = holdout_count(len(ordered), share, minimum)
    if not count:
        return []
    if not group_of:
        picked = np.random.default_rng(seed).permutation(len(ordered))[:count]
        return sorted(ordered[index] for index in picked)
    members: dict[str, list[str]] = {}
    for path in ordered:
        members.setdefault(group_of.get(Path(path).name, path), []).append(path)
    names = sorted(members)
    held: list[str] = []
    for index in np.random.default_rng(seed).permutation(len(names)):
        if len(held) >= count or len(held) + len(members[names[index]]) > len(ordered) // 2:
            break
        held += members[names[index]]
    return sorted(held)


def validation_images(category_dir: str | Path) -> list[Path]:
    """The defect-free images of the dataset's validation split (``validation/good``), sorted; [] if none."""
    folder = Path(category_dir) / VALIDATION / "good"
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.is_file() and path.suffix in IMAGE_SUFFIXES)


def calibration_rule(category_dir: str | Path, share: float = DEFAULTS["holdout_share"]) -> str:
    """``validation`` where the category has a ``validation/good`` split, else ``train_holdout`` (``none``
    when ``share`` is 0: nothing is held out)."""
    if validation_images(category_dir):
        return VALIDATION
    return HOLDOUT if share > 0 else NONE


def sample_groups(category_dir: str | Path) -> dict[str, str] | None:
    """File name → sample of a category that groups its images (Real-IAD's ``samples.json``), else None."""
    path = Path(category_dir) / SAMPLES_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read the sample grouping {path}: {error}") from error
