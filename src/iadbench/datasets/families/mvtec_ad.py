"""MVTec AD: already the MVTec AD layout, so converting is linking its image files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iadbench.datasets.families.base import CC_BY_NC_SA_4, MVTEC_FORM, Archive, DatasetFamily
from iadbench.datasets.families.layout import category_folder, files, place, subfolders
from iadbench.datasets.validate import IMAGE_EXTENSIONS

HOMEPAGE = "https://www.mvtec.com/company/research/datasets/mvtec-ad"


def convert(source: Path, category: str, out: Path, spec: dict[str, Any]) -> None:
    """Link train/, test/ and ground_truth/ image files (also MPDD's converter: same layout)."""
    folder = category_folder(source, category)
    for split in ("train", "test", "ground_truth"):
        for label_dir in subfolders(folder / split):
            for image in files(label_dir, IMAGE_EXTENSIONS):
                place(image, out / split / label_dir.name / image.name)


FAMILY = DatasetFamily(
    key="mvtec_ad",
    display_name="MVTec AD",
    categories=(
        "bottle", "cable", "capsule", "carpet", "grid", "hazelnut", "leather", "metal_nut", "pill",
        "screw", "tile", "toothbrush", "transistor", "wood", "zipper",
    ),
    homepage=HOMEPAGE,
    license=CC_BY_NC_SA_4,
    layout_note="Already the MVTec AD layout; categories are hardlinked (copied across filesystems).",
    manual_steps=MVTEC_FORM.format(homepage=HOMEPAGE, what="mvtec_anomaly_detection.tar.xz (about 4.9 GB)"),
    convert=convert,
    archive=Archive(
        url="https://www.mydrive.ch/shares/150996/b52ecdcbf521176e9db9c731f2304b27/"
        "download/420938113-1629960298/mvtec_anomaly_detection.tar.xz",
        filename="mvtec_anomaly_detection.tar.xz",
        checksum="cf4313b13603bec67abb49ca959488f7eedce2a9f7795ec54446c649ac98cd3d",
        checksum_source="anomalib 2.7.0 anomalib/data/datamodules/image/mvtecad.py DOWNLOAD_INFO.hashsum",
    ),
)
