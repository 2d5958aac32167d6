"""`type: mvtec_layout`: categories found in `path:`, masks optional per defect, errors naming the file."""

import io
import json
import logging
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parents[1]))
from archives import write_tree
from own_data import mvtec_layout_tree

from iadbench.config.base import ConfigError
from iadbench.config.load import validate_config
from iadbench.datasets import datamodule_for, prepare
from iadbench.datasets.validate import (
    EmptyTrainSetError,
    MaskSizeMismatchError,
    MissingMaskError,
    UnreadableImageError,
)

SCHEMA = Path(__file__).resolve().parents[4] / "workflow" / "schemas" / "config.schema.yaml"


@pytest.fixture
def source(tmp_path):
    return write_tree(tmp_path / "own", mvtec_layout_tree(n_train=3, n_good=2, n_defect=2, size=16))


def spec_of(source, categories="all"):
    return {"type": "mvtec_layout", "path": str(source), "categories": categories}


def prepared(tmp_path, spec, category):
    dataset_dir = tmp_path / "datasets" / "own"
    prepare.prepare_dataset(spec, dataset_dir)
    return prepare.prepare_category(spec, dataset_dir, category), dataset_dir


def config_of(dataset):
    return {"datasets": {"own": dataset}, "models": {"padim": {}}}


def test_categories_are_the_subfolders_with_train_good(source):
    assert prepare.dataset_categories(spec_of(source)) == ["gasket", "widget"]  # docs/ has no train/good
    assert prepare.dataset_categories(spec_of(source, ["widget"])) == ["widget"]


def test_unknown_category_lists_the_found_ones(source):
    with pytest.raises(ConfigError, match=r"datasets\.own\.categories.*\['bolt'\].*found: gasket, widget"):
        validate_config(config_of(spec_of(source, ["bolt"])), SCHEMA)


@pytest.mark.parametrize("path", [None, "missing"])
def test_missing_path_names_the_key(tmp_path, path):
    dataset = {"type": "mvtec_layout"} | ({"path": str(tmp_path / path)} if path else {})
    with pytest.raises(ConfigError, match=r"datasets\.own(\.path)?'.*path"):
        validate_config(config_of(dataset), SCHEMA)


def test_an_archive_path_must_be_extracted_first(tmp_path):
    archive = tmp_path / "own.zip"
    archive.write_bytes(b"PK")
    with pytest.raises(ConfigError, match=r"datasets\.own\.path.*not a folder.*extract"):
        validate_config(config_of({"type": "mvtec_layout", "path": str(archive)}), SCHEMA)


def test_a_folder_name_breaking_the_name_rule_is_named(source):
    (source / "my part" / "train" / "good").mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"my part.*letters, digits"):
        validate_config(config_of(spec_of(source)), SCHEMA)
    validate_config(config_of(spec_of(source, ["widget"])), SCHEMA)  # not selected: fine


def test_prepared_category_summary_counts_unmasked_defects_and_skipped_files(tmp_path, source, caplog):
    with caplog.at_level(logging.WARNING):
        summary, dataset_dir = prepared(tmp_path, spec_of(source), "widget")
    assert summary.n_test_defect == {"dent": 2, "scratch": 2, "stain": 2}
    assert summary.defects_without_masks == ["stain"] and summary.n_skipped_files == 1
    skipped = [record for record in caplog.records if "skipped" in record.getMessage()]
    assert len(skipped) == 1 and "notes.txt" in skipped[0].getMessage()
    written = json.loads((dataset_dir / "widget" / "summary.json").read_text())
    assert written["n_skipped_files"] == 1 and written["defects_without_masks"] == ["stain"]
    assert not (dataset_dir / "widget" / "test" / "good" / "notes.txt").exists()


def test_reader_scores_every_test_image_and_marks_those_without_masks(tmp_path, source):
    _, dataset_dir = prepared(tmp_path, spec_of(source), "widget")
    datamodule = datamodule_for(spec_of(source), dataset_dir, "widget", num_workers=0, seed=0, eval_batch_size=4)
    datamodule.setup()
    samples = datamodule.test_data.samples
    assert len(samples) == 2 + 3 * 2 and len(datamodule.train_data) == 3
    assert list(samples.defect_type.value_counts().sort_index().items()) == [
        ("dent", 2), ("good", 2), ("scratch", 2), ("stain", 2)]
    assert (samples.mask_path.eq("") == samples.defect_type.isin(["good", "stain"])).all()
    batches = list(datamodule.test_dataloader())
    assert sum(len(batch.image_path) for batch in batches) == len(samples)
    assert all(batch.gt_mask.shape[-2:] == (16, 16) for batch in batches)


def test_category_without_any_mask_reads_as_classification(tmp_path):
    source = write_tree(tmp_path / "own", mvtec_layout_tree(("widget",), masked=(), unmasked=("stain",),
                                                            n_train=2, n_good=1, size=16))
    _, dataset_dir = prepared(tmp_path, spec_of(source), "widget")
    datamodule = datamodule_for(spec_of(source), dataset_dir, "widget", num_workers=0, seed=0)
    datamodule.setup()
    assert datamodule.test_data.task == "classification" and len(datamodule.test_data) == 3


def png(size=(16, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((size[1], size[0]), np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(("change", "error", "named"), [
    # A mask folder exists for the defect, but one image has no mask in it.
    (lambda root: (root / "widget/ground_truth/dent/001_mask.png").unlink(), MissingMaskError,
     "widget/test/dent/001.png"),
    (lambda root: (root / "widget/ground_truth/scratch/000_mask.png").write_bytes(png((8, 8))), MaskSizeMismatchError,
     "ground_truth/scratch/000_mask.png"),
    (lambda root: [path.unlink() for path in (root / "widget/train/good").iterdir()], EmptyTrainSetError,
     "widget/train/good"),
    (lambda root: (root / "widget/test/stain/000.png").write_bytes(b"not a png"), UnreadableImageError,
     "widget/test/stain/000.png"),
])
def test_invalid_category_is_an_error_naming_the_users_file(tmp_path, source, change, error, named):
    change(source)
    with pytest.raises(error) as raised:
        prepared(tmp_path, spec_of(source), "widget")
    assert str(raised.value.path).endswith(named) and raised.value.path.is_relative_to(source)
    assert not (tmp_path / "datasets" / "own" / "widget").exists()
