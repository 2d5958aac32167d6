"""Read a prepared category through anomalib: ``MVTecAD`` for the MVTec AD layout, ``Folder`` for folders,
``UCSDped`` for video categories.

Catalog and embedded datasets go through a subclass of ``MVTecAD`` that never downloads and, for families
whose images stay JPEG (VisA, KolektorSDD, Real-IAD), reads with anomalib's VisA reader (the MVTec reader
with .jpg/.JPG added).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from iadbench.datasets.families import family, folder
from iadbench.datasets.prepare import EMBEDDED_TYPE, clip_length, dataset_type, is_video


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
    if kind == folder.TYPE:
        from anomalib.data import Folder

        base = folder.base_folder(spec)
        return Folder(
            name=category, root=base, extensions=folder.image_extensions(spec), **folder.image_dirs(spec, base),
            **whole_test_set, **kwargs,
        )
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


# ------------------------------------------------------------------------------------------- video
def video_datamodule(spec: dict[str, Any], root: str | Path, category: str, **kwargs: Any) -> Any:
    """anomalib's ``UCSDped`` datamodule over a prepared video category (every video type is prepared in
    UCSDped's layout: :mod:`iadbench.datasets.families.video`).

    Training clips: ``clip_length_in_frames`` frames (default 2), one clip every ``frames_between_clips``
    frames (default 1). Test clips: always one per frame (stride 1) whatever ``frames_between_clips`` says,
    each clip's score the score of its last frame (anomalib's ``VideoTargetFrame.LAST``): every test frame
    but a video's first ``clip_length - 1`` ones is the target of exactly one clip (see
    :func:`iadbench.train.assemble_video_predictions` for those). No validation set (``val_split_mode:
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
