"""Reading a prepared category through anomalib: every test image on disk is evaluated, nothing downloaded."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from iadbench.datasets import datamodule_for

N_TRAIN, N_TEST_GOOD, N_TEST_DEFECT = 8, 12, 12


def write_png(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8), value, dtype=np.uint8), mode="L").save(path)


@pytest.fixture
def folder_spec(tmp_path):
    base = tmp_path / "mine"
    for index in range(N_TRAIN):
        write_png(base / "train" / f"{index:03d}.png", 100)
    for index in range(N_TEST_GOOD):
        write_png(base / "test_good" / f"{index:03d}.png", 100)
    for index in range(N_TEST_DEFECT):
        write_png(base / "defect" / f"{index:03d}.png", 200)
        write_png(base / "mask" / f"{index:03d}.png", 255)
    return {"type": "folder", "path": str(base), "normal_dir": "train", "abnormal_dir": "defect",
            "mask_dir": "mask", "normal_test_dir": "test_good"}


def evaluated_test_images(spec, seed: int) -> list[str]:
    datamodule = datamodule_for(spec, spec["path"], "custom", num_workers=0, seed=seed)
    datamodule.setup()
    return sorted(Path(path).relative_to(spec["path"]).as_posix() for path in datamodule.test_data.samples.image_path)


@pytest.mark.parametrize("seed", [0, 1])
def test_every_test_image_on_disk_is_evaluated(folder_spec, seed):
    on_disk = sorted(path.relative_to(folder_spec["path"]).as_posix()
                     for folder in ("test_good", "defect") for path in (Path(folder_spec["path"]) / folder).iterdir())
    assert len(on_disk) == N_TEST_GOOD + N_TEST_DEFECT
    assert evaluated_test_images(folder_spec, seed) == on_disk


def test_without_normal_test_dir_every_defective_image_is_evaluated(folder_spec):
    # The defect-free test images are then drawn from normal_dir (anomalib's 20 %), but no defective
    # image may be held out.
    spec = {key: value for key, value in folder_spec.items() if key != "normal_test_dir"}
    for seed in (0, 1):
        images = evaluated_test_images(spec, seed)
        assert [image for image in images if image.startswith("defect/")] == [
            f"defect/{index:03d}.png" for index in range(N_TEST_DEFECT)]


def test_reader_never_downloads_a_missing_category(tmp_path):
    datamodule = datamodule_for({"type": "mvtec_ad"}, tmp_path, "bottle")
    with pytest.raises(FileNotFoundError, match="bottle"):
        datamodule.prepare_data()
    assert list(tmp_path.iterdir()) == []


def test_jpeg_keeping_families_are_read_with_jpeg_suffixes(tmp_path):
    assert datamodule_for({"type": "visa"}, tmp_path, "candle").read_jpeg
    assert not datamodule_for({"type": "mvtec_ad"}, tmp_path, "bottle").read_jpeg
    assert not datamodule_for({}, tmp_path, "brick").read_jpeg  # embedded
    with pytest.raises(ValueError, match="unknown dataset type"):
        datamodule_for({"type": "mvtec"}, tmp_path, "bottle")
