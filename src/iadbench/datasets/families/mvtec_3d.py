"""MVTec 3D-AD: RGB images and their masks; depth (xyz) and validation/ are not used by 2D models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iadbench.datasets.families.base import CC_BY_NC_SA_4, MVTEC_FORM, Archive, DatasetFamily
from iadbench.datasets.families.layout import category_folder, files, place, subfolders

HOMEPAGE = "https://www.mvtec.com/company/research/datasets/mvtec-3d-ad"


def convert(source: Path, category: str, out: Path, spec: dict[str, Any]) -> None:
    """<split>/<label>/rgb/*.png -> <split>/<label>/; test/<defect>/gt/*.png -> ground_truth/<defect>/."""
    folder = category_folder(source, category)
    for split in ("train", "test"):
        for label_dir in subfolders(folder / split):
            for image in files(label_dir / "rgb"):
                place(image, out / split / label_dir.name / image.name)
            if split == "test" and label_dir.name != "good":
                # test/good/gt holds all-zero masks; MVTec AD has none for good images, so they are left out.
                for mask in files(label_dir / "gt"):
                    place(mask, out / "ground_truth" / label_dir.name / mask.name)


FAMILY = DatasetFamily(
    key="mvtec_3d",
    display_name="MVTec 3D-AD",
    categories=(
        "bagel", "cable_gland", "carrot", "cookie", "dowel", "foam", "peach", "potato", "rope", "tire",
    ),
    homepage=HOMEPAGE,
    license=CC_BY_NC_SA_4,
    layout_note=(
        "RGB only: <split>/<label>/rgb/*.png become <split>/<label>/*.png and test/<defect>/gt/*.png become "
        "ground_truth/<defect>/*.png (same names). Depth (xyz/*.tiff) is not used by the 2D models; "
        "validation/ is not used (models train on train/good)."
    ),
    manual_steps=MVTEC_FORM.format(homepage=HOMEPAGE, what="mvtec_3d_anomaly_detection.tar.xz"),
    convert=convert,
    archive=Archive(
        url="https://www.mydrive.ch/shares/150646/25de33f1276dd418cd856f2f48a84cdb/download/428824485-1643299897"
        "/mvtec_3d_anomaly_detection.tar.xz",
        filename="mvtec_3d_anomaly_detection.tar.xz",
        # 32 hex digits: an MD5 digest. anomalib checks every hashsum as SHA-256
        # (download_and_extract -> check_hash's default), so its own check of this archive can never pass.
        checksum="d8bb2800fbf3ac88e798da6ae10dc819",
        checksum_source="anomalib 2.7.0 anomalib/data/datamodules/depth/mvtec_3d.py DOWNLOAD_INFO.hashsum "
        "(md5 by its length; anomalib verifies it as sha256)",
    ),
)
