"""What the report reads besides the rows: each evaluation job's per-image scores (``scores.parquet``) and its
bootstrap replicates (``bootstrap.npz``, with the pixel metrics' jackknife values: :mod:`iadbench.stats.jackknife`),
keyed by job. The paired tests (:mod:`iadbench.stats.significance`), the
cells' intervals and the score distributions (:mod:`iadbench.report.distributions`) read from here.

A file that is missing, unreadable or empty (a failed job writes both empty) leaves that part of the job's
evidence out: the report then says which comparison could not be made, and never stops for it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from iadbench.stats import uncertainty
from iadbench.stats.jackknife import Jackknife, load_jackknife

log = logging.getLogger(__name__)

JobKey = tuple[str, str, str, int]  # dataset, category, model, seed


@dataclass(frozen=True)
class ImageArrays:
    """A score table's columns as numpy arrays (paths as str objects, labels as bool), read once per job: the
    paired tests compare each job with many others, and a DataFrame lookup per comparison would dominate."""

    paths: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    unique: bool  # no image path twice


@dataclass
class JobEvidence:
    scores: pd.DataFrame | None = None  # image_path, label, defect_type, image_score, ...; None: none read
    replicates: dict[str, np.ndarray] = field(default_factory=dict)  # metric -> its bootstrap replicates
    jackknife: Jackknife | None = None  # the pixel metrics' leave-one-image-out values; None: none saved (older file)
    _arrays: ImageArrays | None = field(default=None, repr=False, compare=False)

    def arrays(self) -> ImageArrays | None:
        """The score table as arrays (None without one); computed on first use."""
        if self._arrays is None and self.scores is not None:
            paths = self.scores["image_path"].to_numpy(dtype=object)
            self._arrays = ImageArrays(paths, self.scores["label"].to_numpy() > 0,
                                       self.scores["image_score"].to_numpy(dtype=np.float64),
                                       len(set(paths)) == len(paths))
        return self._arrays


Evidence = dict[JobKey, JobEvidence]


def job_key(path: str | Path) -> JobKey:
    """``results/evaluate/<dataset>/<category>/<model>/<seed>/<file>`` -> its job."""
    dataset, category, model, seed = Path(path).parts[-5:-1]
    return dataset, category, model, int(seed)


def read_evidence(score_paths: Iterable[str | Path] = (), bootstrap_paths: Iterable[str | Path] = ()) -> Evidence:
    """The jobs' score tables and replicates; unreadable or empty files are left out (logged)."""
    evidence: Evidence = {}
    for path in map(Path, score_paths):
        try:
            with pq.ParquetFile(path) as parquet:  # half pd.read_parquet's time: no thread pool per small file
                table = parquet.read(use_threads=False).to_pandas(use_threads=False)
        except Exception as error:  # noqa: BLE001 -- pyarrow raises several types; a side input never stops the report
            log.warning("cannot read %s: %s", path, error)
            continue
        if len(table):
            evidence.setdefault(job_key(path), JobEvidence()).scores = table
    for path in map(Path, bootstrap_paths):
        try:
            replicates = uncertainty.load_replicates(path)
        except Exception as error:  # noqa: BLE001 -- as above (OSError, ValueError, KeyError, zipfile errors)
            log.warning("cannot read %s: %s", path, error)
            continue
        if replicates:
            job = evidence.setdefault(job_key(path), JobEvidence())
            job.replicates = replicates
            try:
                job.jackknife = load_jackknife(path)
            except Exception as error:  # noqa: BLE001 -- as above; the pixel tests then fall back on the bootstrap
                log.warning("cannot read the jackknife values of %s: %s", path, error)
    return evidence


def scores_of(evidence: Evidence | None, key: JobKey) -> pd.DataFrame | None:
    job = (evidence or {}).get(key)
    return None if job is None else job.scores


def arrays_of(evidence: Evidence | None, key: JobKey) -> ImageArrays | None:
    job = (evidence or {}).get(key)
    return None if job is None else job.arrays()


def replicates_of(evidence: Evidence | None, key: JobKey, metric: str) -> np.ndarray | None:
    job = (evidence or {}).get(key)
    return None if job is None else job.replicates.get(metric)


def jackknife_of(evidence: Evidence | None, key: JobKey) -> Jackknife | None:
    job = (evidence or {}).get(key)
    return None if job is None else job.jackknife
