import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))
from archives import mvtec_ad_tree, write_tree

from iadbench.datasets import datamodule_for, prepare


@pytest.fixture
def folder_spec(tmp_path):
    base = write_tree(tmp_path / "mine", mvtec_ad_tree(categories=("bottle",)))
    return {"type": "folder", "path": str(base), "normal_dir": "bottle/train/good",
            "abnormal_dir": "bottle/test/broken_large", "mask_dir": "bottle/ground_truth/broken_large",
            "normal_test_dir": "bottle/test/good"}


def test_folder_dataset_is_validated_and_reads_through_anomalib_folder(tmp_path, folder_spec):
    assert prepare.dataset_categories(folder_spec) == ["custom"]
    dataset_dir = tmp_path / "datasets" / "mine"
    prepare.prepare_dataset(folder_spec, dataset_dir)
    summary = prepare.prepare_category(folder_spec, dataset_dir, "custom")
    assert (summary.n_train, summary.n_test_good, summary.n_test_defect) == (2, 1, {"broken_large": 2})
    description = json.loads((dataset_dir / "custom" / "folder.json").read_text())
    assert description["mask_dir"].endswith("broken_large")
    datamodule = datamodule_for(folder_spec, dataset_dir, "custom", num_workers=0, seed=0)
    assert type(datamodule).__name__ == "Folder"
    datamodule.setup()
    assert len(datamodule.train_data) == 2
    with pytest.raises(prepare.DatasetUnavailableError, match="abnormal_dir"):
        prepare.prepare_dataset({**folder_spec, "abnormal_dir": "nowhere"}, tmp_path / "datasets" / "other")


def test_a_folder_dataset_is_one_category_with_a_plain_name(folder_spec):
    assert prepare.dataset_categories({**folder_spec, "categories": ["screws"]}) == ["screws"]
    for names in (["a", "b"], ["extracted"], [".hidden"]):
        with pytest.raises(ValueError, match="one category with a plain name"):
            prepare.dataset_categories({**folder_spec, "categories": names})
