"""The video track's data: the embedded video generator, UCSDped-layout validation and conversion, the
catalog entries, and the datamodule whose test clips end at every frame (one per frame)."""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from iadbench.datasets import DATASET_CATEGORIES, datamodule_for, dataset_categories, prepare
from iadbench.datasets.embedded_video import EmbeddedVideoSpec, event_window, generate_category
from iadbench.datasets.families.video import VIDEO_FAMILIES, validate_ucsd_layout
from iadbench.datasets.validate import DatasetValidationError

SPEC = {"type": "embedded_video", "generator": {"image_size": 48, "n_train_videos": 2, "n_test_videos": 3,
                                                "frames_per_video": 6},
        "clip_length_in_frames": 2, "frames_between_clips": 3}
SIZES = EmbeddedVideoSpec(image_size=48, n_train_videos=2, n_test_videos=3, frames_per_video=6)


def digest(root: Path) -> str:
    files = sorted(path for path in root.rglob("*") if path.is_file())
    return hashlib.sha256(b"".join(path.relative_to(root).as_posix().encode() + path.read_bytes()
                                   for path in files)).hexdigest()


@pytest.fixture(scope="module")
def video_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("video")
    prepare.prepare_category(SPEC, root, "walkway")
    return root


def test_generated_in_ucsd_layout_deterministically(video_root, tmp_path):
    category = video_root / "walkway"
    assert validate_ucsd_layout(category) == {"train_videos": 2, "test_videos": 3, "train_frames": 12,
                                              "test_frames": 18}
    assert sorted(path.name for path in (category / "Test").iterdir()) == [
        "Test001", "Test001_gt", "Test002", "Test002_gt", "Test003", "Test003_gt"]
    generate_category(tmp_path, "walkway", seed=0, spec=SIZES)
    assert digest(tmp_path / "walkway") == digest(category)
    generate_category(tmp_path / "other", "walkway", seed=1, spec=SIZES)
    assert digest(tmp_path / "other" / "walkway") != digest(category)


def test_each_test_video_is_anomalous_in_its_event_window_only(video_root):
    first, last = event_window(6)
    for video in ("Test001", "Test002", "Test003"):
        masks = sorted((video_root / "walkway" / "Test" / f"{video}_gt").glob("*.bmp"))
        labels = [bool((np.asarray(Image.open(mask)) > 0).any()) for mask in masks]
        assert labels == [first <= frame < last for frame in range(6)], video
    # The training videos are normal: no mask folder at all.
    assert not list((video_root / "walkway" / "Train").glob("*_gt"))


def test_test_clips_end_at_every_frame_but_the_first_and_train_clips_follow_the_stride(video_root):
    datamodule = datamodule_for(SPEC, video_root, "walkway", num_workers=0, train_batch_size=4,
                                eval_batch_size=4, seed=0)
    datamodule.prepare_data()
    datamodule.setup()
    # Training: clips of 2 frames every 3 frames -> starts 0 and 3 of each 6-frame video.
    assert len(datamodule.train_data) == 2 * 2
    ends = [(Path(batch.video_path[index]).name, int(batch.frames[index]))
            for batch in datamodule.test_dataloader() for index in range(len(batch.video_path))]
    assert sorted(ends) == [(f"Test00{video}", frame) for video in (1, 2, 3) for frame in range(1, 6)]
    assert datamodule.val_dataloader() == []  # no validation pass over the test set


def test_a_video_category_that_is_missing_names_the_folder(tmp_path):
    datamodule = datamodule_for(SPEC, tmp_path, "walkway", num_workers=0)
    with pytest.raises(FileNotFoundError, match="walkway"):
        datamodule.prepare_data()


