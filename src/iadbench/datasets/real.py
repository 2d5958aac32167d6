"""Real datasets: get them once, prepare each category in the MVTec AD layout, read them through anomalib.

On disk, for a config entry ``<name>`` (``dataset_dir = resources/datasets/<name>``)::

    download/<archive>          the verified archive (kept: re-extraction needs no new download)
    extracted/                  the archive's content, renamed into place only once fully extracted
    .complete                   JSON marker written last; names the source folder the categories come from
    <category>/                 one prepared category in the MVTec AD layout (what training reads)

Reading path (``datamodule_for``): every catalog dataset is converted to the MVTec AD layout and read
by anomalib's ``MVTecAD`` datamodule, through a subclass that never downloads and, for datasets whose
images stay JPEG (VisA, KolektorSDD, Real-IAD), reads with anomalib's VisA reader (the MVTec reader with
.jpg/.JPG added). Images are hardlinked, not copied, where the filesystem allows; converted only where
anomalib converts them too (BTech .bmp -> .png) or where masks need merging/binarising. The ``folder``
type goes through anomalib's ``Folder`` datamodule instead.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from PIL import Image

from iadbench.datasets.catalog import CATALOG, DatasetInfo, checksum_algorithm, dataset_info
from iadbench.datasets.download import DownloadError, download, file_lock, verify_checksum
from iadbench.datasets.extract import safe_extract
from iadbench.datasets.validate import (
    IMAGE_EXTENSIONS,
    PNG_EXTENSIONS,
    CategorySummary,
    DatasetValidationError,
    validate_category,
    validate_folder,
)

logger = logging.getLogger(__name__)

COMPLETE_MARKER = ".complete"
DOWNLOAD_SUBDIR = "download"
EXTRACTED_SUBDIR = "extracted"
EMBEDDED_TYPE = "embedded"
FOLDER_TYPE = "folder"
FOLDER_DEFAULT_CATEGORY = "custom"
# Folders a dataset_dir holds besides its categories; no category may take these names.
RESERVED_NAMES = frozenset({DOWNLOAD_SUBDIR, EXTRACTED_SUBDIR})
MAX_ROOT_DEPTH = 3


class DatasetUnavailableError(RuntimeError):
    """The dataset is not on disk and cannot be fetched automatically; the message says what to do."""


class IncompleteDatasetError(RuntimeError):
    """A category was requested before the dataset's ``.complete`` marker exists."""


# ---------------------------------------------------------------------------------------------- spec
def dataset_type(spec: dict[str, Any]) -> str:
    """The ``type:`` of a config entry (``embedded`` when absent, as the schema's default)."""
    return spec.get("type", EMBEDDED_TYPE)


def categories_of(spec: dict[str, Any]) -> list[str]:
    """Categories a catalog or folder dataset entry selects; ``all`` expands to the real list.

    A ``folder`` dataset is one category, named by a one-element ``categories:`` list (default ``custom``).
    """
    kind = dataset_type(spec)
    selected = spec.get("categories", "all")
    if kind == FOLDER_TYPE:
        if selected == "all":
            return [FOLDER_DEFAULT_CATEGORY]
        if len(selected) != 1 or selected[0] in RESERVED_NAMES or selected[0].startswith("."):
            raise ValueError(f"a folder dataset is one category with a plain name, not {selected}")
        return list(selected)
    return select_categories(selected, dataset_info(kind).categories, kind)


def select_categories(selected: str | list[str], known: tuple[str, ...], kind: str) -> list[str]:
    """``all`` → every known category; a list → itself, each one checked against ``known``."""
    if selected == "all":
        return list(known)
    unknown = [category for category in selected if category not in known]
    if unknown:
        raise ValueError(f"unknown {kind} categories {unknown} (known: {', '.join(known)})")
    return list(selected)


