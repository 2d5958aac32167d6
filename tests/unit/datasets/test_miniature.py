"""The miniature datasets prepare like the real ones, with what each protocol needs."""

import json

import numpy as np
import pytest

from iadbench.datasets.prepare import prepare_category, prepare_dataset


def prepared(tmp_path, kind, category):
    spec = {"type": kind, "miniature": {"seed": 0}}
    prepare_dataset(spec, tmp_path / kind)
    summary = prepare_category(spec, tmp_path / kind, category)
    return tmp_path / kind / category, summary


def test_miniature_loco_keeps_two_defects_of_different_types_apart(tmp_path):
    category, summary = prepared(tmp_path, "mvtec_loco", "breakfast_box")
    assert summary.n_test_defect == {"logical_anomalies": 3, "structural_anomalies": 3}
    with np.load(category / "defect_masks/logical_anomalies/001.npz") as data:
        masks = data["masks"]
    assert masks.shape[0] == 2 and [int(mask.max()) for mask in masks] == [255, 200]
    assert len(list((category / "validation" / "good").iterdir())) == 4
    assert json.loads((category / "defects_config.json").read_text())[1]["relative_saturation"] is False


def test_miniature_mvtec_ad_2_prepares_validation_and_leaves_private_sets_in_the_source(tmp_path):
    category, _ = prepared(tmp_path, "mvtec_ad_2", "can")
    assert len(list((category / "validation" / "good").iterdir())) == 4
    assert not (category / "test_private").exists()
    assert len(list((tmp_path / "mvtec_ad_2" / "miniature" / "can" / "test_private_mixed").iterdir())) == 3


def test_miniature_real_iad_groups_views_into_samples(tmp_path):
    category, summary = prepared(tmp_path, "real_iad", "audiojack")
    samples = json.loads((category / "samples.json").read_text())
    test_views = [path.name for path in (category / "test").rglob("*.jpg")]
    assert len(samples) == 50 and len(set(samples.values())) == 10  # 4 training + 6 test samples, 5 views each
    assert len(test_views) == 30 and len({samples[name] for name in test_views}) == 6
    assert summary.n_test_defect == {"AK": 6}  # 2 defective views per defective sample


def test_unknown_miniature_is_refused(tmp_path):
    from iadbench.datasets.miniature import write_source

    with pytest.raises(ValueError, match="no miniature of dataset type 'visa'"):
        write_source("visa", tmp_path)