@pytest.mark.parametrize(("damage", "named", "reason"), [
    (lambda c: shutil.rmtree(c / "Test" / "Test002_gt"), "Test002_gt", "mask folder"),
    (lambda c: (c / "Test" / "Test001_gt" / "003.bmp").unlink(), "Test001_gt", "5 .bmp masks for 6 frames"),
    (lambda c: Image.new("L", (10, 10)).save(c / "Test" / "Test003_gt" / "002.bmp"), "002.bmp", "mask size"),
    (lambda c: shutil.rmtree(c / "Train"), "Train", "no train video"),
    (lambda c: [path.unlink() for path in list((c / "Train" / "Train001").iterdir())[1:]], "Train001",
     "fewer than one clip"),
])
def test_ucsd_layout_errors_name_the_file(video_root, tmp_path, damage, named, reason):
    category = tmp_path / "walkway"
    shutil.copytree(video_root / "walkway", category)
    damage(category)
    with pytest.raises(DatasetValidationError, match=reason) as caught:
        validate_ucsd_layout(category)
    assert caught.value.path.name == named


def fake_ucsd(root: Path) -> Path:
    """UCSD_Anomaly_Dataset.v1p2 in miniature: UCSDped2 (masks for every test video) and UCSDped1 (one test
    video without masks, as 26 of the real 36)."""
    source = root / "UCSD_Anomaly_Dataset.v1p2"
    for category, tests in (("UCSDped1", ("Test001", "Test002")), ("UCSDped2", ("Test001",))):
        for split, videos in (("Train", ("Train001",)), ("Test", tests)):
            for video in videos:
                for frame in range(1, 4):
                    path = source / category / split / video / f"{frame:03d}.tif"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    Image.new("L", (16, 12), color=frame * 40).save(path)
                    if split == "Test" and not (category == "UCSDped1" and video == "Test002"):
                        mask = source / category / split / f"{video}_gt" / f"{frame:03d}.bmp"
                        mask.parent.mkdir(parents=True, exist_ok=True)
                        Image.new("L", (16, 12), color=255 * (frame == 3)).save(mask)
    (source / "UCSDped1" / "Test" / "Test001" / "Thumbs.db").write_bytes(b"")  # ignored: not a frame
    return root


def test_ucsd_ped_from_path_links_frames_and_leaves_out_videos_without_masks(tmp_path):
    spec = {"type": "ucsd_ped", "path": str(fake_ucsd(tmp_path / "copy"))}
    dataset_dir = tmp_path / "datasets" / "ucsd"
    prepare.prepare_dataset(spec, dataset_dir)
    assert prepare.prepare_category(spec, dataset_dir, "ped2") == {
        "train_videos": 1, "test_videos": 1, "train_frames": 3, "test_frames": 3}
    assert prepare.prepare_category(spec, dataset_dir, "ped1")["test_videos"] == 1
    description = json.loads((dataset_dir / "ped1" / "video.json").read_text())
    assert description["left_out"] == ["Test002"] and description["reader"] == "ucsd_ped"
    datamodule = datamodule_for(spec, dataset_dir, "ped2", num_workers=0, eval_batch_size=8, seed=0)
    datamodule.setup()
    batch = next(iter(datamodule.test_dataloader()))
    assert batch.frames.tolist() == [1, 2] and batch.gt_label.tolist() == [False, True]


def test_catalog_entries_with_anomalib_facts():
    assert {key: info.categories for key, info in VIDEO_FAMILIES.items()} == {
        "ucsd_ped": ("ped1", "ped2"), "avenue": ("avenue",),
        "shanghaitech": tuple(f"scene{scene:02d}" for scene in range(1, 14))}
    from anomalib.data.datamodules.video import avenue, ucsd_ped

    assert VIDEO_FAMILIES["ucsd_ped"].archive.checksum == ucsd_ped.DOWNLOAD_INFO.hashsum
    assert VIDEO_FAMILIES["ucsd_ped"].archive.url == ucsd_ped.DOWNLOAD_INFO.url
    assert VIDEO_FAMILIES["avenue"].archive.checksum == avenue.DATASET_DOWNLOAD_INFO.hashsum
    assert not VIDEO_FAMILIES["shanghaitech"].downloadable
    assert DATASET_CATEGORIES["embedded_video"] == ("walkway",)
    assert dataset_categories({"type": "shanghaitech", "categories": ["scene03"]}) == ["scene03"]
    with pytest.raises(ValueError, match="unknown ucsd_ped categories"):
        dataset_categories({"type": "ucsd_ped", "categories": ["UCSDped2"]})