# Config keys that decide where a dataset comes from (what the download step depends on). Other keys
# (categories, conversion options) must not re-trigger a download, and through it every job downstream.
SOURCE_KEYS = ("type", "url", "checksum", "path", "normal_dir", "abnormal_dir", "mask_dir", "normal_test_dir")


def source_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The part of a dataset entry the download step depends on (its Snakemake ``params``)."""
    return {key: spec[key] for key in SOURCE_KEYS if key in spec}


def archive_source(spec: dict[str, Any], info: DatasetInfo) -> tuple[str | None, str, str | None]:
    """(url, archive file name, checksum) for an entry: ``url:``/``checksum:`` override the catalog.

    An overriding ``url:`` without ``checksum:`` keeps the catalog's checksum (a mirror serves the same
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
    spec: dict[str, Any], dataset_dir: str | Path, download_options: dict[str, Any] | None = None
) -> Path:
    """Make the dataset's source available once and write ``dataset_dir/.complete`` last.

    Order of preference: ``path:`` (an extracted copy, or an archive file, skips the download); an
    ``extracted/`` folder already there (a finished extraction, or data put there by hand); download
    of ``url:`` (catalog URL by default), checksum, safe extraction. Manual-only datasets without any of
    these raise :class:`DatasetUnavailableError` with the steps. ``download_options`` go to
    :func:`~iadbench.datasets.download.download` (retries, backoff_seconds, timeout_seconds). Returns the
    source folder.
    Safe to call again (and from concurrent processes): a complete dataset is left as it is.
    """
    dataset_dir = Path(dataset_dir)
    dataset_dir.mkdir(parents=True, exist_ok=True)
    kind = dataset_type(spec)
    with file_lock(dataset_dir / ".lock"):
        if is_complete(dataset_dir):
            logger.info("%s is complete", dataset_dir)
            return source_root(dataset_dir)
        (dataset_dir / COMPLETE_MARKER).unlink(missing_ok=True)
        record: dict[str, Any] = {"type": kind}
        if kind == EMBEDDED_TYPE:
            source = None  # generated per category; nothing to fetch
        elif kind == FOLDER_TYPE:
            source = _folder_root(spec)
        else:
            info = dataset_info(kind)
            source = _fetch_catalog_dataset(spec, info, dataset_dir, record, download_options or {})
        _write_marker(dataset_dir, source, record)
        return source if source is not None else dataset_dir


def _fetch_catalog_dataset(
    spec: dict[str, Any], info: DatasetInfo, dataset_dir: Path, record: dict[str, Any],
    download_options: dict[str, Any],
) -> Path:
    extracted = dataset_dir / EXTRACTED_SUBDIR
    manual = info.manual_steps.replace("{expected}", str(extracted))
    url, filename, checksum = archive_source(spec, info)
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


def locate_source_root(folder: Path, info: DatasetInfo) -> Path:
    """The folder (``folder`` itself or up to 3 levels below) holding the dataset's root markers.

    Archives differ in how many folders wrap the data (BTech: ``BTech_Dataset_transformed/``), and so do
    copies users point ``path:`` at.
    """
    level = [folder]
    for _ in range(MAX_ROOT_DEPTH + 1):
        for candidate in level:
            if any((candidate / marker).exists() for marker in info.markers()):
                return candidate
        level = sorted(
            child for parent in level for child in parent.iterdir()
            if child.is_dir() and not child.name.startswith((".", "__MACOSX"))
        )
    raise DatasetUnavailableError(
        f"{folder} does not look like {info.display_name}: none of {', '.join(info.markers()[:4])} found "
        f"in it or up to {MAX_ROOT_DEPTH} folders below.\n"
        + info.manual_steps.replace("{expected}", str(folder))
    )


