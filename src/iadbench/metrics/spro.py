"""MVTec LOCO AD's saturated per-region overlap (sPRO) and its area AU-sPRO, as the official evaluation.
Pure: the per-defect masks and ``defects_config.json`` are read by :mod:`iadbench.datasets.protocol_files`.

Source: MVTec's ``mvtec_loco_ad_evaluation`` (Batzner, Bergmann, Fauser, Sattlegger 2022):
``src/image.py`` (``DefectConfig``, ``GroundTruthChannel.get_saturation_area``), ``src/metrics.py``
(``get_spro``, ``get_fp_areas_for_thresholds``), ``evaluate_experiment.py`` (``MAX_FPRS``,
``get_auc_spros_per_subdir`` with the good images added to each subdirectory, the mean of logical and
structural) and ``src/util.py`` (``get_auc_for_max_fpr``: trapezoid up to the limit, divided by it).

* Ground truth: each anomalous image has one mask per defect (``ground_truth/<type>/<image>/000.png``,
  ``001.png``, ...), each with exactly one positive value, its ``pixel_value``, which names its entry in
  the category's ``defects_config.json``.
* Saturation area of a defect of area ``A``: ``int(saturation_threshold * A)`` when
  ``relative_saturation`` is true, else ``min(saturation_threshold, A)`` pixels.
* sPRO of a defect at threshold t: ``min(TP / saturation_area, 1)``; the curve's y is the mean over
  every defect of every image in the set (one defect, one vote).
* FPR at t: anomalous pixels among the pixels that are defect-free in *all* of an image's masks (the
  union), over all images of the set, defect-free images included.
* AU-sPRO at each limit of :data:`MAX_FPRS`: area under (FPR, mean sPRO) from FPR 0 to the limit,
  trapezoid rule, the last segment cut by linear interpolation, divided by the limit.

Exactness: the official script samples thresholds until neighbouring curve points are closer than
``curve_max_distance`` (default 0.01); here the curve has one point per distinct score (every threshold),
which is that procedure's limit. A binarised map is ``score > t`` there and ``score >= t`` here: over
the distinct scores both give the same set of binary maps, so the same curve. A relative saturation area
that rounds to 0 pixels (the official script divides by it) counts as 1 pixel here, with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

MAX_FPRS = (0.01, 0.05, 0.1, 0.3, 1.0)
DEFECTS_CONFIG = "defects_config.json"  # the file name its errors cite


@dataclass(frozen=True)
class DefectConfig:
    """One entry of ``defects_config.json``."""

    defect_name: str
    pixel_value: int
    saturation_threshold: int | float
    relative_saturation: bool


def parse_defects_config(entries: Sequence[dict], source: str = DEFECTS_CONFIG) -> dict[int, DefectConfig]:
    """``pixel_value`` → :class:`DefectConfig`, checked as the official ``DefectConfig`` checks them."""
    configs: dict[int, DefectConfig] = {}
    for index, entry in enumerate(entries):
        try:
            config = DefectConfig(str(entry["defect_name"]), int(entry["pixel_value"]),
                                  entry["saturation_threshold"], bool(entry["relative_saturation"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{source}: entry {index} is not a defect config ({error!r})") from error
        threshold = config.saturation_threshold
        if not 1 <= config.pixel_value <= 255:
            raise ValueError(f"{source}: entry {index}: pixel_value {config.pixel_value} outside 1..255")
        if config.relative_saturation and not (isinstance(threshold, float) and 0 < threshold <= 1):
            raise ValueError(f"{source}: entry {index}: a relative saturation_threshold must be a float in (0, 1]")
        if not config.relative_saturation and (isinstance(threshold, bool) or not isinstance(threshold, int)):
            raise ValueError(f"{source}: entry {index}: an absolute saturation_threshold must be an integer")
        configs[config.pixel_value] = config
    return configs


@dataclass(frozen=True)
class Defect:
    """One defect of one image: its pixels and its config."""

    mask: np.ndarray  # bool (H, W)
    config: DefectConfig

    @property
    def area(self) -> int:
        return int(np.count_nonzero(self.mask))

    @property
    def saturation_area(self) -> int:
        """The official ``get_saturation_area``."""
        if self.config.relative_saturation:
            return int(self.config.saturation_threshold * self.area)
        return int(min(self.config.saturation_threshold, self.area))


def defects_of(channels: np.ndarray, configs: dict[int, DefectConfig], source: str = "") -> list[Defect]:
    """The defects of an image from its ``(K, H, W)`` integer masks (one positive value per mask)."""
    defects = []
    for index, channel in enumerate(np.asarray(channels)):
        values = np.unique(channel)
        positive = values[values > 0]
        if positive.size != 1 or values.min() < 0:
            raise ValueError(f"{source}: mask {index} must hold 0 and exactly one positive value, has {values}")
        if int(positive[0]) not in configs:
            raise ValueError(f"{source}: mask {index} has pixel value {int(positive[0])}, which "
                             f"{DEFECTS_CONFIG} does not list")
        defects.append(Defect(channel > 0, configs[int(positive[0])]))
    return defects


def spro_curve(maps: Sequence[np.ndarray], defects: Sequence[Sequence[Defect]]) -> tuple[np.ndarray, np.ndarray]:
    """The (FPR, mean sPRO) curve over every distinct score, from (0, 0) to (1, 1), float64.

    ``maps[i]`` is image i's anomaly map at its masks' size, ``defects[i]`` its defects ([] for a
    defect-free image). Raises ``ValueError`` without a defect or without a defect-free pixel.
    """
    if len(maps) != len(defects):
        raise ValueError(f"{len(maps)} maps but {len(defects)} ground truths")
    scores, negatives, offsets = [], [], [0]
    for one_map, image_defects in zip(maps, defects, strict=True):
        one_map = np.asarray(one_map, dtype=np.float64)
        union = np.zeros(one_map.shape, dtype=bool)
        for defect in image_defects:
            if defect.mask.shape != one_map.shape:
                raise ValueError(f"a mask of shape {defect.mask.shape} for a map of shape {one_map.shape}")
            union |= defect.mask
        scores.append(one_map.reshape(-1))
        negatives.append(~union.reshape(-1))
        offsets.append(offsets[-1] + one_map.size)
    all_defects = [(offset, defect) for offset, image_defects in zip(offsets, defects, strict=False)
                   for defect in image_defects]
    if not all_defects:
        raise ValueError("sPRO needs at least one defect")
    score = np.concatenate(scores)
    negative = np.concatenate(negatives)
    n_negative = int(negative.sum())
    if not n_negative:
        raise ValueError("sPRO's FPR needs at least one defect-free pixel")
    if not np.isfinite(score).all():
        raise ValueError("anomaly maps must be finite")
    order = np.argsort(-score, kind="stable")
    position = np.empty_like(order)
    position[order] = np.arange(order.size)
    increments = np.zeros(score.size, dtype=np.float64)
    for offset, defect in all_defects:
        saturation = defect.saturation_area
        if saturation < 1:
            logger.warning("a %s defect of %d pixels has a saturation area of 0; counted as 1 pixel",
                           defect.config.defect_name, defect.area)
            saturation = 1
        # The defect's pixels in decreasing score order; the first `saturation` ones each add 1/saturation.
        entering = np.sort(position[offset + np.flatnonzero(defect.mask.reshape(-1))])[:saturation]
        np.add.at(increments, entering, 1.0 / (saturation * len(all_defects)))
    sorted_score = score[order]
    ends = np.flatnonzero(np.append(sorted_score[1:] != sorted_score[:-1], True))
    fpr = np.cumsum(negative[order])[ends] / n_negative
    spro = np.minimum(np.cumsum(increments)[ends], 1.0)
    return np.concatenate(([0.0], fpr, [1.0])), np.concatenate(([0.0], spro, [1.0]))


def area_up_to(fpr: np.ndarray, y: np.ndarray, limit: float) -> float:
    """The official ``get_auc_for_max_fpr(..., scale_to_one=True)``: trapezoid area from FPR 0 to
    ``limit`` (the segment crossing it cut by linear interpolation), divided by ``limit``."""
    fpr, y = np.asarray(fpr, dtype=np.float64), np.asarray(y, dtype=np.float64)
    inside = fpr <= limit
    x_in, y_in = fpr[inside], y[inside]
    area = float(np.sum(0.5 * (y_in[1:] + y_in[:-1]) * np.diff(x_in)))
    beyond = np.flatnonzero(~inside)
    if beyond.size and x_in.size and x_in[-1] < limit:
        after = beyond[0]
        x0, y0, x1, y1 = x_in[-1], y_in[-1], fpr[after], y[after]
        y_limit = y0 + (y1 - y0) * (limit - x0) / (x1 - x0)
        area += 0.5 * (y0 + y_limit) * (limit - x0)
    return area / limit


def au_spro(maps, defects, limits: Sequence[float] = MAX_FPRS) -> dict[float, float]:
    fpr, spro = spro_curve(maps, defects)
    return {limit: area_up_to(fpr, spro, limit) for limit in limits}


def limit_name(limit: float) -> str:
    """An FPR limit as the columns write it: 0.01 → "01", 0.05 → "05", 1.0 → "100"."""
    return f"{round(limit * 100):02d}"
