"""The few-shot and noisy settings' image selections (:mod:`iadbench.config.settings`), on anomalib's sample
tables: which training images a few-shot job keeps, which anomalous test images a noisy job moves into training.

Both draws depend on the seed and the files alone (paths sorted first, so the order the reader listed them in
does not matter), and a moved image leaves the test set: it is never scored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

NORMAL_LABEL_INDEX = 0  # anomalib's LabelName.NORMAL
ABNORMAL_LABEL_INDEX = 1
# Separate streams for the two draws (so few-shot k=4 and noisy 0.1 of one seed do not share random numbers).
FEW_SHOT_STREAM, NOISY_STREAM = 1, 2


class SelectionError(ValueError):
    """A selection that cannot be made (fewer images than asked for)."""


@dataclass
class Selection:
    """What a setting changed: the images picked (few-shot) or moved (noisy), as the samples name them."""

    few_shot: list[str] = field(default_factory=list)
    noisy: list[str] = field(default_factory=list)

    def record(self, root: str | Path) -> dict[str, Any]:
        """The training record's fields (the row's few_shot_files, noisy_files): paths relative to ``root``."""
        def relative(paths: list[str]) -> str:
            return "; ".join(sorted(_relative(path, root) for path in paths))

        return {"few_shot_files": relative(self.few_shot), "noisy_files": relative(self.noisy)}


def _relative(path: str, root: str | Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(path)


def few_shot_paths(paths: list[str], k: int, seed: int) -> list[str]:
    """``k`` of ``paths`` drawn by ``seed`` (sorted); fewer than ``k``: :class:`SelectionError`."""
    ordered = sorted(map(str, paths))
    if k > len(ordered):
        raise SelectionError(f"few-shot k={k}: the category has only {len(ordered)} defect-free training images")
    rng = np.random.default_rng([seed, FEW_SHOT_STREAM, k])
    return sorted(ordered[index] for index in rng.choice(len(ordered), size=k, replace=False))


def noisy_count(n_anomalous: int, ratio: float) -> int:
    """Anomalous test images moved into training: the ratio's share rounded half up, at least one (when there
    is one) and never all of them (the test set keeps an anomalous image to score)."""
    if n_anomalous < 2:
        raise SelectionError(f"noisy ratio {ratio}: the category has {n_anomalous} anomalous test image(s); "
                             "moving one into training would leave none to score")
    return min(max(1, int(np.floor(ratio * n_anomalous + 0.5))), n_anomalous - 1)


def noisy_paths(paths: list[str], ratio: float, seed: int) -> list[str]:
    """The anomalous test images (of ``paths``) that a noisy job moves into training, drawn by ``seed``."""
    ordered = sorted(map(str, paths))
    count = noisy_count(len(ordered), ratio)
    rng = np.random.default_rng([seed, NOISY_STREAM, round(ratio * 100)])
    return sorted(ordered[index] for index in rng.choice(len(ordered), size=count, replace=False))


def select(train: pd.DataFrame, test: pd.DataFrame, kind: str, seed: int, *, k: int | None = None,
           ratio: float | None = None) -> tuple[pd.DataFrame, pd.DataFrame, Selection]:
    """The train and test sample tables of a setting (``few_shot``: ``k`` training images; ``noisy``: ``ratio`` of
    the anomalous test images moved into training as unlabelled, i.e. normal-labelled, training images and out
    of the test set); any other kind: unchanged."""
    selection = Selection()
    if kind == "few_shot":
        selection.few_shot = few_shot_paths(list(train["image_path"]), int(k), seed)
        train = train[train["image_path"].astype(str).isin(selection.few_shot)]
    elif kind == "noisy":
        anomalous = test[test["label_index"] == ABNORMAL_LABEL_INDEX]
        selection.noisy = noisy_paths(list(anomalous["image_path"]), float(ratio), seed)
        moved = test["image_path"].astype(str).isin(selection.noisy)
        added = test[moved].copy()
        # Training data is taken as defect-free: the moved images come in as normal ones, without masks.
        added["split"] = "train"
        added["label_index"] = NORMAL_LABEL_INDEX
        added["mask_path"] = ""
        if "label" in added:
            added["label"] = "good"
        train = pd.concat([train, added], ignore_index=True)
        test = test[~moved]
    for table in (train, test):
        table.reset_index(drop=True, inplace=True)
    return train, test, selection


def apply_selection(datamodule: Any, kind: str, seed: int, *, k: int | None = None,
                    ratio: float | None = None) -> Selection:
    """Make ``datamodule``'s setup apply :func:`select` to its train and test datasets' samples; the returned
    :class:`Selection` is filled when the datamodule is set up (by the engine's fit)."""
    selection = Selection()
    if kind not in ("few_shot", "noisy"):
        return selection
    setup = datamodule._setup

    def setup_selected(stage: str | None = None) -> None:
        setup(stage)
        attrs = dict(datamodule.test_data.samples.attrs)
        train, test, made = select(datamodule.train_data.samples, datamodule.test_data.samples, kind, seed,
                                   k=k, ratio=ratio)
        train.attrs.update(attrs)
        test.attrs.update(attrs)
        datamodule.train_data.samples, datamodule.test_data.samples = train, test
        selection.few_shot, selection.noisy = made.few_shot, made.noisy

    datamodule._setup = setup_selected
    return selection
