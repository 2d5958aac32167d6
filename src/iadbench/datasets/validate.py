"""Check a category in the MVTec AD layout before any model trains on it.

The layout (what anomalib's ``make_mvtec_ad_dataset`` reads)::

    <root>/<category>/train/good/*.png
    <root>/<category>/test/good/*.png
    <root>/<category>/test/<defect>/*.png
    <root>/<category>/ground_truth/<defect>/<image stem>[_mask].png

anomalib pairs masks with defect images by *sorted position* and only then checks the names, so a
missing or extra mask shows up there as a confusing mismatch (or not at all). Here every problem is
an error that names the file. All errors derive from :class:`DatasetValidationError` (a ValueError).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

# What anomalib's MVTecAD reads (.png/.PNG) plus what its VisA reader adds (.jpg/.JPG).
PNG_EXTENSIONS = (".png", ".PNG")
IMAGE_EXTENSIONS = (".png", ".PNG", ".jpg", ".JPG")
NORMAL_LABEL = "good"


class DatasetValidationError(ValueError):
    """A prepared category cannot be trained or evaluated on; ``path`` is the offending file or folder."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path}: {reason}")


class MissingCategoryError(DatasetValidationError):
    """The category folder does not exist."""


class EmptyTrainSetError(DatasetValidationError):
    """No defect-free training image."""


class EmptyTestSetError(DatasetValidationError):
    """No test image at all."""


class MissingMaskError(DatasetValidationError):
    """A defect image without its ground-truth mask."""


class OrphanMaskError(DatasetValidationError):
    """A mask without a defect image (anomalib would pair the masks with the wrong images)."""


class MaskSizeMismatchError(DatasetValidationError):
    """A mask whose size differs from its image's."""


class UnreadableImageError(DatasetValidationError):
    """An image or mask that cannot be decoded (truncated, corrupt, not an image)."""


@dataclass
class CategorySummary:
    """What a valid category holds."""

    category: str
    n_train: int
    n_test_good: int
    n_test_defect: dict[str, int] = field(default_factory=dict)
    # Defects without a mask folder (masks optional: mvtec_layout, folder): image metrics only.
    defects_without_masks: list[str] = field(default_factory=list)
    # Files in the image folders that are not images (wrong suffix): skipped, counted, logged once.
    n_skipped_files: int = 0

    @property
    def n_test(self) -> int:
        return self.n_test_good + sum(self.n_test_defect.values())


def validate_category(
    root: str | Path, category: str, *, extensions: tuple[str, ...] = IMAGE_EXTENSIONS, decode: bool = True,
    masks_optional: bool = False,
) -> CategorySummary:
    """Check ``root/category`` (MVTec AD layout) and raise the first problem found, naming the file.

    ``extensions`` are the image suffixes the reader will pick up; with ``decode`` every image and
    mask is fully decoded (catches truncated files, not only broken headers). ``masks_optional``: a
    defect without a ``ground_truth/<defect>`` folder is valid (listed in the summary's
    ``defects_without_masks``); a defect whose mask folder exists still needs every mask.
    """
    category_dir = Path(root) / category
    if not category_dir.is_dir():
        raise MissingCategoryError(category_dir, "category folder does not exist")
    train_images = _images(category_dir / "train" / NORMAL_LABEL, extensions)
    if not train_images:
        raise EmptyTrainSetError(
            category_dir / "train" / NORMAL_LABEL, f"no training images ({', '.join(extensions)})"
        )
    test_dir = category_dir / "test"
    labels = sorted(path.name for path in test_dir.iterdir() if path.is_dir()) if test_dir.is_dir() else []
    test_images = {label: _images(test_dir / label, extensions) for label in labels}
    if not any(test_images.values()):
        raise EmptyTestSetError(test_dir, f"no test images ({', '.join(extensions)})")
    for image in train_images + test_images.get(NORMAL_LABEL, []):
        _image_size(image, decode)
    _check_no_stray_masks(category_dir, labels, extensions)
    without_masks = []
    for label in labels:
        if label != NORMAL_LABEL:
            mask_dir = category_dir / "ground_truth" / label
            if masks_optional and not mask_dir.is_dir():
                without_masks.append(label)
                for image in test_images[label]:
                    _image_size(image, decode)
            else:
                _check_masks(test_images[label], test_dir / label, mask_dir, extensions, decode)
    return CategorySummary(
        category=category,
        n_train=len(train_images),
        n_test_good=len(test_images.get(NORMAL_LABEL, [])),
        n_test_defect={label: len(images) for label, images in test_images.items() if label != NORMAL_LABEL},
        defects_without_masks=without_masks,
    )


def _images(folder: Path, extensions: tuple[str, ...]) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.suffix in extensions and path.is_file())


def _image_size(path: Path, decode: bool) -> tuple[int, int]:
    try:
        with Image.open(path) as image:
            if decode:
                image.load()
            return image.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise UnreadableImageError(path, f"cannot read image: {error}") from error


def _check_no_stray_masks(category_dir: Path, labels: list[str], extensions: tuple[str, ...]) -> None:
    """Masks of good images or of labels without test images would shift anomalib's pairing."""
    ground_truth = category_dir / "ground_truth"
    if not ground_truth.is_dir():
        return
    for folder in sorted(path for path in ground_truth.iterdir() if path.is_dir()):
        if folder.name == NORMAL_LABEL or folder.name not in labels:
            masks = _images(folder, extensions)
            if masks:
                raise OrphanMaskError(masks[0], f"mask for {folder.name!r}, which has no defect test images")


