"""Leave-one-image-out jackknife values of the pixel metrics, saved beside the bootstrap replicates.

The paired test of two models' pixel AUROC, AP or AU-PRO (:mod:`iadbench.stats.significance`) reads these: one row
per test image with pixel ground truth, the metrics on every other such image (:func:`pixel_jackknife`, the same
threshold grid as the bootstrap: :func:`iadbench.stats.uncertainty.pixel_replicates` of the count matrix 1 - I).
The jackknife variance errs on the safe side for any symmetric statistic (Efron and Stein 1981); the bootstrap's
ran narrow in the far tail a table's correction reads (z sd 1.03-1.05 on equal models, docs/statistics.md).

Stored in ``bootstrap.npz`` (:func:`iadbench.stats.uncertainty.save_replicates`' extra members, :func:`members`):
``jackknife`` float64 images x metrics, ``jackknife_metrics`` their names, ``jackknife_keys`` the images' paths
(rows in path order, so two models' rows pair up), ``jackknife_strata`` whether each image is anomalous (the
variance sums over the two strata). Files from before hold none of these: :func:`load_jackknife` gives None.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from iadbench.stats.paired import jackknife_df, jackknife_z
from iadbench.stats.uncertainty import PixelStatistics, pixel_replicates


class Jackknife(NamedTuple):
    names: tuple[str, ...]  # the metrics (columns)
    values: np.ndarray      # (images, metrics): each metric without that image
    keys: np.ndarray        # (images,) str: the left-out image's path, ascending
    strata: np.ndarray      # (images,) bool: anomalous

    def column(self, metric: str) -> np.ndarray | None:
        return self.values[:, self.names.index(metric)] if metric in self.names else None


def pixel_jackknife(statistics: PixelStatistics, keys: Sequence[str], strata, aliases: dict[str, str] | None = None
                    ) -> Jackknife:
    """The pixel metrics (``statistics.names``, plus ``aliases``: name -> the name it copies) of the images with
    each one left out in turn; ``keys`` and ``strata`` per image, as ``statistics`` orders them. Rows sorted by
    key."""
    n = statistics.positives.shape[0]
    keys, strata = np.asarray(keys, dtype=str).reshape(-1), np.asarray(strata).reshape(-1) > 0
    if keys.size != n or strata.size != n:
        raise ValueError(f"pixel_jackknife: {n} images but {keys.size} keys and {strata.size} strata")
    if np.unique(keys).size != n:
        raise ValueError("pixel_jackknife: the images' keys (paths) are not unique")
    values = pixel_replicates(statistics, np.ones((n, n), dtype=np.int32) - np.eye(n, dtype=np.int32))
    names = list(statistics.names)
    for alias, source in (aliases or {}).items():
        values = np.concatenate([values, values[:, names.index(source)][:, None]], axis=1)
        names.append(alias)
    order = np.argsort(keys, kind="stable")
    return Jackknife(tuple(names), values[order], keys[order], strata[order])


def members(jackknife: Jackknife | None) -> dict[str, np.ndarray]:
    """The ``bootstrap.npz`` members that hold ``jackknife`` (none for None)."""
    if jackknife is None:
        return {}
    return {"jackknife": np.asarray(jackknife.values, dtype=np.float64),
            "jackknife_metrics": np.asarray(list(jackknife.names), dtype=str),
            "jackknife_keys": np.asarray(jackknife.keys, dtype=str),
            "jackknife_strata": np.asarray(jackknife.strata, dtype=bool)}


def load_jackknife(path: str | Path) -> Jackknife | None:
    """The jackknife values in a ``bootstrap.npz``; None when it holds none (a failed job, an older file)."""
    with np.load(path, allow_pickle=False) as data:
        if "jackknife" not in data.files:
            return None
        return Jackknife(tuple(str(name) for name in data["jackknife_metrics"]), data["jackknife"],
                         data["jackknife_keys"].astype(str), data["jackknife_strata"].astype(bool))


def paired_test(first: Jackknife, second: Jackknife, metric: str, observed: float) -> tuple[float, float, str]:
    """Two models' ``metric`` on the same images by the paired jackknife: ``(z, df, "")``, z the observed difference
    ``first - second`` (the rows'; NaN: the left-out differences' mean) over the stratified jackknife standard
    error of the difference (:func:`iadbench.stats.paired.jackknife_z`), df its degrees of freedom
    (:func:`iadbench.stats.paired.jackknife_df`); or NaN, NaN and why not ({best}/{other}: first/second)."""
    if not np.array_equal(first.keys, second.keys):
        return np.nan, np.nan, "{best} and {other} have pixel ground truth on different test images"
    if not np.array_equal(first.strata, second.strata):
        return np.nan, np.nan, "{best} and {other} disagree on the images' labels"
    left_out = first.column(metric).astype(np.float64) - second.column(metric).astype(np.float64)
    if not np.isfinite(observed):
        observed = float(np.mean(left_out))
    z = jackknife_z(observed, left_out, first.strata)
    if np.isnan(z):
        return np.nan, np.nan, "the jackknife test needs two test images of each class with pixel ground truth"
    return z, jackknife_df(left_out, first.strata), ""
