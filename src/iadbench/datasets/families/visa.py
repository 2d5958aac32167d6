"""VisA: ``split_csv/1cls.csv`` applied one category at a time, as anomalib's ``Visa.apply_cls1_split``."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from iadbench.datasets.families.base import CC_BY_NC_SA_4, Archive, DatasetFamily, DatasetUnavailableError
from iadbench.datasets.families.layout import inside, place, save_binary_mask

SPLITS = frozenset({"train", "test"})
LABELS = {"normal": "good", "anomaly": "bad"}


def convert(source: Path, category: str, out: Path, spec: dict[str, Any]) -> None:
    """The category's rows of split_csv/1cls.csv: images linked, masks binarised to 0/255."""
    split_file = source / "split_csv" / "1cls.csv"
    rows = 0
    with split_file.open(encoding="utf-8", newline="") as file:
        reader = csv.reader(file)
        next(reader)  # header: object,split,label,image,mask
        for row in reader:
            if not row:
                continue
            object_name, split, label, image_path, mask_path = row
            if object_name != category:
                continue
            if split not in SPLITS or label not in LABELS:
                raise ValueError(f"{split_file}: unexpected split/label {split!r}/{label!r} in row {row}")
            new_label = LABELS[label]
            image = inside(source, image_path)
            place(image, out / split / new_label / image.name)
            if split == "test" and new_label == "bad":
                if not mask_path:
                    raise ValueError(f"{split_file}: anomalous test image {image_path} has no mask")
                mask = inside(source, mask_path)
                # anomalib writes mask[mask != 0] = 255 (VisA masks hold small labels, not 255).
                save_binary_mask([mask], out / "ground_truth" / new_label / f"{mask.stem}.png")
            rows += 1
    if not rows:
        raise DatasetUnavailableError(f"{split_file} lists no image of category {category!r}")


FAMILY = DatasetFamily(
    key="visa",
    display_name="VisA",
    categories=(
        "candle", "capsules", "cashew", "chewinggum", "fryum", "macaroni1", "macaroni2", "pcb1", "pcb2",
        "pcb3", "pcb4", "pipe_fryum",
    ),
    homepage="https://github.com/amazon-science/spot-diff",
    license=CC_BY_NC_SA_4,
    layout_note=(
        "split_csv/1cls.csv applied as anomalib's Visa.apply_cls1_split does (train/good, test/good, "
        "test/bad, ground_truth/bad with masks binarised to 0/255), one category at a time, by iadbench's "
        "own code so it can hardlink and write atomically. Images stay JPEG (.JPG), read with anomalib's "
        "VisA extensions."
    ),
    manual_steps=(
        "Download VisA_20220922.tar from https://amazon-visual-anomaly.s3.us-west-2.amazonaws.com/"
        "VisA_20220922.tar (see https://github.com/amazon-science/spot-diff), then set `path:` to the tar "
        "(or the folder holding split_csv/ and the category folders), or extract it into {expected}."
    ),
    convert=convert,
    archive=Archive(
        url="https://amazon-visual-anomaly.s3.us-west-2.amazonaws.com/VisA_20220922.tar",
        filename="VisA_20220922.tar",
        checksum="2eb8690c803ab37de0324772964100169ec8ba1fa3f7e94291c9ca673f40f362",
        checksum_source="anomalib 2.7.0 anomalib/data/datamodules/image/visa.py DOWNLOAD_INFO.hashsum",
    ),
    root_markers=("split_csv/1cls.csv",),
    reads_jpeg=True,
)
