"""BTech (BTAD): converted as anomalib's ``BTech.prepare_data`` does (.bmp -> .png, ok -> good)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from iadbench.datasets.families.base import CC_BY_NC_SA_4, Archive, DatasetFamily
from iadbench.datasets.families.layout import category_folder, files, place

# (split, label) in BTech -> (split, label) in the MVTec AD layout.
FOLDERS = {
    ("train", "ok"): ("train", "good"),
    ("test", "ok"): ("test", "good"),
    ("test", "ko"): ("test", "ko"),
    ("ground_truth", "ko"): ("ground_truth", "ko"),
}


def convert(source: Path, category: str, out: Path, spec: dict[str, Any]) -> None:
    """.bmp become .png; ok -> good; masks keep the image's name."""
    folder = category_folder(source, category)
    for (split, label), (new_split, new_label) in FOLDERS.items():
        for image in files(folder / split / label, (".bmp", ".png", ".PNG")):
            destination = out / new_split / new_label / f"{image.stem}.png"
            if image.suffix == ".bmp":
                destination.parent.mkdir(parents=True, exist_ok=True)
                with Image.open(image) as bitmap:
                    bitmap.save(destination)
            else:
                place(image, destination)


FAMILY = DatasetFamily(
    key="btech",
    display_name="BTech (BTAD)",
    categories=("01", "02", "03"),
    homepage="https://avires.dimi.uniud.it/papers/btad/btad.zip",
    license=CC_BY_NC_SA_4,
    layout_note=(
        "Converted like anomalib's BTech.prepare_data: .bmp converted to .png; ok -> good, ko kept as the "
        "defect name; masks keep the image's name (ground_truth/ko/<image stem>.png)."
    ),
    manual_steps=(
        "Download btad.zip from https://avires.dimi.uniud.it/papers/btad/btad.zip, then set `path:` to the "
        "zip (or the BTech_Dataset_transformed folder it extracts to), or extract it into {expected}."
    ),
    convert=convert,
    archive=Archive(
        url="https://avires.dimi.uniud.it/papers/btad/btad.zip",
        filename="btad.zip",
        checksum="461c9387e515bfed41ecaae07c50cf6b10def647b36c9e31d239ab2736b10d2a",
        checksum_source="anomalib 2.7.0 anomalib/data/datamodules/image/btech.py DOWNLOAD_INFO.hashsum",
    ),
)
