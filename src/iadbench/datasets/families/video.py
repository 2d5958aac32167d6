"""Video datasets (the video track): UCSD Pedestrian, CUHK Avenue and ShanghaiTech Campus.

A :class:`VideoFamily` is a :class:`~iadbench.datasets.families.base.DatasetFamily` (catalog facts, the
download/``path:`` machinery of :mod:`iadbench.datasets.prepare`) whose categories are prepared in
UCSDped's layout, read by anomalib's ``UCSDpedDataset`` and validated by :func:`validate_video_category`
instead of the MVTec AD reader and validation.

* ``ucsd_ped`` (categories ``ped1``, ``ped2``) and the locally generated ``embedded_video`` are prepared in
  UCSDped's layout (``Train/TrainNNN/*.tif``, ``Test/TestNNN/*.tif``, ``Test/TestNNN_gt/*.bmp``: one mask
  per frame) and read by anomalib's ``UCSDpedDataset``. UCSDped1 has pixel masks for 10 of its 36 test
  videos only: its other test videos are left out (logged, listed in ``video.json``), since anomalib's
  reader needs a mask folder for every test video.
* ``avenue`` (one category, ``avenue``) and ``shanghaitech`` (categories ``scene01`` … ``scene13``) are
  converted to the same layout: videos decoded with OpenCV (torchvision 0.29 no longer decodes videos, and
  anomalib's Avenue/ShanghaiTech readers depend on it), frames written as lossless .tif, pixel labels
  (Avenue's .mat, ShanghaiTech's .npy) as one .bmp mask per frame. They are then read, like UCSD, by
  anomalib's ``UCSDpedDataset``.

URLs and digests come from anomalib 2.7.0's ``DOWNLOAD_INFO`` (``checksum_source``); ShanghaiTech has none
in anomalib (manual download, ``path:``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from iadbench.datasets.families.base import Archive, DatasetFamily, DatasetUnavailableError
from iadbench.datasets.families.layout import place
from iadbench.datasets.validate import DatasetValidationError

logger = logging.getLogger(__name__)

DESCRIPTION = "video.json"  # in each prepared category: reader, source, videos left out
UCSD_CATEGORIES = {"ped1": "UCSDped1", "ped2": "UCSDped2"}
SHANGHAITECH_SCENES = tuple(f"scene{scene:02d}" for scene in range(1, 14))


@dataclass(frozen=True)
class VideoFamily(DatasetFamily):
    """A video dataset type; ``reader``: where its categories come from (all are read in UCSDped's layout)."""

    reader: str = "ucsd_ped"


# ------------------------------------------------------------------------------------- UCSD layout
def _frames(folder: Path, suffix: str) -> list[Path]:
    return sorted(path for path in folder.iterdir() if path.suffix.lower() == suffix) if folder.is_dir() else []


def _videos(split_dir: Path) -> list[Path]:
    """Video folders of a UCSD split (``TrainNNN`` / ``TestNNN``; not ``_gt`` folders), sorted."""
    if not split_dir.is_dir():
        return []
    return sorted(path for path in split_dir.iterdir() if path.is_dir() and not path.name.endswith("_gt"))


def convert_ucsd(source: Path, category: str, out: Path, spec: dict[str, Any]) -> None:
    """Link UCSDped's frames and masks of ``category`` (ped1/ped2) into ``out``; test videos without a mask
    folder are left out and listed in ``video.json``."""
    folder = source / UCSD_CATEGORIES[category]
    if not folder.is_dir():
        raise DatasetUnavailableError(f"{folder} is missing (UCSD Pedestrian category {category!r})")
    left_out = []
    for split in ("Train", "Test"):
        for video in _videos(folder / split):
            gt = video.with_name(f"{video.name}_gt")
            if split == "Test" and not gt.is_dir():
                left_out.append(video.name)
                continue
            for frame in _frames(video, ".tif"):
                place(frame, out / split / video.name / frame.name)
            for mask in _frames(gt, ".bmp") if split == "Test" else []:
                place(mask, out / split / gt.name / mask.name)
    if left_out:
        logger.warning("%s: test videos without pixel masks left out: %s", category, ", ".join(left_out))
    write_description(out, "ucsd_ped", source, left_out=left_out)


def write_description(out: Path, reader: str, source: Path, **extra: Any) -> None:
    out.mkdir(parents=True, exist_ok=True)
    description = {"reader": reader, "source": str(source), **extra}
    (out / DESCRIPTION).write_text(json.dumps(description, indent=2) + "\n")


def read_description(category_dir: Path) -> dict[str, Any]:
    path = Path(category_dir) / DESCRIPTION
    return json.loads(path.read_text()) if path.is_file() else {}


def _size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as image:
            return image.size
    except OSError as error:
        raise DatasetValidationError(path, f"unreadable image ({error})") from None


def validate_ucsd_layout(category_dir: Path, min_frames: int = 2) -> dict[str, int]:
    """Check a category in UCSDped's layout; errors name the folder or file. Returns counts.

    Every video needs ``min_frames`` frames (the clip length); every test video a ``<video>_gt`` folder with
    one ``.bmp`` mask per frame, of the frame's size.
    """
    counts = {"train_videos": 0, "test_videos": 0, "train_frames": 0, "test_frames": 0}
    for split in ("Train", "Test"):
        videos = _videos(category_dir / split)
        if not videos:
            raise DatasetValidationError(category_dir / split, f"no {split.lower()} video folder")
        for video in videos:
            frames = _frames(video, ".tif")
            if len(frames) < min_frames:
                raise DatasetValidationError(video, f"{len(frames)} .tif frames, fewer than one clip ({min_frames})")
            counts[f"{split.lower()}_videos"] += 1
            counts[f"{split.lower()}_frames"] += len(frames)
            if split == "Train":
                continue
            gt = video.with_name(f"{video.name}_gt")
            masks = _frames(gt, ".bmp")
            if not gt.is_dir():
                raise DatasetValidationError(gt, "missing: every test video needs its mask folder")
            if len(masks) != len(frames):
                raise DatasetValidationError(gt, f"{len(masks)} .bmp masks for {len(frames)} frames of {video}")
            frame_size = _size(frames[0])
            for mask in masks:
                if _size(mask) != frame_size:
                    raise DatasetValidationError(mask, f"mask size {_size(mask)} differs from the frames' {frame_size}")
    return counts


# ------------------------------------------------------------------- videos converted to UCSD layout
def _save_frames(frames, folder: Path) -> int:
    """Write frames (H x W x 3 RGB or H x W uint8 arrays) as ``001.tif``, ... (deflate-compressed: lossless)."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for count, frame in enumerate(frames, start=1):
        Image.fromarray(frame).save(folder / f"{count:03d}.tif", compression="tiff_deflate")
    return count


def _save_masks(masks, folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for count, mask in enumerate(masks, start=1):
        Image.fromarray((np.asarray(mask) > 0).astype(np.uint8) * 255, mode="L").save(folder / f"{count:03d}.bmp")
    return count


def _decode(video: Path):
    """The frames of a video file as RGB arrays (OpenCV: torchvision 0.29 no longer decodes videos)."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise DatasetValidationError(video, "OpenCV cannot open this video")
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()


def _require(folder: Path, pattern: str, what: str) -> list[Path]:
    if not folder.is_dir():
        raise DatasetValidationError(folder, f"missing ({what})")
    found = sorted(folder.glob(pattern))
    if not found:
        raise DatasetValidationError(folder, f"nothing matches {pattern} ({what})")
    return found


def _check_count(gt: Path, n_masks: int, n_frames: int, video: Path) -> None:
    if n_masks != n_frames:
        raise DatasetValidationError(gt, f"{n_masks} masks for {n_frames} frames of {video}")


def convert_avenue(source: Path, category: str, out: Path, spec: dict[str, Any]) -> None:
    """Avenue into UCSDped's layout: the .avi videos decoded to frames, the .mat pixel labels
    (``ground_truth_demo/testing_label_mask/<n>_label.mat``, ``volLabel``) to one mask per frame."""
    import scipy.io

    for video in _require(source / "training_videos", "*.avi", "Avenue training videos"):
        _save_frames(_decode(video), out / "Train" / f"Train{video.stem}")
    labels = source / "ground_truth_demo" / "testing_label_mask"
    for video in _require(source / "testing_videos", "*.avi", "Avenue test videos"):
        label = labels / f"{video.stem.lstrip('0')}_label.mat"
        if not label.is_file():
            raise DatasetValidationError(label, f"missing: the pixel labels of {video}")
        n_frames = _save_frames(_decode(video), out / "Test" / f"Test{video.stem}")
        masks = [np.asarray(mask) for row in scipy.io.loadmat(label)["volLabel"] for mask in row]
        _check_count(label, _save_masks(masks, out / "Test" / f"Test{video.stem}_gt"), n_frames, video)
    write_description(out, "avenue", source)


def convert_shanghaitech(source: Path, category: str, out: Path, spec: dict[str, Any]) -> None:
    """One ShanghaiTech scene into UCSDped's layout: training videos (``training/videos/<scene>_*.avi``)
    decoded, test frames (``testing/frames/<scene>_<id>/*.jpg``) rewritten as .tif, pixel masks
    (``testing/test_pixel_mask/<scene>_<id>.npy``) as one mask per frame."""
    prefix = f"{int(category.removeprefix('scene')):02d}_"
    for video in _require(source / "training" / "videos", f"{prefix}*.avi", "ShanghaiTech training videos"):
        _save_frames(_decode(video), out / "Train" / f"Train{video.stem}")
    for folder in _require(source / "testing" / "frames", f"{prefix}*", "ShanghaiTech test frames"):
        frames = sorted(folder.glob("*.jpg"))
        mask_file = source / "testing" / "test_pixel_mask" / f"{folder.name}.npy"
        if not mask_file.is_file():
            raise DatasetValidationError(mask_file, f"missing: the pixel masks of {folder}")
        n_frames = _save_frames((np.asarray(Image.open(frame).convert("RGB")) for frame in frames),
                                out / "Test" / f"Test{folder.name}")
        _check_count(mask_file, _save_masks(np.load(mask_file), out / "Test" / f"Test{folder.name}_gt"), n_frames,
                     folder)
    write_description(out, "shanghaitech", source, scene=int(category.removeprefix("scene")))


def validate_video_category(category_dir: Path, reader: str = "ucsd_ped", min_frames: int = 2) -> dict[str, int]:
    """Every prepared video category is in UCSDped's layout: :func:`validate_ucsd_layout`."""
    return validate_ucsd_layout(category_dir, min_frames)


UCSD_PED = VideoFamily(
    key="ucsd_ped",
    display_name="UCSD Pedestrian",
    categories=tuple(UCSD_CATEGORIES),
    homepage="http://www.svcl.ucsd.edu/projects/anomaly/dataset.htm",
    license="research use (UCSD SVCL; see the homepage)",
    layout_note="UCSDped layout (Train/, Test/, Test/*_gt/); frames and masks hardlinked.",
    manual_steps="Download UCSD_Anomaly_Dataset.tar.gz from http://www.svcl.ucsd.edu/projects/anomaly/dataset.htm "
                 "and set `path:` to it (or to the folder holding UCSDped1/ and UCSDped2/), or extract it into "
                 "{expected}.",
    convert=convert_ucsd,
    archive=Archive(
        url="http://www.svcl.ucsd.edu/projects/anomaly/UCSD_Anomaly_Dataset.tar.gz",
        filename="UCSD_Anomaly_Dataset.tar.gz",
        checksum="2329af326951f5097fdd114c50e853957d3e569493a49d22fc082a9fd791915b",
        checksum_source="anomalib 2.7.0 anomalib/data/datamodules/video/ucsd_ped.py DOWNLOAD_INFO.hashsum",
    ),
    root_markers=("UCSDped2", "UCSDped1"),
    reader="ucsd_ped",
)

AVENUE = VideoFamily(
    key="avenue",
    display_name="CUHK Avenue",
    categories=("avenue",),
    homepage="http://www.cse.cuhk.edu.hk/leojia/projects/detectabnormal/dataset.html",
    license="research use (CUHK; see the homepage)",
    layout_note="Converted to UCSDped's layout: videos decoded to .tif frames (OpenCV), .mat labels to .bmp masks.",
    manual_steps="Download Avenue_Dataset.zip and ground_truth_demo.zip from "
                 "http://www.cse.cuhk.edu.hk/leojia/projects/detectabnormal/dataset.html, extract both into one "
                 "folder (ground_truth_demo/ beside training_videos/) and set `path:` to it, or extract them "
                 "into {expected}.",
    convert=convert_avenue,
    # The annotations (ground_truth_demo.zip, sha256 60fec172...) are a second archive: see manual_steps.
    archive=Archive(
        url="http://www.cse.cuhk.edu.hk/leojia/projects/detectabnormal/Avenue_Dataset.zip",
        filename="Avenue_Dataset.zip",
        checksum="fc9cb8432a11ca79c18aa180c72524011411b69d3b0ff27c8816e41c0de61531",
        checksum_source="anomalib 2.7.0 anomalib/data/datamodules/video/avenue.py DATASET_DOWNLOAD_INFO.hashsum",
    ),
    root_markers=("training_videos",),
    reader="avenue",
)

SHANGHAITECH = VideoFamily(
    key="shanghaitech",
    display_name="ShanghaiTech Campus",
    categories=SHANGHAITECH_SCENES,
    homepage="https://svip-lab.github.io/dataset/campus_dataset.html",
    license="research use (ShanghaiTech SVIP lab; see the homepage)",
    layout_note="Converted to UCSDped's layout: training videos decoded, test .jpg frames as .tif, .npy pixel "
                "masks as .bmp.",
    manual_steps="ShanghaiTech has no stable download link (anomalib has none either). Get shanghaitech.tar.gz "
                 "from https://svip-lab.github.io/dataset/campus_dataset.html and set `path:` to it (or to the "
                 "folder holding training/videos/ and testing/), or extract it into {expected}.",
    convert=convert_shanghaitech,
    root_markers=("training/videos", "testing/frames"),
    reader="shanghaitech",
)

VIDEO_FAMILIES: dict[str, VideoFamily] = {info.key: info for info in (UCSD_PED, AVENUE, SHANGHAITECH)}
