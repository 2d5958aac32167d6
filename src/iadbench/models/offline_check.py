"""Before a run starts any job: is every download it would make reachable? One check, in one process.

Snakemake's ``onstart`` (``exit_if_downloads_unreachable`` in ``workflow/rules/common.smk``) hands over the
models whose ``fetch_assets`` job and the datasets whose ``download_dataset`` job the run would execute. Each
model's assets come from the recorded table (:mod:`iadbench.models.asset_table`: no torch, no anomalib, no
model built); the ones not in the cache, and each dataset's archive, have their host probed once per host
(a name that does not resolve, a refused connection, no route). When any cannot be reached, the run ends
there with one summary of them all and exit status 2, before any job starts: on a machine without network
this takes seconds instead of one model build per fetch job. A model the table does not hold (other
``init_args``, other library versions) is left to its fetch job, which builds it: then nothing is decided
here, and the run's summary comes from the jobs' records at the end (``Snakefile``'s ``onerror``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from iadbench.datasets.download import unreachable_once
from iadbench.datasets.pending import archive_to_fetch
from iadbench.models.asset_table import recorded_assets
from iadbench.models.assets import _is_present, _probe_url, by_hand, cache_dir, mirrored
from iadbench.models.required_assets import summary_of_missing

logger = logging.getLogger(__name__)


def unreachable_downloads(models: list[tuple[str, dict[str, Any], int]], datasets: list[tuple[str, dict[str, Any], Path]],
                          asset_dir: str | Path, mirror: str | None = None) -> tuple[list[dict[str, str]], list[str]]:
    """``(missing, unrecorded)``: every asset of ``models`` (``(name, spec, image_size)``) not in the cache and
    every archive of ``datasets`` (``(name, source spec, folder)``) whose host cannot be reached (entries: name,
    url, place, how, reason, model: who needs it), and the models the recorded table does not hold."""
    cache = cache_dir(asset_dir)
    reachable: dict[str, str | None] = {}
    missing: list[dict[str, str]] = []
    unrecorded: list[str] = []
    for name, spec, image_size in models:
        assets = recorded_assets(name, spec, image_size)
        if assets is None:
            unrecorded.append(name)
            continue
        for asset in assets:
            url = mirrored(asset.url, mirror)
            if not _is_present(asset, cache) and (why := unreachable_once(_probe_url(asset, url, mirror), reachable)):
                missing.append({**by_hand(asset, cache, url), "reason": why, "model": name})
    for name, spec, root in datasets:
        archive = archive_to_fetch(name, spec, root)
        if archive is not None and (why := unreachable_once(archive["url"], reachable)):
            missing.append({**archive, "reason": why, "model": f"dataset {name}"})
    return missing, unrecorded


def downloads_summary(models: list[tuple[str, dict[str, Any], int]], datasets: list[tuple[str, dict[str, Any], Path]],
                      asset_dir: str | Path, mirror: str | None = None) -> str:
    """The summary of every download the run cannot make, when all of them are known here ("" otherwise:
    nothing missing, or a model whose assets only its fetch job can find, by building it)."""
    missing, unrecorded = unreachable_downloads(models, datasets, asset_dir, mirror)
    if missing and unrecorded:
        logger.info("unreachable downloads; %s not in the recorded table of assets: their fetch jobs list "
                    "theirs, the run's summary comes at its end", ", ".join(unrecorded))
        return ""
    return summary_of_missing(missing)