def _folder_root(spec: dict[str, Any]) -> Path:
    """A folder dataset's base folder (``path:``, else the current folder for relative dirs)."""
    base = Path(spec.get("path", ".")).expanduser()
    for key in ("normal_dir", "abnormal_dir", "mask_dir", "normal_test_dir"):
        if spec.get(key) and not (base / spec[key]).is_dir():
            raise DatasetUnavailableError(f"folder dataset: `{key}:` {base / spec[key]} is not a folder")
    if not spec.get("normal_dir"):
        raise DatasetUnavailableError("folder dataset: `normal_dir:` is required")
    return base.resolve()


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
def prepare_category(spec: dict[str, Any], dataset_dir: str | Path, category: str) -> CategorySummary:
    """Build ``dataset_dir/category`` in the MVTec AD layout from the complete dataset, validated.

    The category is assembled in a temporary folder and renamed into place only when valid; an invalid
    one is kept as ``.<category>.invalid`` for inspection and the validation error names its file.
    ``folder`` datasets only get their folders validated and described in ``<category>/folder.json``.
    """
    dataset_dir = Path(dataset_dir)
    kind = dataset_type(spec)
    if kind == EMBEDDED_TYPE:
        raise ValueError("embedded categories are generated by iadbench.datasets.embedded, not prepared here")
    if category not in categories_of({**spec, "categories": [category]}):
        raise ValueError(f"{category!r} is not a {kind} category")
    source = source_root(dataset_dir)
    target = dataset_dir / category
    staging = Path(tempfile.mkdtemp(prefix=f".{category}.preparing-", dir=dataset_dir))
    staging.chmod(0o755)  # mkdtemp's 0700 would hide the category from the rest of a shared group
    try:
        if kind == FOLDER_TYPE:
            summary = _prepare_folder(spec, source, staging)
        else:
            info = dataset_info(kind)
            if info.key not in {"kolektor", "visa", "real_iad"} and not (source / category).is_dir():
                raise DatasetUnavailableError(f"category {category!r} is missing from {source}")
            CONVERTERS[info.key](source, category, staging, spec)
            summary = _validate_staged(dataset_dir, category, staging, reader_extensions(kind))
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


def _validate_staged(
    dataset_dir: Path, category: str, staging: Path, extensions: tuple[str, ...]
) -> CategorySummary:
    try:
        summary = validate_category(dataset_dir, staging.name, extensions=extensions)
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


def reader_extensions(kind: str) -> tuple[str, ...]:
    """Image suffixes the reader of a dataset type picks up."""
    return IMAGE_EXTENSIONS if kind in CATALOG and CATALOG[kind].reads_jpeg else PNG_EXTENSIONS


