"""MVTec AD 2: the public test set (the one with ground truth) and validation/good (the operating point and
SegF1's threshold); the private test sets stay in the source for the submission export
(:mod:`iadbench.run.submission`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iadbench.datasets.families.base import CC_BY_NC_SA_4, MVTEC_FORM, Archive, DatasetFamily
from iadbench.datasets.families.layout import category_folder, files, place

HOMEPAGE = "https://www.mvtec.com/company/research/datasets/mvtec-ad-2"

# (split, label) in MVTec AD 2 -> (split, label) in the MVTec AD layout.
FOLDERS = {
    ("train", "good"): ("train", "good"),
    ("validation", "good"): ("validation", "good"),
    ("test_public", "good"): ("test", "good"),
    ("test_public", "bad"): ("test", "bad"),
    ("test_public/ground_truth", "bad"): ("ground_truth", "bad"),
}


def convert(source: Path, category: str, out: Path, spec: dict[str, Any]) -> None:
    """Link the train and public test images and the public masks under their MVTec AD folders."""
    folder = category_folder(source, category)
    for (split, label), (new_split, new_label) in FOLDERS.items():
        for image in files(folder / split / label):
            place(image, out / new_split / new_label / image.name)


FAMILY = DatasetFamily(
    key="mvtec_ad_2",
    display_name="MVTec AD 2",
    categories=("can", "fabric", "fruit_jelly", "rice", "sheet_metal", "vial", "wallplugs", "walnuts"),
    homepage=HOMEPAGE,
    license=CC_BY_NC_SA_4,
    layout_note=(
        "train/good -> train/good; validation/good -> validation/good (operating point, SegF1 threshold); "
        "test_public/{good,bad} -> test/{good,bad}; test_public/ground_truth/bad -> ground_truth/bad. The "
        "private test sets (no public ground truth) are read from the source by the submission export."
    ),
    manual_steps=MVTEC_FORM.format(homepage=HOMEPAGE, what="mvtec_ad_2.tar.gz"),
    convert=convert,
    archive=Archive(
        url="https://www.mydrive.ch/shares/150997/701c90d3aea6588f404936e32a674602/download/"
        "466712769-1743429042/mvtec_ad_2.tar.gz",
        filename="mvtec_ad_2.tar.gz",
        checksum="c0ded99ef32bfc8e352d52beb44515e5b292b8598cb963aadfa91ca0763505e4",
        checksum_source="anomalib 2.7.0 anomalib/data/datamodules/image/mvtecad2.py DOWNLOAD_INFO.hashsum",
    ),
)
