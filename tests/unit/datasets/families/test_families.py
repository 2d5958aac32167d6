"""The registry of dataset families: every module exposes the same interface with anomalib's facts."""

import importlib

import pytest

from iadbench.datasets.families import FAMILIES, DatasetFamily, DatasetUnavailableError, family


def test_every_family_module_registers_its_family_under_its_own_name():
    for key, info in FAMILIES.items():
        module = importlib.import_module(f"iadbench.datasets.families.{key}")
        assert module.FAMILY is info and isinstance(info, DatasetFamily) and callable(info.convert)
    assert family("visa") is FAMILIES["visa"]
    with pytest.raises(ValueError, match="known: mvtec_ad, mvtec_3d"):
        family("mvtec")


def test_category_lists_match_the_real_datasets_and_anomalib():
    from anomalib.data.datamodules.image.visa import VISA_CATEGORIES
    from anomalib.data.datasets.depth.mvtec_3d import CATEGORIES as MVTEC_3D
    from anomalib.data.datasets.image.btech import CATEGORIES as BTECH
    from anomalib.data.datasets.image.mpdd import CATEGORIES as MPDD
    from anomalib.data.datasets.image.mvtec_loco import CATEGORIES as LOCO
    from anomalib.data.datasets.image.mvtecad import CATEGORIES as MVTEC_AD
    from anomalib.data.datasets.image.mvtecad2 import CATEGORIES as MVTEC_AD_2
    from anomalib.data.datasets.image.realiad import CATEGORIES as REAL_IAD

    counts = {key: len(info.categories) for key, info in FAMILIES.items()}
    assert counts == {"mvtec_ad": 15, "mvtec_3d": 10, "btech": 3, "kolektor": 1, "visa": 12, "mvtec_ad_2": 8,
                      "mpdd": 6, "mvtec_loco": 5, "real_iad": 30}
    anomalib_lists = {"mvtec_ad": MVTEC_AD, "mvtec_3d": MVTEC_3D, "btech": BTECH, "visa": VISA_CATEGORIES,
                      "mvtec_ad_2": MVTEC_AD_2, "mpdd": MPDD, "mvtec_loco": LOCO, "real_iad": REAL_IAD}
    for key, categories in anomalib_lists.items():
        assert FAMILIES[key].categories == tuple(categories), key


def test_every_family_says_where_to_get_it():
    for info in FAMILIES.values():
        assert info.license and info.manual_steps and info.homepage.startswith("https://")
        assert "{expected}" in info.manual_steps  # where the manual steps tell users to put the data
        if info.archive:
            assert info.archive.url.startswith("https://") and "anomalib" in info.archive.checksum_source
    assert {key for key, info in FAMILIES.items() if not info.downloadable} == {"mpdd", "real_iad"}


@pytest.mark.parametrize("key", ["mvtec_ad", "mpdd", "mvtec_3d", "btech", "mvtec_ad_2", "mvtec_loco"])
def test_a_category_folder_missing_from_the_source_is_named(tmp_path, key):
    with pytest.raises(DatasetUnavailableError, match="'bagel' is missing"):
        FAMILIES[key].convert(tmp_path, "bagel", tmp_path / "out", {})
    assert not (tmp_path / "out").exists()