def place(source: Path, destination: Path) -> None:
    """Hardlink ``source`` to ``destination`` (no extra disk), copying across filesystems."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, destination)
    except FileExistsError:
        raise  # two sources mapped to one name: a conversion bug or duplicate metadata, never overwrite
    except OSError:
        shutil.copy2(source, destination)


def save_binary_mask(masks: list[Path], destination: Path) -> None:
    """Union of the masks (any non-zero pixel) as a 0/255 grey PNG."""
    union = None
    for mask in masks:
        with Image.open(mask) as image:
            pixels = np.asarray(image.convert("L")) > 0
        union = pixels if union is None else union | pixels
    destination.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(union.astype(np.uint8) * 255, mode="L").save(destination)


def _files(folder: Path, suffixes: tuple[str, ...] = (".png", ".PNG")) -> list[Path]:
    return sorted(path for path in folder.iterdir() if path.suffix in suffixes) if folder.is_dir() else []


def _subfolders(folder: Path) -> list[Path]:
    """Sorted subfolders; none when ``folder`` is missing (validation then reports what is empty)."""
    return sorted(path for path in folder.iterdir() if path.is_dir()) if folder.is_dir() else []


def _inside(root: Path, relative: str) -> Path:
    """``root / relative``, refusing paths (from CSV or JSON metadata) that leave ``root``."""
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root.resolve()):
        raise ValueError(f"metadata path {relative!r} leaves {root}")
    return candidate


def _convert_mvtec_like(source: Path, category: str, out: Path, spec: dict[str, Any]) -> None:
    """MVTec AD and MPDD: already the layout; link train/, test/ and ground_truth/ image files."""
    for split in ("train", "test", "ground_truth"):
        for label_dir in _subfolders(source / category / split):
            for image in _files(label_dir, IMAGE_EXTENSIONS):
                place(image, out / split / label_dir.name / image.name)


def _convert_mvtec_3d(source: Path, category: str, out: Path, spec: dict[str, Any]) -> None:
    """RGB images and their gt masks; depth (xyz) and validation/ are not used by 2D models."""
    for split in ("train", "test"):
        for label_dir in _subfolders(source / category / split):
            for image in _files(label_dir / "rgb"):
                place(image, out / split / label_dir.name / image.name)
            if split == "test" and label_dir.name != "good":
                # test/good/gt holds all-zero masks; MVTec AD has none for good images, so they are left out.
                for mask in _files(label_dir / "gt"):
                    place(mask, out / "ground_truth" / label_dir.name / mask.name)


BTECH_FOLDERS = {
    ("train", "ok"): ("train", "good"),
    ("test", "ok"): ("test", "good"),
    ("test", "ko"): ("test", "ko"),
    ("ground_truth", "ko"): ("ground_truth", "ko"),
}


def _convert_btech(source: Path, category: str, out: Path, spec: dict[str, Any]) -> None:
    """As anomalib's BTech.prepare_data: .bmp become .png; ok -> good; masks keep the image's name."""
    for (split, label), (new_split, new_label) in BTECH_FOLDERS.items():
        for image in _files(source / category / split / label, (".bmp", ".png", ".PNG")):
            destination = out / new_split / new_label / f"{image.stem}.png"
            if image.suffix == ".bmp":
                destination.parent.mkdir(parents=True, exist_ok=True)
                with Image.open(image) as bitmap:
                    bitmap.save(destination)
            else:
                place(image, destination)


def _convert_kolektor(source: Path, category: str, out: Path, spec: dict[str, Any]) -> None:
    """anomalib's own Kolektor split (good/bad from the masks, 80/20 good split, random_state=42)."""
    from anomalib.data.datasets.image.kolektor import make_kolektor_dataset

    samples = make_kolektor_dataset(source, train_split_ratio=0.8)
    for sample in samples.itertuples():
        image = Path(sample.image_path)
        name = f"{sample.item}_{image.stem}"
        if sample.label_index == 0:
            place(image, out / sample.split / "good" / f"{name}{image.suffix}")
        else:
            place(image, out / "test" / "defect" / f"{name}{image.suffix}")
            save_binary_mask([Path(sample.mask_path)], out / "ground_truth" / "defect" / f"{name}.png")


VISA_SPLITS = frozenset({"train", "test"})
VISA_LABELS = {"normal": "good", "anomaly": "bad"}


def _convert_visa(source: Path, category: str, out: Path, spec: dict[str, Any]) -> None:
    """split_csv/1cls.csv applied for one category, as anomalib's Visa.apply_cls1_split does."""
    split_file = source / "split_csv" / "1cls.csv"
    rows = 0
    with split_file.open(encoding="utf-8", newline="") as file:
        reader = csv.reader(file)
        next(reader)  # header: object,split,label,image,mask
        for row in reader:
            if not row:
                continue
            object_name, split, label, image_path, mask_path = row
            if object_name != category:
                continue
            if split not in VISA_SPLITS or label not in VISA_LABELS:
                raise ValueError(f"{split_file}: unexpected split/label {split!r}/{label!r} in row {row}")
            new_label = VISA_LABELS[label]
            image = _inside(source, image_path)
            place(image, out / split / new_label / image.name)
            if split == "test" and new_label == "bad":
                if not mask_path:
                    raise ValueError(f"{split_file}: anomalous test image {image_path} has no mask")
                mask = _inside(source, mask_path)
                # anomalib writes mask[mask != 0] = 255 (VisA masks hold small labels, not 255).
                save_binary_mask([mask], out / "ground_truth" / new_label / f"{mask.stem}.png")
            rows += 1
    if not rows:
        raise DatasetUnavailableError(f"{split_file} lists no image of category {category!r}")


