"""Any dataset type: select its categories, get it once, prepare each category in the MVTec AD layout.

What differs per type lives in :mod:`iadbench.datasets.families`; this module only orchestrates. On disk,
for a config entry ``<name>`` (``dataset_dir = resources/datasets/<name>``)::

    download/<archive>          the verified archive (kept: re-extraction needs no new download)
    extracted/                  the archive's content, renamed into place only once fully extracted
    .complete                   JSON marker written last; names the source folder the categories come from
    <category>/                 one prepared category in the MVTec AD layout (what training reads)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from iadbench.datasets import embedded, embedded_video, miniature
from iadbench.datasets.download import DownloadError, checksum_algorithm, download, file_lock, verify_checksum
from iadbench.datasets.extract import safe_extract
from iadbench.datasets.families import DatasetFamily, DatasetUnavailableError, family, folder, mvtec_layout
from iadbench.datasets.families.video import VIDEO_FAMILIES, VideoFamily, validate_video_category
from iadbench.datasets.validate import (
    CategorySummary,
    DatasetValidationError,
    mask_folders,
    validate_category,
)

logger = logging.getLogger(__name__)

COMPLETE_MARKER = ".complete"
SUMMARY_FILE = "summary.json"
DOWNLOAD_SUBDIR = "download"
EXTRACTED_SUBDIR = "extracted"
EMBEDDED_TYPE = "embedded"
# Folders a dataset_dir holds besides its categories; no category may take these names.
RESERVED_NAMES = frozenset({DOWNLOAD_SUBDIR, EXTRACTED_SUBDIR})
MAX_ROOT_DEPTH = 3
# Config keys that decide where a dataset comes from (what the download step depends on). Other keys
# (categories, conversion options) must not re-trigger a download, and through it every job downstream.
SOURCE_KEYS = ("type", "url", "checksum", "path", "miniature", *folder.DIR_KEYS)

__all__ = [
    "DatasetUnavailableError", "IncompleteDatasetError", "dataset_categories", "prepare_category",
    "prepare_dataset", "source_spec",
]


class IncompleteDatasetError(RuntimeError):
    """A category was requested before the dataset's ``.complete`` marker exists."""


# ---------------------------------------------------------------------------------------------- spec
def dataset_type(spec: dict[str, Any]) -> str:
    """The ``type:`` of a config entry (``embedded`` when absent, as the schema's default)."""
    return spec.get("type", EMBEDDED_TYPE)


def dataset_categories(spec: dict[str, Any]) -> list[str]:
    """The categories a dataset entry of the config selects; ``all`` expands to the real list."""
    kind = dataset_type(spec)
    selected = spec.get("categories", "all")
    if kind == EMBEDDED_TYPE:
        return select_categories(selected, embedded.CATEGORIES, kind)
    if kind == folder.TYPE:
        if "good" in (spec.get("abnormal_dir") or {}):
            raise ValueError("folder dataset: `abnormal_dir:` may not name a defect 'good' (the defect-free label)")
        mask_folders(spec.get("abnormal_dir"), spec.get("mask_dir"))  # the two forms agree (no disk access)
        return folder.categories(selected, RESERVED_NAMES)
    if kind == mvtec_layout.TYPE:
        return mvtec_layout.categories(spec, selected, RESERVED_NAMES)
    if kind == embedded_video.TYPE:
        return select_categories(selected, embedded_video.CATEGORIES, kind)
    return select_categories(selected, any_family(kind).categories, kind)


def any_family(kind: str) -> DatasetFamily:
    """The catalog family of a dataset type: an image family, or a video one (:mod:`.families.video`)."""
    return VIDEO_FAMILIES[kind] if kind in VIDEO_FAMILIES else family(kind)


def is_video(spec: dict[str, Any]) -> bool:
    """Whether a dataset entry belongs to the video track (its jobs train video models, rows say video)."""
    return dataset_type(spec) in (embedded_video.TYPE, *VIDEO_FAMILIES)


