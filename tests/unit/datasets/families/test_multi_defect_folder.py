"""`type: folder` whose `abnormal_dir:` (and `mask_dir:`) map defect names to folders: one category."""

import json
import logging
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))
from archives import write_tree
from own_data import folder_spec, folder_tree

from iadbench.config.base import ConfigError
from iadbench.config.load import validate_config
from iadbench.datasets import datamodule_for, prepare
from iadbench.datasets.validate import MissingMaskError

SCHEMA = Path(__file__).resolve().parents[4] / "workflow" / "schemas" / "config.schema.yaml"


@pytest.fixture
def spec(tmp_path):
    return folder_spec(write_tree(tmp_path / "mine", folder_tree(size=16)))


def prepared(tmp_path, spec):
    dataset_dir = tmp_path / "datasets" / "mine"
    prepare.prepare_dataset(spec, dataset_dir)
    return prepare.prepare_category(spec, dataset_dir, "custom"), dataset_dir


def test_summary_has_each_defect_the_unmasked_ones_and_skipped_files(tmp_path, spec, caplog):
    with caplog.at_level(logging.WARNING):
        summary, dataset_dir = prepared(tmp_path, spec)
    assert summary.n_test_defect == {"scratch": 2, "crack": 2} and summary.defects_without_masks == ["crack"]
    assert summary.n_skipped_files == 1
    skipped = [record.getMessage() for record in caplog.records if "skipped" in record.getMessage()]
    assert len(skipped) == 1 and "readme.txt" in skipped[0]
    assert json.loads((dataset_dir / "custom" / "summary.json").read_text())["n_skipped_files"] == 1
    assert json.loads((dataset_dir / "custom" / "folder.json").read_text())["abnormal_dir"]["crack"].endswith("crack")


def test_reader_keeps_each_images_defect_type_and_mask(tmp_path, spec):
    _, dataset_dir = prepared(tmp_path, spec)
    datamodule = datamodule_for(spec, dataset_dir, "custom", num_workers=0, seed=0, eval_batch_size=3)
    datamodule.setup()
    samples = datamodule.test_data.samples
    by_name = {Path(path).name: (defect, mask) for path, defect, mask in
               zip(samples.image_path, samples.defect_type, samples.mask_path, strict=True)}
    assert len(by_name) == 3 + 2 + 2 and len(datamodule.train_data) == 6
    assert by_name["000.png"] == ("good", "") and by_name["crack_001.png"] == ("crack", "")
    assert by_name["scratch_001.png"][0] == "scratch" and by_name["scratch_001.png"][1].endswith(
        "masks/scratch/scratch_001.png")
    assert sum(len(batch.image_path) for batch in datamodule.test_dataloader()) == 7


def test_a_missing_mask_of_a_masked_defect_names_the_image(tmp_path, spec):
    (Path(spec["path"]) / "masks" / "scratch" / "scratch_001.png").unlink()
    with pytest.raises(MissingMaskError, match="scratch_001.png"):
        prepared(tmp_path, spec)


@pytest.mark.parametrize(("change", "message"), [
    ({"mask_dir": "masks/scratch"}, "both be one folder or both map"),
    ({"mask_dir": {"dent": "masks/scratch"}}, r"\['dent'\].*maps: scratch, crack"),
    ({"abnormal_dir": {"good": "normal_test"}}, "may not name a defect 'good'"),
    ({"abnormal_dir": {"bad name": "defects/crack"}}, "abnormal_dir"),
])
def test_inconsistent_mappings_are_config_errors(spec, change, message):
    with pytest.raises(ConfigError, match=message):
        validate_config({"datasets": {"mine": {**spec, **change}}, "models": {"padim": {}}}, SCHEMA)


def test_a_missing_defect_folder_names_its_key(tmp_path, spec):
    spec["abnormal_dir"]["dent"] = "defects/dent"
    with pytest.raises(prepare.DatasetUnavailableError, match=r"`abnormal_dir\.dent:`"):
        prepared(tmp_path, spec)