def _convert_mvtec_ad_2(source: Path, category: str, out: Path, spec: dict[str, Any]) -> None:
    """The public test set is the one with ground truth; validation/ and private tests are not used."""
    folders = {
        ("train", "good"): ("train", "good"),
        ("test_public", "good"): ("test", "good"),
        ("test_public", "bad"): ("test", "bad"),
        ("test_public/ground_truth", "bad"): ("ground_truth", "bad"),
    }
    for (split, label), (new_split, new_label) in folders.items():
        for image in _files(source / category / split / label):
            place(image, out / new_split / new_label / image.name)


def _convert_mvtec_loco(source: Path, category: str, out: Path, spec: dict[str, Any]) -> None:
    """Each image's mask folder (one PNG per defect) merged into one mask named like the image."""
    for split in ("train", "test"):
        for label_dir in _subfolders(source / category / split):
            for image in _files(label_dir):
                place(image, out / split / label_dir.name / image.name)
                mask_folder = source / category / "ground_truth" / label_dir.name / image.stem
                if split == "test" and label_dir.name != "good" and mask_folder.is_dir():
                    save_binary_mask(_files(mask_folder), out / "ground_truth" / label_dir.name / image.name)


REAL_IAD_DEFAULT_RESOLUTION = 256
REAL_IAD_DEFAULT_JSON = "realiad_jsons/realiad_jsons/{category}.json"


def _convert_real_iad(source: Path, category: str, out: Path, spec: dict[str, Any]) -> None:
    """From the JSON metadata: train (OK) -> train/good, test OK -> test/good, NG -> test/<class>."""
    json_file = _inside(source, str(spec.get("json_path", REAL_IAD_DEFAULT_JSON)).format(category=category))
    images_root = source / f"realiad_{spec.get('resolution', REAL_IAD_DEFAULT_RESOLUTION)}" / category
    if not images_root.is_dir():
        raise DatasetUnavailableError(f"Real-IAD images {images_root} missing (check `resolution:`)")
    metadata = json.loads(json_file.read_text(encoding="utf-8"))
    skipped = 0
    for split in ("train", "test"):
        for sample in metadata.get(split, []):
            image = _inside(images_root, sample["image_path"])
            # Flattened path keeps names unique across samples and camera views.
            name = PurePosixPath(sample["image_path"]).with_suffix("").as_posix().replace("/", "__")
            if sample["anomaly_class"] == "OK":
                place(image, out / split / "good" / f"{name}{image.suffix}")
            elif split == "train":
                skipped += 1  # one-class training: a defective training sample is not used
            else:
                label = sample["anomaly_class"]
                place(image, out / "test" / label / f"{name}{image.suffix}")
                if sample.get("mask_path"):
                    mask = _inside(images_root, sample["mask_path"])
                    save_binary_mask([mask], out / "ground_truth" / label / f"{name}.png")
    if skipped:
        logger.warning("Real-IAD %s: %d defective training samples left out of train/good", category, skipped)


CONVERTERS: dict[str, Callable[[Path, str, Path, dict[str, Any]], None]] = {
    "mvtec_ad": _convert_mvtec_like,
    "mpdd": _convert_mvtec_like,
    "mvtec_3d": _convert_mvtec_3d,
    "btech": _convert_btech,
    "kolektor": _convert_kolektor,
    "visa": _convert_visa,
    "mvtec_ad_2": _convert_mvtec_ad_2,
    "mvtec_loco": _convert_mvtec_loco,
    "real_iad": _convert_real_iad,
}

FOLDER_DIR_KEYS = ("normal_dir", "abnormal_dir", "mask_dir", "normal_test_dir")