def write_avi(path: Path, n_frames: int, size=(24, 32)) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, size[::-1])
    for index in range(n_frames):
        writer.write(np.full((*size, 3), 20 * index, np.uint8))
    writer.release()


def frame_masks(n_frames: int, size=(24, 32)) -> np.ndarray:
    masks = np.zeros((n_frames, *size), np.uint8)
    masks[2:, 2:5, 2:5] = 1  # frames 2.. anomalous
    return masks


def read_labels(spec, dataset_dir, category):
    datamodule = datamodule_for(spec, dataset_dir, category, num_workers=0, eval_batch_size=16, seed=0)
    datamodule.setup()
    batch = next(iter(datamodule.test_dataloader()))
    return [(Path(path).name, int(frame), bool(label))
            for path, frame, label in zip(batch.video_path, batch.frames, batch.gt_label, strict=True)]


def test_avenue_videos_and_mat_labels_are_converted_to_the_ucsd_layout(tmp_path):
    import scipy.io

    source = tmp_path / "Avenue"
    write_avi(source / "training_videos" / "01.avi", 4)
    write_avi(source / "testing_videos" / "01.avi", 4)
    labels = np.empty((1, 4), dtype=object)
    for index, mask in enumerate(frame_masks(4)):
        labels[0, index] = mask
    (source / "ground_truth_demo" / "testing_label_mask").mkdir(parents=True)
    scipy.io.savemat(source / "ground_truth_demo" / "testing_label_mask" / "1_label.mat", {"volLabel": labels})
    spec = {"type": "avenue", "path": str(source)}
    dataset_dir = tmp_path / "datasets" / "avenue"
    prepare.prepare_dataset(spec, dataset_dir)
    assert prepare.prepare_category(spec, dataset_dir, "avenue") == {
        "train_videos": 1, "test_videos": 1, "train_frames": 4, "test_frames": 4}
    assert read_labels(spec, dataset_dir, "avenue") == [("Test01", 1, False), ("Test01", 2, True), ("Test01", 3, True)]
    (source / "ground_truth_demo" / "testing_label_mask" / "1_label.mat").unlink()
    with pytest.raises(DatasetValidationError, match="pixel labels") as caught:
        prepare.prepare_category(spec, dataset_dir, "avenue")
    assert caught.value.path.name == "1_label.mat"


def test_shanghaitech_scene_is_converted_to_the_ucsd_layout(tmp_path):
    source = tmp_path / "shanghaitech"
    write_avi(source / "training" / "videos" / "01_001.avi", 3)
    write_avi(source / "training" / "videos" / "02_001.avi", 3)  # another scene: not converted
    frames = source / "testing" / "frames" / "01_0014"
    frames.mkdir(parents=True)
    for index in range(4):
        Image.new("RGB", (32, 24), color=(index * 30,) * 3).save(frames / f"{index:03d}.jpg")
    (source / "testing" / "test_pixel_mask").mkdir(parents=True)
    np.save(source / "testing" / "test_pixel_mask" / "01_0014.npy", frame_masks(3))  # one mask short
    spec = {"type": "shanghaitech", "path": str(source), "categories": ["scene01"]}
    dataset_dir = tmp_path / "datasets" / "shanghaitech"
    prepare.prepare_dataset(spec, dataset_dir)
    with pytest.raises(DatasetValidationError, match="3 masks for 4 frames"):
        prepare.prepare_category(spec, dataset_dir, "scene01")
    np.save(source / "testing" / "test_pixel_mask" / "01_0014.npy", frame_masks(4))
    assert prepare.prepare_category(spec, dataset_dir, "scene01")["train_videos"] == 1
    assert [label for *_, label in read_labels(spec, dataset_dir, "scene01")] == [False, True, True]
