import hashlib

import numpy as np
import pytest
from anomalib.data.datasets.image.mvtecad import make_mvtec_ad_dataset
from PIL import Image

from iadbench.datasets.embedded import CATEGORY_DEFECTS, EmbeddedSpec, generate, generate_category

SPEC = EmbeddedSpec(image_size=48, n_train=3, n_test_good=2, n_test_per_defect=2)


def digest(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.png"))}


def test_layout_is_mvtec_ad(tmp_path):
    generate(tmp_path, ["washer"], seed=0, spec=SPEC)
    category = tmp_path / "washer"
    assert len(list((category / "train" / "good").glob("*.png"))) == 3
    assert len(list((category / "test" / "good").glob("*.png"))) == 2
    for defect in CATEGORY_DEFECTS["washer"]:
        images = sorted((category / "test" / defect).glob("*.png"))
        masks = sorted((category / "ground_truth" / defect).glob("*_mask.png"))
        assert [m.name for m in masks] == [i.stem + "_mask.png" for i in images]
        for image, mask in zip(images, masks, strict=True):
            mask_array = np.asarray(Image.open(mask))
            assert Image.open(image).size == mask_array.shape[::-1]
            assert set(np.unique(mask_array)) <= {0, 255} and mask_array.any()
    samples = make_mvtec_ad_dataset(category)
    assert set(samples["split"]) == {"train", "test"}
    assert samples.loc[samples.label_index == 1, "mask_path"].str.endswith("_mask.png").all()


def test_same_seed_same_bytes_other_seed_other_images(tmp_path):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        generate_category(tmp_path / name, "grass", seed=seed, spec=SPEC)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_categories_have_texture_and_object_and_two_defects():
    assert {"brick", "grass", "gravel", "washer"} <= set(CATEGORY_DEFECTS)
    assert all(len(defects) >= 2 for defects in CATEGORY_DEFECTS.values())


def test_nuisance_makes_good_images_differ(tmp_path):
    generate_category(tmp_path, "washer", seed=0, spec=SPEC)
    first, second = (np.asarray(Image.open(p), dtype=float) for p in sorted((tmp_path / "washer" / "train" / "good").glob("*.png"))[:2])
    assert np.abs(first - second).mean() > 1


def test_unknown_category_is_named(tmp_path):
    with pytest.raises(ValueError, match="bottle"):
        generate_category(tmp_path, "bottle")
