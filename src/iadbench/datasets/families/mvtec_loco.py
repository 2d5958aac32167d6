"""MVTec LOCO AD: each image's mask folder (one PNG per defect) merged into one mask named like the image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iadbench.datasets.families.base import CC_BY_NC_SA_4, MVTEC_FORM, Archive, DatasetFamily
from iadbench.datasets.families.layout import category_folder, files, place, save_binary_mask, subfolders

HOMEPAGE = "https://www.mvtec.com/company/research/datasets/mvtec-loco"


def convert(source: Path, category: str, out: Path, spec: dict[str, Any]) -> None:
    """train/ and test/ linked; ground_truth/<type>/<NNN>/*.png merged into ground_truth/<type>/<NNN>.png."""
    folder = category_folder(source, category)
    for split in ("train", "test"):
        for label_dir in subfolders(folder / split):
            for image in files(label_dir):
                place(image, out / split / label_dir.name / image.name)
                mask_folder = folder / "ground_truth" / label_dir.name / image.stem
                if split == "test" and label_dir.name != "good" and mask_folder.is_dir():
                    save_binary_mask(files(mask_folder), out / "ground_truth" / label_dir.name / image.name)


FAMILY = DatasetFamily(
    key="mvtec_loco",
    display_name="MVTec LOCO AD",
    categories=("breakfast_box", "juice_bottle", "pushpins", "screw_bag", "splicing_connectors"),
    homepage=HOMEPAGE,
    license=CC_BY_NC_SA_4,
    layout_note=(
        "train/good and test/* kept; each image's mask folder ground_truth/<type>/<NNN>/*.png is merged "
        "(union, 0/255) into ground_truth/<type>/<NNN>.png. validation/ is not used. Pixel metrics on "
        "the union mask are not LOCO's sPRO."
    ),
    manual_steps=MVTEC_FORM.format(homepage=HOMEPAGE, what="mvtec_loco_anomaly_detection.tar.xz"),
    convert=convert,
    archive=Archive(
        url="https://www.mydrive.ch/shares/48237/1b9106ccdfbb09a0c414bd49fe44a14a/download/430647091-1646842701"
        "/mvtec_loco_anomaly_detection.tar.xz",
        filename="mvtec_loco_anomaly_detection.tar.xz",
        checksum="9e7c84dba550fd2e59d8e9e231c929c45ba737b6b6a6d3814100f54d63aae687",
        checksum_source="anomalib 2.7.0 anomalib/data/datasets/image/mvtec_loco.py DOWNLOAD_INFO.hashsum",
    ),
)
