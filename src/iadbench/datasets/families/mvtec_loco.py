"""MVTec LOCO AD: each image's mask folder (one PNG per defect) merged into one mask named like the image,
and kept apart per defect for sPRO (:mod:`iadbench.metrics.spro`, read by :mod:`iadbench.datasets.protocol_files`)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from iadbench.datasets.families.base import CC_BY_NC_SA_4, MVTEC_FORM, Archive, DatasetFamily
from iadbench.datasets.families.layout import category_folder, files, place, save_binary_mask, subfolders

DEFECTS_CONFIG = "defects_config.json"
MASKS_FOLDER = "defect_masks"  # read by iadbench.datasets.protocol_files

HOMEPAGE = "https://www.mvtec.com/company/research/datasets/mvtec-loco"


def convert(source: Path, category: str, out: Path, spec: dict[str, Any]) -> None:
    """train/, validation/ and test/ linked; ground_truth/<type>/<NNN>/*.png merged into
    ground_truth/<type>/<NNN>.png and stacked, values kept, into defect_masks/<type>/<NNN>.npz;
    defects_config.json copied."""
    folder = category_folder(source, category)
    for split in ("train", "validation", "test"):
        for label_dir in subfolders(folder / split):
            for image in files(label_dir):
                place(image, out / split / label_dir.name / image.name)
                mask_folder = folder / "ground_truth" / label_dir.name / image.stem
                if split == "test" and label_dir.name != "good" and mask_folder.is_dir():
                    save_binary_mask(files(mask_folder), out / "ground_truth" / label_dir.name / image.name)
                    save_defect_masks(files(mask_folder), out / MASKS_FOLDER / label_dir.name / f"{image.stem}.npz")
    if (folder / DEFECTS_CONFIG).is_file():
        shutil.copyfile(folder / DEFECTS_CONFIG, out / DEFECTS_CONFIG)


def save_defect_masks(masks: list[Path], destination: Path) -> None:
    """An image's masks, one per defect in file order (000.png, 001.png, ...), as ``masks`` (K, H, W)
    uint8 with their own pixel values (which name each defect's entry in defects_config.json)."""
    stack = []
    for mask in masks:
        with Image.open(mask) as image:
            stack.append(np.asarray(image.convert("L") if image.mode not in ("L", "P", "1") else image,
                                    dtype=np.uint8))
    destination.parent.mkdir(parents=True, exist_ok=True)
    with open(destination, "wb") as handle:
        np.savez_compressed(handle, masks=np.stack(stack))


FAMILY = DatasetFamily(
    key="mvtec_loco",
    display_name="MVTec LOCO AD",
    categories=("breakfast_box", "juice_bottle", "pushpins", "screw_bag", "splicing_connectors"),
    homepage=HOMEPAGE,
    license=CC_BY_NC_SA_4,
    layout_note=(
        "train/good, validation/good and test/* kept; each image's mask folder "
        "ground_truth/<type>/<NNN>/*.png is merged (union, 0/255) into ground_truth/<type>/<NNN>.png for the "
        "plain pixel metrics and kept apart per defect (pixel values intact) in defect_masks/<type>/<NNN>.npz "
        "with defects_config.json for LOCO's sPRO. validation/good sets the operating point."
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