def select_categories(selected: str | list[str], known: tuple[str, ...], kind: str) -> list[str]:
    """``all`` → every known category; a list → itself, each one checked against ``known``."""
    if selected == "all":
        return list(known)
    unknown = [category for category in selected if category not in known]
    if unknown:
        raise ValueError(f"unknown {kind} categories {unknown} (known: {', '.join(known)})")
    return list(selected)


def source_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The part of a dataset entry the download step depends on (its Snakemake ``params``)."""
    return {key: spec[key] for key in SOURCE_KEYS if key in spec}


def archive_source(spec: dict[str, Any], info: DatasetFamily) -> tuple[str | None, str, str | None]:
    """(url, archive file name, checksum) for an entry: ``url:``/``checksum:`` override the family's.

    An overriding ``url:`` without ``checksum:`` keeps the family's checksum (a mirror serves the same
    file); ``checksum: null`` turns verification off for a file that differs on purpose.
    """
    url = spec.get("url") or (info.archive.url if info.archive else None)
    checksum = spec.get("checksum", info.archive.checksum if info.archive else None)
    if info.archive:
        filename = info.archive.filename
    else:
        filename = PurePosixPath(url.split("?")[0]).name if url else ""
        filename = filename or f"{info.key}.archive"
    return url, filename, checksum


# ------------------------------------------------------------------------------------------ dataset
def prepare_dataset(
    spec: dict[str, Any], root: str | Path, download_options: dict[str, Any] | None = None
) -> Path:
    """Make the dataset's source available once in ``root`` (its folder) and write ``root/.complete`` last.

    Order of preference: ``path:`` (an extracted copy, or an archive file, skips the download); an
    ``extracted/`` folder already there (a finished extraction, or data put there by hand); download
    of ``url:`` (the family's URL by default), checksum, safe extraction. Manual-only datasets without
    any of these raise :class:`DatasetUnavailableError` with the steps. ``download_options`` go to
    :func:`~iadbench.datasets.download.download` (retries, backoff_seconds, timeout_seconds). Returns
    the source folder. Safe to call again (and from concurrent processes): a complete dataset is kept.
    """
    dataset_dir = Path(root)
    dataset_dir.mkdir(parents=True, exist_ok=True)
    kind = dataset_type(spec)
    with file_lock(dataset_dir / ".lock"):
        if is_complete(dataset_dir):
            logger.info("%s is complete", dataset_dir)
            return source_root(dataset_dir)
        (dataset_dir / COMPLETE_MARKER).unlink(missing_ok=True)
        record: dict[str, Any] = {"type": kind}
        if kind in (EMBEDDED_TYPE, embedded_video.TYPE):
            source = None  # generated per category; nothing to fetch
        elif kind == folder.TYPE:
            source = folder.source_root(spec)
        elif kind == mvtec_layout.TYPE:
            source = mvtec_layout.source_folder(spec).resolve()
            record["path"] = str(spec["path"])
        else:
            source = _fetch(spec, any_family(kind), dataset_dir, record, download_options or {})
        _write_marker(dataset_dir, source, record)
        return source if source is not None else dataset_dir


def _fetch(
    spec: dict[str, Any], info: DatasetFamily, dataset_dir: Path, record: dict[str, Any],
    download_options: dict[str, Any],
) -> Path:
    """A catalog dataset's source folder: from ``path:``, an earlier extraction, or a download."""
    extracted = dataset_dir / EXTRACTED_SUBDIR
    manual = info.manual_steps_for(extracted)
    url, filename, checksum = archive_source(spec, info)
    if spec.get("miniature") is not None:  # generated locally in the official layout (datasets.miniature)
        return locate_source_root(miniature.source_for(spec, info.key, dataset_dir, record), info)
    if "path" in spec:
        given = Path(spec["path"]).expanduser()
        record["path"] = str(given)
        if given.is_dir():
            return locate_source_root(given, info)
        if not given.is_file():
            raise DatasetUnavailableError(f"`path:` {given} ({info.display_name}) does not exist.\n{manual}")
        if checksum:
            verify_checksum(given, checksum)
        _record_checksum(record, checksum)
        shutil.rmtree(extracted, ignore_errors=True)
        safe_extract(given, extracted)
        return locate_source_root(extracted, info)
    if extracted.is_dir():
        # safe_extract renames into place only at the very end, so this is a whole extraction (or data
        # the user put there following the manual steps).
        logger.info("using the already extracted %s", extracted)
        return locate_source_root(extracted, info)
    if not url:
        raise DatasetUnavailableError(f"{info.display_name} cannot be downloaded automatically.\n{manual}")
    archive = dataset_dir / DOWNLOAD_SUBDIR / filename
    try:
        download(url, archive, checksum=checksum, **download_options)
    except DownloadError as error:
        if type(error) is DownloadError:
            raise DownloadError(f"{error}\n\nIf the link is broken:\n{manual}") from error
        raise
    record.update(url=url, archive=str(archive.relative_to(dataset_dir)))
    _record_checksum(record, checksum)
    safe_extract(archive, extracted)
    return locate_source_root(extracted, info)


def _record_checksum(record: dict[str, Any], checksum: str | None) -> None:
    record.update(checksum=checksum, checksum_algorithm=checksum_algorithm(checksum) if checksum else None)


def locate_source_root(candidate_root: Path, info: DatasetFamily) -> Path:
    """The folder (``candidate_root`` itself or up to 3 levels below) holding the family's root markers.

    Archives differ in how many folders wrap the data (BTech: ``BTech_Dataset_transformed/``), and so do
    copies users point ``path:`` at.
    """
    level = [candidate_root]
    for _ in range(MAX_ROOT_DEPTH + 1):
        for candidate in level:
            if any((candidate / marker).exists() for marker in info.markers()):
                return candidate
        level = sorted(
            child for parent in level for child in parent.iterdir()
            if child.is_dir() and not child.name.startswith((".", "__MACOSX"))
        )
    raise DatasetUnavailableError(
        f"{candidate_root} does not look like {info.display_name}: none of {', '.join(info.markers()[:4])} "
        f"found in it or up to {MAX_ROOT_DEPTH} folders below.\n" + info.manual_steps_for(candidate_root)
    )


def _write_marker(dataset_dir: Path, source: Path | None, record: dict[str, Any]) -> None:
    """Write ``.complete`` atomically, so a reader never sees half a marker."""
    if source is not None:
        # Relative inside dataset_dir, so a moved resources/ folder keeps working.
        source, base = source.resolve(), dataset_dir.resolve()
        record["source"] = str(source.relative_to(base) if source.is_relative_to(base) else source)
    record["completed_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    marker = dataset_dir / COMPLETE_MARKER
    temporary = marker.with_name(marker.name + ".tmp")
    temporary.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(temporary, marker)


def read_marker(dataset_dir: str | Path) -> dict[str, Any]:
    """The ``.complete`` record, or :class:`IncompleteDatasetError`."""
    marker = Path(dataset_dir) / COMPLETE_MARKER
    try:
        return json.loads(marker.read_text())
    except (OSError, ValueError) as error:
        raise IncompleteDatasetError(
            f"{Path(dataset_dir)} is not complete ({marker} missing or unreadable); download it first"
        ) from error


def is_complete(dataset_dir: str | Path) -> bool:
    """Whether the marker exists and its source folder is still there."""
    try:
        record = read_marker(dataset_dir)
    except IncompleteDatasetError:
        return False
    return "source" not in record or (Path(dataset_dir) / record["source"]).is_dir()


def source_root(dataset_dir: str | Path) -> Path:
    """The folder the categories are prepared from, as recorded in ``.complete``."""
    record = read_marker(dataset_dir)
    return Path(dataset_dir) / record["source"] if "source" in record else Path(dataset_dir)


# ----------------------------------------------------------------------------------------- category
def prepare_category(spec: dict[str, Any], root: str | Path, category: str) -> CategorySummary | None:
    """Make ``root/category`` ready to read through :func:`~iadbench.datasets.datamodule_for`.

    Embedded categories are generated (no summary). Others are assembled from the complete dataset in a
    temporary folder and renamed into place only when valid; an invalid one is kept as
    ``.<category>.invalid`` for inspection and the validation error names its file. ``folder`` datasets
    only get their folders validated and described in ``<category>/folder.json``. ``folder`` and
    ``mvtec_layout`` categories also get ``<category>/summary.json`` (the :class:`CategorySummary`: image
    counts, defects without masks, files skipped as not images).
    """
    dataset_dir = Path(root)
    kind = dataset_type(spec)
    if kind == EMBEDDED_TYPE:
        _generate_embedded(spec, dataset_dir, category)
        return None
    if kind == embedded_video.TYPE:
        _generate_embedded_video(spec, dataset_dir, category)
        return None
    if category not in dataset_categories({**spec, "categories": [category]}):
        raise ValueError(f"{category!r} is not a {kind} category")
    source = source_root(dataset_dir)
    target = dataset_dir / category
    staging = Path(tempfile.mkdtemp(prefix=f".{category}.preparing-", dir=dataset_dir))
    staging.chmod(0o755)  # mkdtemp's 0700 would hide the category from the rest of a shared group
    try:
        if kind == folder.TYPE:
            summary = folder.prepare(spec, source, staging)
        elif kind == mvtec_layout.TYPE:
            extensions = mvtec_layout.image_extensions(spec)
            skipped = mvtec_layout.convert(source, category, staging, extensions)
            try:
                summary = _validate_staged(dataset_dir, category, staging, extensions, masks_optional=True)
            except DatasetValidationError as error:  # name the user's own file, not its link in the copy
                invalid = dataset_dir / f".{category}.invalid"
                if not error.path.is_relative_to(invalid):
                    raise
                raise type(error)(source / category / error.path.relative_to(invalid), error.reason) from None
            summary.n_skipped_files = len(skipped)
        elif isinstance(info := any_family(kind), VideoFamily):
            info.convert(source, category, staging, spec)
            summary = validate_video_category(staging, min_frames=clip_length(spec))
        else:
            info.convert(source, category, staging, spec)
            summary = _validate_staged(dataset_dir, category, staging, info.image_extensions)
        if kind in (folder.TYPE, mvtec_layout.TYPE):
            summary.category = category
            (staging / SUMMARY_FILE).write_text(json.dumps(dataclasses.asdict(summary), indent=2) + "\n")
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("prepared %s: %s", target, summary)
    return summary


def _generate_embedded(spec: dict[str, Any], dataset_dir: Path, category: str) -> None:
    generator = spec.get("generator", {})
    size_keys = ("image_size", "n_train", "n_test_good", "n_test_per_defect")
    sizes = embedded.EmbeddedSpec(**{key: generator[key] for key in size_keys if key in generator})
    embedded.generate_category(dataset_dir, category, seed=generator.get("seed", 0), spec=sizes)


def clip_length(spec: dict[str, Any]) -> int:
    """Frames per clip of a video dataset entry (``clip_length_in_frames``, default 2 as anomalib's)."""
    return int(spec.get("clip_length_in_frames", 2))


def _generate_embedded_video(spec: dict[str, Any], dataset_dir: Path, category: str) -> None:
    generator = spec.get("generator", {})
    size_keys = ("image_size", "n_train_videos", "n_test_videos", "frames_per_video")
    sizes = embedded_video.EmbeddedVideoSpec(**{key: generator[key] for key in size_keys if key in generator})
    embedded_video.generate_category(dataset_dir, category, seed=generator.get("seed", 0), spec=sizes)
    validate_video_category(dataset_dir / category, min_frames=clip_length(spec))


def _validate_staged(
    dataset_dir: Path, category: str, staging: Path, extensions: tuple[str, ...], masks_optional: bool = False
) -> CategorySummary:
    try:
        summary = validate_category(dataset_dir, staging.name, extensions=extensions, masks_optional=masks_optional)
    except DatasetValidationError as error:
        invalid = dataset_dir / f".{category}.invalid"
        shutil.rmtree(invalid, ignore_errors=True)
        os.replace(staging, invalid)
        moved = error.path
        if moved.is_relative_to(staging):
            moved = invalid / moved.relative_to(staging)
        raise type(error)(moved, error.reason) from None
    summary.category = category
    return summary