def _prepare_folder(spec: dict[str, Any], base: Path, staging: Path) -> CategorySummary:
    dirs = {key: base / spec[key] for key in FOLDER_DIR_KEYS if spec.get(key)}
    extensions = tuple(spec.get("extensions", IMAGE_EXTENSIONS))
    summary = validate_folder(**dirs, extensions=extensions)
    description = {key: str(path) for key, path in dirs.items()} | {"extensions": list(extensions)}
    (staging / "folder.json").write_text(json.dumps(description, indent=2) + "\n")
    return summary


# ----------------------------------------------------------------------------------------- reading
def datamodule_for(spec: dict[str, Any], root: str | Path, category: str, **kwargs: Any) -> Any:
    """The anomalib datamodule that reads a prepared category (``root`` = the dataset's folder).

    Catalog and embedded datasets: anomalib's ``MVTecAD`` (a subclass that never downloads; JPEG-keeping
    datasets read with anomalib's VisA reader). ``folder``: anomalib's ``Folder``. ``kwargs`` go to the
    datamodule (batch sizes, num_workers, seed, ...).

    Every test image on disk is evaluated, whatever the seed: the test set comes from the test folders
    (``FROM_DIR``) and validation reuses it (``SAME_AS_TEST``), never a seeded split of it. Both are
    set explicitly: ``Folder`` defaults to ``val_split_mode=FROM_TEST``, which held out a seed-dependent
    half of the test images. A ``folder`` dataset without ``normal_test_dir`` still draws its
    defect-free test images from ``normal_dir`` (anomalib's ``test_split_ratio``, by seed).
    """
    from anomalib.data.utils import TestSplitMode, ValSplitMode

    whole_test_set = {"test_split_mode": TestSplitMode.FROM_DIR, "val_split_mode": ValSplitMode.SAME_AS_TEST}
    kind = dataset_type(spec)
    if kind == FOLDER_TYPE:
        from anomalib.data import Folder

        base = Path(spec.get("path", ".")).expanduser()
        dirs = {key: base / spec[key] for key in FOLDER_DIR_KEYS if spec.get(key)}
        extensions = tuple(spec.get("extensions", IMAGE_EXTENSIONS))
        return Folder(name=category, root=base, extensions=extensions, **dirs, **whole_test_set, **kwargs)
    if kind != EMBEDDED_TYPE:
        dataset_info(kind)
    return _prepared_layout_class()(
        root=Path(root), category=category, read_jpeg=reader_extensions(kind) != PNG_EXTENSIONS,
        **whole_test_set, **kwargs,
    )


@functools.cache
def _prepared_layout_class() -> type:
    """Defined on first use: importing anomalib (torch) takes seconds Snakefile parsing should not pay."""
    from anomalib.data import MVTecAD
    from anomalib.data.datasets.image.mvtecad import MVTecADDataset
    from anomalib.data.datasets.image.visa import VisaDataset
    from anomalib.data.utils import Split

    class PreparedMVTecLayout(MVTecAD):
        """anomalib's MVTecAD datamodule over a category prepared by iadbench.

        ``prepare_data`` never downloads (MVTecAD's would fetch MVTec AD into any missing category).
        ``read_jpeg`` reads with anomalib's VisaDataset: the MVTec AD reader with .jpg/.JPG added.
        """

        def __init__(self, *args: Any, read_jpeg: bool = False, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.read_jpeg = read_jpeg

        def prepare_data(self) -> None:
            if not (Path(self.root) / self.category).is_dir():
                missing = Path(self.root) / self.category
                raise FileNotFoundError(f"prepared category {missing} does not exist; run the data rules")

        def _setup(self, _stage: str | None = None) -> None:
            dataset_class = VisaDataset if self.read_jpeg else MVTecADDataset
            self.train_data = dataset_class(split=Split.TRAIN, root=self.root, category=self.category)
            self.test_data = dataset_class(split=Split.TEST, root=self.root, category=self.category)

    return PreparedMVTecLayout
