import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from archives import image_bytes, mask_bytes, mvtec_ad_tree, write_tree

from iadbench.datasets.validate import (
    DatasetValidationError,
    EmptyTestSetError,
    EmptyTrainSetError,
    MaskSizeMismatchError,
    MissingCategoryError,
    MissingMaskError,
    OrphanMaskError,
    UnreadableImageError,
    validate_category,
    validate_folder,
)


@pytest.fixture
def root(tmp_path):
    return write_tree(tmp_path, mvtec_ad_tree(categories=("bottle",)))


def test_valid_category_is_summarised(root):
    summary = validate_category(root, "bottle")
    assert (summary.n_train, summary.n_test_good, summary.n_test_defect) == (2, 1, {"broken_large": 2})
    assert summary.n_test == 3


def expect(error_class, path, call):
    with pytest.raises(error_class) as caught:
        call()
    assert isinstance(caught.value, DatasetValidationError) and isinstance(caught.value, ValueError)
    assert caught.value.path == path
    assert str(path) in str(caught.value)


def test_missing_mask_names_the_image(root):
    (root / "bottle/ground_truth/broken_large/001_mask.png").unlink()
    image = root / "bottle/test/broken_large/001.png"
    expect(MissingMaskError, image, lambda: validate_category(root, "bottle"))


def test_mask_named_like_the_image_is_accepted(root):
    masks = root / "bottle/ground_truth/broken_large"
    for mask in masks.iterdir():
        mask.rename(masks / mask.name.replace("_mask", ""))
    validate_category(root, "bottle")


def test_mask_of_another_size_names_the_mask(root):
    mask = root / "bottle/ground_truth/broken_large/000_mask.png"
    mask.write_bytes(mask_bytes(size=(9, 6)))
    expect(MaskSizeMismatchError, mask, lambda: validate_category(root, "bottle"))


def test_empty_train_set(root):
    shutil.rmtree(root / "bottle/train/good")
    expect(EmptyTrainSetError, root / "bottle/train/good", lambda: validate_category(root, "bottle"))


def test_images_the_reader_would_skip_do_not_count(root):
    for image in (root / "bottle/train/good").iterdir():
        image.rename(image.with_suffix(".bmp"))
    with pytest.raises(EmptyTrainSetError):
        validate_category(root, "bottle")


def test_empty_test_set(root):
    shutil.rmtree(root / "bottle/test")
    shutil.rmtree(root / "bottle/ground_truth")
    expect(EmptyTestSetError, root / "bottle/test", lambda: validate_category(root, "bottle"))


@pytest.mark.parametrize(
    "where", ["train/good/001.png", "test/broken_large/000.png", "ground_truth/broken_large/001_mask.png"]
)
def test_unreadable_image_names_the_file(root, where):
    path = root / "bottle" / where
    path.write_bytes(b"not an image at all")
    expect(UnreadableImageError, path, lambda: validate_category(root, "bottle"))


def test_truncated_image_is_unreadable(root):
    path = root / "bottle/test/good/000.png"
    path.write_bytes(image_bytes(size=(64, 64))[:200])
    expect(UnreadableImageError, path, lambda: validate_category(root, "bottle"))


def test_orphan_mask_names_the_mask(root):
    orphan = root / "bottle/ground_truth/broken_large/005_mask.png"
    orphan.write_bytes(mask_bytes())
    expect(OrphanMaskError, orphan, lambda: validate_category(root, "bottle"))


def test_mask_of_a_good_image_would_shift_anomalib_pairing(root):
    stray = root / "bottle/ground_truth/good/000_mask.png"
    stray.parent.mkdir()
    stray.write_bytes(mask_bytes())
    expect(OrphanMaskError, stray, lambda: validate_category(root, "bottle"))


def test_names_that_sort_apart_from_their_masks(root):
    # "a.png" < "a_b.png" but "a_b_mask.png" < "a_mask.png": anomalib would pair them crosswise.
    defect, masks = root / "bottle/test/broken_large", root / "bottle/ground_truth/broken_large"
    for folder in (defect, masks):
        for path in folder.iterdir():
            path.unlink()
    for stem in ("a", "a_b"):
        (defect / f"{stem}.png").write_bytes(image_bytes())
        (masks / f"{stem}_mask.png").write_bytes(mask_bytes())
    with pytest.raises(OrphanMaskError, match="wrong image"):
        validate_category(root, "bottle")


def test_missing_category(root):
    expect(MissingCategoryError, root / "cable", lambda: validate_category(root, "cable"))


def test_folder_dataset_checks(root):
    category = root / "bottle"
    summary = validate_folder(
        category / "train/good", category / "test/broken_large", category / "ground_truth/broken_large",
        category / "test/good",
    )
    assert (summary.n_train, summary.n_test_good, summary.n_test_defect) == (2, 1, {"broken_large": 2})
    (category / "ground_truth/broken_large/000_mask.png").unlink()
    with pytest.raises(MissingMaskError):
        validate_folder(
            category / "train/good", category / "test/broken_large", category / "ground_truth/broken_large"
        )
    with pytest.raises(EmptyTestSetError):
        validate_folder(category / "train/good")
