"""The machinery every dataset type goes through: category selection, fetching, preparing a category."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from archives import (
    ArchiveServer,
    btech_tree,
    kolektor_tree,
    md5,
    mpdd_tree,
    mvtec_3d_tree,
    mvtec_ad_2_tree,
    mvtec_ad_tree,
    mvtec_loco_tree,
    real_iad_tree,
    sha256,
    tar_bytes,
    visa_tree,
    write_tree,
    zip_bytes,
)

from iadbench.datasets import datamodule_for, embedded, prepare
from iadbench.datasets.download import ChecksumMismatchError
from iadbench.datasets.extract import ArchiveError
from iadbench.datasets.families import FAMILIES
from iadbench.datasets.validate import MissingMaskError

# Per downloadable type: the published archive's name, a tiny archive in its true layout, the
# categories it holds, and what each prepared category must contain: (train, test good, {defect: n}).
DOWNLOADABLE = {
    "mvtec_ad": (lambda: tar_bytes(mvtec_ad_tree(), "xz"), {
        "bottle": (2, 1, {"broken_large": 2}), "cable": (2, 1, {"broken_large": 2})}),
    "mvtec_3d": (lambda: tar_bytes(mvtec_3d_tree(), "xz"), {"bagel": (2, 1, {"crack": 2})}),
    "btech": (lambda: zip_bytes(btech_tree()), {
        "01": (2, 1, {"ko": 1}), "02": (2, 1, {"ko": 1}), "03": (2, 1, {"ko": 1})}),
    "kolektor": (lambda: zip_bytes(kolektor_tree()), {"kolektor": (7, 2, {"defect": 1})}),
    "visa": (lambda: tar_bytes(visa_tree()), {
        "candle": (2, 1, {"bad": 2}), "capsules": (2, 1, {"bad": 2})}),
    "mvtec_ad_2": (lambda: tar_bytes(mvtec_ad_2_tree(), "gz"), {"can": (2, 1, {"bad": 1})}),
    "mvtec_loco": (lambda: tar_bytes(mvtec_loco_tree(), "xz"), {
        "breakfast_box": (2, 1, {"logical_anomalies": 1, "structural_anomalies": 1})}),
}
MANUAL = {
    "mpdd": (mpdd_tree, {"bracket_black": (2, 1, {"broken_large": 2})}),
    "real_iad": (real_iad_tree, {"audiojack": (2, 1, {"AK": 1})}),
}


def summary_tuple(summary):
    return summary.n_train, summary.n_test_good, summary.n_test_defect


def check_read_through_anomalib(spec, dataset_dir, category, expected):
    """The prepared category reads through anomalib with the expected counts and aligned masks."""
    datamodule = datamodule_for(spec, dataset_dir, category, num_workers=0, train_batch_size=2,
                                     eval_batch_size=2, seed=0)
    datamodule.prepare_data()
    datamodule.setup()
    n_train, n_test_good, defects = expected
    assert len(datamodule.train_data) == n_train
    samples = datamodule.test_data.samples
    assert (samples.label_index == 0).sum() == n_test_good
    assert (samples.label_index == 1).sum() == sum(defects.values())
    defect_index = int(np.flatnonzero(samples.label_index.to_numpy() == 1)[0])
    item = datamodule.test_data[defect_index]
    assert item.gt_mask.shape[-2:] == item.image.shape[-2:] and item.gt_mask.any()
    return datamodule


@pytest.mark.parametrize("dataset_type", DOWNLOADABLE)
def test_download_verify_extract_prepare_and_read(tmp_path, dataset_type):
    build, expected = DOWNLOADABLE[dataset_type]
    data = build()
    info = FAMILIES[dataset_type]
    # MVTec 3D-AD publishes an md5: the override keeps that algorithm (inferred from the length).
    checksum = md5(data) if info.archive.algorithm == "md5" else sha256(data)
    with ArchiveServer({info.archive.filename: data}) as server:
        spec = {"type": dataset_type, "url": server.url(info.archive.filename), "checksum": checksum}
        dataset_dir = tmp_path / "datasets" / dataset_type
        prepare.prepare_dataset(spec, dataset_dir)
        prepare.prepare_dataset(spec, dataset_dir)  # complete: no second download
        assert len(server.requests) == 1
    marker = json.loads((dataset_dir / ".complete").read_text())
    assert marker["checksum"] == checksum and marker["checksum_algorithm"] == info.archive.algorithm
    assert (dataset_dir / marker["source"]).is_dir()
    for category, counts in expected.items():
        summary = prepare.prepare_category(spec, dataset_dir, category)
        assert summary_tuple(summary) == counts
        check_read_through_anomalib(spec, dataset_dir, category, counts)
    assert sorted(path.name for path in dataset_dir.iterdir() if path.name.startswith(".")) == [
        ".complete", ".lock"
    ]


@pytest.mark.parametrize("dataset_type", MANUAL)
def test_manual_dataset_from_path_or_extracted_folder(tmp_path, dataset_type):
    build, expected = MANUAL[dataset_type]
    dataset_dir = tmp_path / "datasets" / dataset_type
    with pytest.raises(prepare.DatasetUnavailableError) as caught:
        prepare.prepare_dataset({"type": dataset_type}, dataset_dir)
    assert "path:" in str(caught.value) and str(dataset_dir / "extracted") in str(caught.value)
    assert not (dataset_dir / ".complete").exists()

    copy = write_tree(tmp_path / "my_copy" / "wrapped", build())
    spec = {"type": dataset_type, "path": str(copy.parent)}
    prepare.prepare_dataset(spec, dataset_dir)
    assert prepare.source_root(dataset_dir) == copy.resolve()
    for category, counts in expected.items():
        assert summary_tuple(prepare.prepare_category(spec, dataset_dir, category)) == counts
        check_read_through_anomalib(spec, dataset_dir, category, counts)

    # The same data put where the manual steps say also works, without `path:`.
    other_dir = tmp_path / "datasets" / f"{dataset_type}_by_hand"
    write_tree(other_dir / "extracted", build())
    assert prepare.prepare_dataset({"type": dataset_type}, other_dir) == (other_dir / "extracted").resolve()


def test_checksum_mismatch_leaves_nothing_marked_complete(tmp_path):
    data = tar_bytes(mvtec_ad_tree(), "xz")
    with ArchiveServer({"a.tar.xz": data}) as server:
        spec = {"type": "mvtec_ad", "url": server.url("a.tar.xz")}  # catalog checksum: the real archive's
        with pytest.raises(ChecksumMismatchError) as caught:
            prepare.prepare_dataset(spec, tmp_path / "mvtec_ad")
    assert FAMILIES["mvtec_ad"].archive.checksum in str(caught.value) and sha256(data) in str(caught.value)
    assert "mvtec_anomaly_detection.tar.xz" in str(caught.value)
    assert sorted(path.name for path in (tmp_path / "mvtec_ad").rglob("*")) == [
        ".lock", "download", "mvtec_anomaly_detection.tar.xz.lock"
    ]
    with pytest.raises(prepare.IncompleteDatasetError):
        prepare.prepare_category(spec, tmp_path / "mvtec_ad", "bottle")


def test_truncated_archive_without_checksum_fails_at_extraction(tmp_path):
    data = zip_bytes(btech_tree())
    with ArchiveServer({"btad.zip": data[: len(data) // 2]}) as server:
        spec = {"type": "btech", "url": server.url("btad.zip"), "checksum": None}
        with pytest.raises(ArchiveError):
            prepare.prepare_dataset(spec, tmp_path / "btech")
    assert not (tmp_path / "btech" / ".complete").exists()
    assert not (tmp_path / "btech" / "extracted").exists()


def test_interrupted_download_resumes_inside_prepare(tmp_path):
    data = zip_bytes(kolektor_tree())
    with ArchiveServer({"k.zip": data}, cut_after=len(data) // 2, cuts=1) as server:
        spec = {"type": "kolektor", "url": server.url("k.zip"), "checksum": sha256(data)}
        prepare.prepare_dataset(spec, tmp_path / "kolektor", download_options={"backoff_seconds": 0})
    assert server.gets("k.zip") == [None, f"bytes={len(data) // 2}-"]


def test_path_to_an_archive_is_verified_and_extracted_without_download(tmp_path):
    data = zip_bytes(btech_tree())
    archive = tmp_path / "btad.zip"
    archive.write_bytes(data)
    with pytest.raises(ChecksumMismatchError):  # the catalog's checksum is the real btad.zip's
        prepare.prepare_dataset({"type": "btech", "path": str(archive)}, tmp_path / "a")
    spec = {"type": "btech", "path": str(archive), "checksum": sha256(data)}
    source = prepare.prepare_dataset(spec, tmp_path / "b")
    assert source.name == "BTech_Dataset_transformed"
    assert summary_tuple(prepare.prepare_category(spec, tmp_path / "b", "03")) == (2, 1, {"ko": 1})
    assert sorted(path.name for path in (tmp_path / "b/03/ground_truth/ko").iterdir()) == ["0000.png"]


def test_catalog_url_and_checksum_are_used_unless_overridden():
    info = FAMILIES["visa"]
    assert prepare.archive_source({"type": "visa"}, info) == (info.archive.url, info.archive.filename,
                                                           info.archive.checksum)
    mirror = {"type": "visa", "url": "https://mirror.example/VisA.tar"}
    assert prepare.archive_source(mirror, info) == ("https://mirror.example/VisA.tar", info.archive.filename,
                                                 info.archive.checksum)
    assert prepare.archive_source({**mirror, "checksum": None}, info)[2] is None
    url = "https://x.example/mpdd.zip?dl=1"
    assert prepare.archive_source({"type": "mpdd", "url": url}, FAMILIES["mpdd"]) == (url, "mpdd.zip", None)


def test_invalid_category_is_kept_aside_and_the_error_names_the_file(tmp_path):
    tree = mvtec_ad_tree(categories=("bottle",))
    del tree["bottle/ground_truth/broken_large/001_mask.png"]
    write_tree(tmp_path / "mvtec_ad" / "extracted", tree)
    prepare.prepare_dataset({"type": "mvtec_ad"}, tmp_path / "mvtec_ad")
    with pytest.raises(MissingMaskError) as caught:
        prepare.prepare_category({"type": "mvtec_ad"}, tmp_path / "mvtec_ad", "bottle")
    assert caught.value.path == tmp_path / "mvtec_ad/.bottle.invalid/test/broken_large/001.png"
    assert caught.value.path.is_file() and not (tmp_path / "mvtec_ad" / "bottle").exists()


def test_only_source_keys_concern_the_download_step():
    spec = {"type": "visa", "categories": ["candle"], "url": "https://m.example/v.tar", "checksum": None}
    assert prepare.source_spec(spec) == {"type": "visa", "url": "https://m.example/v.tar", "checksum": None}


def test_all_expands_and_a_list_is_checked_against_the_known_categories():
    assert prepare.dataset_categories({"type": "btech", "categories": "all"}) == ["01", "02", "03"]
    assert prepare.dataset_categories({"type": "btech", "categories": ["02"]}) == ["02"]
    assert prepare.dataset_categories({}) == list(embedded.CATEGORIES)  # `type:` defaults to embedded
    with pytest.raises(ValueError, match="unknown"):
        prepare.dataset_categories({"type": "mvtec_ad", "categories": ["bottle", "bagel"]})
    with pytest.raises(ValueError, match="unknown dataset type"):
        prepare.dataset_categories({"type": "mvtec"})