def _check_masks(
    images: list[Path], image_dir: Path, mask_dir: Path, extensions: tuple[str, ...], decode: bool
) -> None:
    """Each defect image has exactly one mask of its size, named so that sorting pairs them right."""
    masks = _images(mask_dir, extensions)
    masks_by_stem = {mask.stem: mask for mask in masks}
    paired: list[Path] = []
    for image in images:
        mask = masks_by_stem.get(image.stem) or masks_by_stem.get(f"{image.stem}_mask")
        if mask is None:
            expected = mask_dir / f"{image.stem}_mask.png"
            raise MissingMaskError(image, f"defect image has no mask {expected} (or {image.stem}.png)")
        if mask in paired:
            raise MissingMaskError(image, f"its only matching mask {mask} already belongs to another image")
        paired.append(mask)
    for mask in masks:
        if mask not in paired:
            raise OrphanMaskError(mask, f"mask matches no image in {image_dir}")
    # anomalib assigns the i-th sorted mask to the i-th sorted image: names must sort alike.
    for image, own_mask, sorted_mask in zip(images, paired, masks, strict=False):
        if own_mask != sorted_mask:
            raise OrphanMaskError(
                sorted_mask, f"sorts into the place of {own_mask.name}, the mask of {image.name}; anomalib "
                "would pair it with the wrong image (name masks <image stem>.png or <image stem>_mask.png)"
            )
    for image, mask in zip(images, paired, strict=True):
        image_size, mask_size = _image_size(image, decode), _image_size(mask, decode)
        if image_size != mask_size:
            raise MaskSizeMismatchError(
                mask, f"mask is {mask_size[0]}x{mask_size[1]}, image {image} {image_size[0]}x{image_size[1]}"
            )


def validate_folder(
    normal_dir: str | Path,
    abnormal_dir: str | Path | dict[str, str | Path] | None = None,
    mask_dir: str | Path | dict[str, str | Path] | None = None,
    normal_test_dir: str | Path | None = None,
    *,
    extensions: tuple[str, ...] = IMAGE_EXTENSIONS,
    decode: bool = True,
) -> CategorySummary:
    """The same checks for a custom dataset read by anomalib's ``Folder`` datamodule.

    ``abnormal_dir`` and ``mask_dir`` are one folder each, or mappings defect name -> folder (several defect
    types; a defect missing from the ``mask_dir`` mapping has no masks: image metrics only). Without
    ``normal_test_dir`` anomalib moves part of the normal images to the test set, so only the defect
    images are required for testing.
    """
    normal = _images(Path(normal_dir), extensions)
    if not normal:
        raise EmptyTrainSetError(Path(normal_dir), f"no normal images ({', '.join(extensions)})")
    defects = defect_folders(abnormal_dir)
    masks = mask_folders(abnormal_dir, mask_dir)
    abnormal = {defect: _images(folder, extensions) for defect, folder in defects.items()}
    if not any(abnormal.values()):
        raise EmptyTestSetError(
            next(iter(defects.values()), Path(normal_dir)), "no abnormal images to test on (set `abnormal_dir:`)"
        )
    normal_test = _images(Path(normal_test_dir), extensions) if normal_test_dir else []
    for image in normal + normal_test:
        _image_size(image, decode)
    for defect, images in abnormal.items():
        if defect in masks:
            _check_masks(images, defects[defect], masks[defect], extensions, decode)
        else:
            for image in images:
                _image_size(image, decode)
    return CategorySummary(
        category=Path(normal_dir).name, n_train=len(normal), n_test_good=len(normal_test),
        n_test_defect={defect: len(images) for defect, images in abnormal.items()},
        defects_without_masks=[defect for defect in defects if defect not in masks],
    )


def defect_folders(abnormal_dir: str | Path | dict[str, str | Path] | None) -> dict[str, Path]:
    """Defect name -> folder: a mapping as given, one folder named by itself."""
    if abnormal_dir is None:
        return {}
    if isinstance(abnormal_dir, dict):
        return {defect: Path(folder) for defect, folder in abnormal_dir.items()}
    return {Path(abnormal_dir).name: Path(abnormal_dir)}


def mask_folders(abnormal_dir, mask_dir) -> dict[str, Path]:
    """Defect name -> mask folder, for the defects that have masks (checked against ``abnormal_dir``)."""
    if mask_dir is None:
        return {}
    defects = defect_folders(abnormal_dir)
    mapped = isinstance(mask_dir, dict)
    if mapped != isinstance(abnormal_dir, dict):
        raise ValueError("folder dataset: `abnormal_dir:` and `mask_dir:` must both be one folder or both map "
                         "defect names to folders")
    if not mapped:
        return {defect: Path(mask_dir) for defect in defects}
    unknown = sorted(set(mask_dir) - set(defects))
    if unknown:
        raise ValueError(f"folder dataset: `mask_dir:` names defects {unknown} that `abnormal_dir:` does not "
                         f"map (it maps: {', '.join(defects)})")
    return {defect: Path(folder) for defect, folder in mask_dir.items()}


def non_images(folders: list[Path], extensions: tuple[str, ...]) -> list[Path]:
    """Files in ``folders`` (not below) without one of ``extensions``: what the readers skip."""
    return sorted(path for folder in folders if folder.is_dir() for path in folder.iterdir()
                  if path.is_file() and path.suffix not in extensions)
