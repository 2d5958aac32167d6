"""Read a prepared category through anomalib: ``MVTecAD`` for the MVTec AD layout, ``Folder`` for folders,
``UCSDped`` for video categories.

Catalog and embedded datasets go through a subclass of ``MVTecAD`` that never downloads and, for families
whose images stay JPEG (VisA, KolektorSDD, Real-IAD), reads with anomalib's VisA reader (the MVTec reader
with .jpg/.JPG added).

Where masks are optional (``mvtec_layout``, a ``folder`` whose ``abnormal_dir:`` maps several defects)
iadbench pairs images and masks itself, by name: a defect image without a mask gets ``mask_path`` "" and
an all-zero placeholder mask (so batches stack); evaluation leaves such images out of the pixel metrics.
The samples carry a ``defect_type`` column, which the predictions keep.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from iadbench.datasets.families import family, folder, mvtec_layout
from iadbench.datasets.prepare import EMBEDDED_TYPE, clip_length, dataset_type, is_video
from iadbench.datasets.validate import NORMAL_LABEL, defect_folders, mask_folders


def datamodule_for(spec: dict[str, Any], root: str | Path, category: str, **kwargs: Any) -> Any:
    """The anomalib datamodule that reads a prepared category (``root`` = the dataset's folder).

    ``kwargs`` go to the datamodule (batch sizes, num_workers, seed, ...).

    Every test image on disk is evaluated, whatever the seed: the test set comes from the test folders
    (``FROM_DIR``) and validation reuses it (``SAME_AS_TEST``), never a seeded split of it. Both are
    set explicitly: ``Folder`` defaults to ``val_split_mode=FROM_TEST``, which held out a seed-dependent
    half of the test images. A ``folder`` dataset without ``normal_test_dir`` still draws its
    defect-free test images from ``normal_dir`` (anomalib's ``test_split_ratio``, by seed).
    """
    from anomalib.data.utils import TestSplitMode, ValSplitMode

    whole_test_set = {"test_split_mode": TestSplitMode.FROM_DIR, "val_split_mode": ValSplitMode.SAME_AS_TEST}
    kind = dataset_type(spec)
    if kind == folder.TYPE and folder.multi_defect(spec):
        base = folder.base_folder(spec)
        return _classes()["MultiDefectFolder"](
            name=category, root=base, extensions=folder.image_extensions(spec), **folder.image_dirs(spec, base),
            **whole_test_set, **kwargs,
        )
    if kind == folder.TYPE:
        from anomalib.data import Folder

        base = folder.base_folder(spec)
        return Folder(
            name=category, root=base, extensions=folder.image_extensions(spec), **folder.image_dirs(spec, base),
            **whole_test_set, **kwargs,
        )
    if kind == mvtec_layout.TYPE:
        return _classes()["PreparedPartialMasks"](
            root=Path(root), category=category, extensions=mvtec_layout.image_extensions(spec), **whole_test_set,
            **kwargs)
    if is_video(spec):
        return video_datamodule(spec, root, category, **kwargs)
    read_jpeg = kind != EMBEDDED_TYPE and family(kind).reads_jpeg  # family() also rejects unknown types
    return _prepared_layout_class()(
        root=Path(root), category=category, read_jpeg=read_jpeg, **whole_test_set, **kwargs
    )


def union_datamodule(spec: dict[str, Any], root: str | Path, categories: list[str], **kwargs: Any) -> Any:
    """The datamodule of ``categories[0]`` whose train and test sets are the union of the categories' (the
    continual setting's task of several categories); one category: exactly :func:`datamodule_for`'s."""
    datamodule = datamodule_for(spec, root, categories[0], **kwargs)
    if len(categories) == 1:
        return datamodule
    others = [datamodule_for(spec, root, category, **kwargs) for category in categories[1:]]
    setup_first = datamodule._setup

    def setup_union(stage: str | None = None) -> None:
        setup_first(stage)
        for other in others:
            other._setup(stage)
            datamodule.train_data = datamodule.train_data + other.train_data  # anomalib concatenates samples
            datamodule.test_data = datamodule.test_data + other.test_data

    datamodule._setup = setup_union
    return datamodule


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


def find_mask(image: Path, mask_dir: Path | None, extensions: tuple[str, ...]) -> str:
    """The mask of ``image`` in ``mask_dir`` (``<stem><ext>`` or ``<stem>_mask<ext>``, as validated), or ""."""
    if mask_dir is None:
        return ""
    for name in (image.stem, f"{image.stem}_mask"):
        for extension in extensions:
            if (mask_dir / f"{name}{extension}").is_file():
                return str(mask_dir / f"{name}{extension}")
    return ""


def _files(folder: Path, extensions: tuple[str, ...]) -> list[Path]:
    return sorted(path for path in folder.iterdir() if path.suffix in extensions and path.is_file()) \
        if folder.is_dir() else []


def layout_samples(category_dir: Path, split: str, extensions: tuple[str, ...]) -> Any:
    """anomalib's sample table of a prepared MVTec-layout category whose masks may be missing per defect."""
    from pandas import DataFrame

    rows = []
    labels = [NORMAL_LABEL] if split == "train" else sorted(
        path.name for path in (category_dir / split).iterdir() if path.is_dir())
    for label in labels:
        mask_dir = None if label == NORMAL_LABEL else category_dir / "ground_truth" / label
        for image in _files(category_dir / split / label, extensions):
            rows.append((str(category_dir), split, label, str(image), find_mask(image, mask_dir, extensions),
                         int(label != NORMAL_LABEL), label))
    samples = DataFrame(rows, columns=["path", "split", "label", "image_path", "mask_path", "label_index",
                                       "defect_type"])
    # Both splits get the category's task (anomalib concatenates them when it moves images between them).
    has_masks = any(_files(folder, extensions) for folder in _subfolders(category_dir / "ground_truth"))
    return _with_task(samples, has_masks)


def _subfolders(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir() if path.is_dir()) if folder.is_dir() else []


def _with_task(samples: Any, segmentation: bool) -> Any:
    samples.attrs["task"] = "segmentation" if segmentation else "classification"
    return samples


def folder_defect_samples(samples: Any, abnormal_dir: dict[str, Path], mask_dir: dict[str, Path] | None,
                          extensions: tuple[str, ...]) -> Any:
    """anomalib's ``Folder`` samples (read without masks) with each defect image's mask and defect type."""
    defects = defect_folders(abnormal_dir)
    masks = mask_folders(abnormal_dir, mask_dir)
    samples = samples.copy()
    defect_of, mask_of = {}, {}
    for defect, folder_path in defects.items():
        for image in _files(Path(folder_path).resolve(), extensions):
            defect_of[str(image)] = defect
            mask_of[str(image)] = find_mask(image, masks[defect].resolve() if defect in masks else None, extensions)
    resolved = [str(Path(path).resolve()) for path in samples["image_path"]]
    samples["defect_type"] = [defect_of.get(path, NORMAL_LABEL) for path in resolved]
    samples["mask_path"] = [mask_of.get(path, "") for path in resolved]
    return _with_task(samples, bool(masks))


@functools.cache
def _classes() -> dict[str, type]:
    """The readers of categories with optional masks (defined on first use: anomalib imports torch)."""
    import torch
    from anomalib.data import Folder
    from anomalib.data.dataclasses import ImageItem
    from anomalib.data.datasets.base.image import AnomalibDataset
    from anomalib.data.datasets.image.folder import FolderDataset
    from anomalib.data.utils import LabelName, Split, read_image
    from torchvision.tv_tensors import Mask

    class PartialMasks:
        """A dataset whose defect images may lack a mask: those get an all-zero placeholder mask and keep
        ``mask_path`` "" (evaluation leaves them out of the pixel metrics)."""

        def __getitem__(self, index: int) -> Any:
            sample = self.samples.iloc[index]
            if not (self.samples.attrs.get("task") == "segmentation" and sample.label_index == LabelName.ABNORMAL
                    and not sample.mask_path):
                return super().__getitem__(index)
            image = read_image(sample.image_path, as_tensor=True)
            mask = Mask(torch.zeros(image.shape[-2:])).to(torch.uint8)
            if self.augmentations:
                image, mask = self.augmentations(image, mask)
            return ImageItem(image=image, gt_mask=mask, gt_label=torch.tensor(int(sample.label_index)),
                             image_path=sample.image_path, mask_path="")

    class LayoutDataset(PartialMasks, AnomalibDataset):
        """A prepared MVTec-layout category whose defects may lack masks (:func:`layout_samples`)."""

        def __init__(self, root: Path, category: str, split: Any, extensions: tuple[str, ...]) -> None:
            super().__init__()
            self.category, self.split = category, split
            self.samples = layout_samples(Path(root) / category, split.value, extensions)

    class PreparedPartialMasks(_prepared_layout_class()):
        """The prepared-layout datamodule reading with :class:`LayoutDataset`."""

        def __init__(self, *args: Any, extensions: tuple[str, ...], **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.extensions = tuple(extensions)

        def _setup(self, _stage: str | None = None) -> None:
            self.train_data = LayoutDataset(self.root, self.category, Split.TRAIN, self.extensions)
            self.test_data = LayoutDataset(self.root, self.category, Split.TEST, self.extensions)

    class MultiDefectFolderDataset(PartialMasks, FolderDataset):
        """anomalib's ``FolderDataset`` over several defect folders, masks paired by iadbench."""

        def __init__(self, *, abnormal_dir: dict[str, Path], mask_dir: dict[str, Path] | None = None,
                     **kwargs: Any) -> None:
            super().__init__(abnormal_dir=list(abnormal_dir.values()), mask_dir=None, **kwargs)
            self.samples = folder_defect_samples(self.samples, abnormal_dir, mask_dir, tuple(self.extensions))

    class MultiDefectFolder(Folder):
        """anomalib's ``Folder`` datamodule whose ``abnormal_dir`` (and ``mask_dir``) map defect names to folders."""

        def __init__(self, *, abnormal_dir: dict[str, Path], mask_dir: dict[str, Path] | None = None,
                     **kwargs: Any) -> None:
            super().__init__(abnormal_dir=list(abnormal_dir.values()), mask_dir=None, **kwargs)
            self.defect_dirs, self.defect_mask_dirs = abnormal_dir, mask_dir

        def _setup(self, _stage: str | None = None) -> None:
            common = {"name": self.name, "root": self.root, "normal_dir": self.normal_dir,
                      "abnormal_dir": self.defect_dirs, "normal_test_dir": self.normal_test_dir,
                      "mask_dir": self.defect_mask_dirs, "extensions": self.extensions}
            self.train_data = MultiDefectFolderDataset(split=Split.TRAIN, **common)
            self.test_data = MultiDefectFolderDataset(split=Split.TEST, **common)

    return {"PreparedPartialMasks": PreparedPartialMasks, "MultiDefectFolder": MultiDefectFolder}


# ------------------------------------------------------------------------------------------- video
def video_datamodule(spec: dict[str, Any], root: str | Path, category: str, **kwargs: Any) -> Any:
    """anomalib's ``UCSDped`` datamodule over a prepared video category (every video type is prepared in
    UCSDped's layout: :mod:`iadbench.datasets.families.video`).

    Training clips: ``clip_length_in_frames`` frames (default 2), one clip every ``frames_between_clips``
    frames (default 1). Test clips: always one per frame (stride 1) whatever ``frames_between_clips`` says,
    each clip's score the score of its last frame (anomalib's ``VideoTargetFrame.LAST``): every test frame
    but a video's first ``clip_length - 1`` ones is the target of exactly one clip (see
    :func:`iadbench.run.predictions.assemble_video_predictions` for those). No validation set (``val_split_mode:
    none``): the video models are one-pass memory-bank models fitted at the end of their training epoch,
    and a validation pass over the test set would double the cost of a job.
    """
    from anomalib.data.utils import ValSplitMode

    return _video_layout_class()(
        root=Path(root), category=category, clip_length_in_frames=clip_length(spec),
        frames_between_clips=int(spec.get("frames_between_clips", 1)), target_frame="last",
        val_split_mode=ValSplitMode.NONE, **kwargs)


@functools.cache
def _video_layout_class() -> type:
    """anomalib's UCSDped datamodule, never downloading, its test clips one per frame."""
    from anomalib.data import UCSDped

    class PreparedUCSDped(UCSDped):
        def prepare_data(self) -> None:
            if not (Path(self.root) / self.category).is_dir():
                missing = Path(self.root) / self.category
                raise FileNotFoundError(f"prepared category {missing} does not exist; run the data rules")

        def val_dataloader(self) -> list:
            return []  # no validation pass (val_split_mode: none); the models fit at their epoch's end

        def _setup(self, _stage: str | None = None) -> None:
            super()._setup(_stage)
            self.test_data.frames_between_clips = 1  # every test frame is a clip's target
            self.test_data._setup_clips()

    return PreparedUCSDped
