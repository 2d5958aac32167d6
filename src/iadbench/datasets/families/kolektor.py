"""KolektorSDD: one category, split into good/defect by anomalib's own ``make_kolektor_dataset``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iadbench.datasets.families.base import CC_BY_NC_SA_4, Archive, DatasetFamily
from iadbench.datasets.families.layout import place, save_binary_mask


def convert(source: Path, category: str, out: Path, spec: dict[str, Any]) -> None:
    """anomalib's split (good/bad from the masks, 80/20 good split, random_state=42)."""
    from anomalib.data.datasets.image.kolektor import make_kolektor_dataset

    samples = make_kolektor_dataset(source, train_split_ratio=0.8)
    for sample in samples.itertuples():
        image = Path(sample.image_path)
        name = f"{sample.item}_{image.stem}"
        if sample.label_index == 0:
            place(image, out / sample.split / "good" / f"{name}{image.suffix}")
        else:
            place(image, out / "test" / "defect" / f"{name}{image.suffix}")
            save_binary_mask([Path(sample.mask_path)], out / "ground_truth" / "defect" / f"{name}.png")


FAMILY = DatasetFamily(
    key="kolektor",
    display_name="KolektorSDD",
    categories=("kolektor",),
    homepage="https://www.vicos.si/resources/kolektorsdd/",
    license=CC_BY_NC_SA_4,
    layout_note=(
        "Converted to the MVTec AD layout with anomalib's own split (make_kolektor_dataset: images with an "
        "all-zero mask are good, 80/20 train/test split of good images with random_state=42, all defective "
        "images in test). Images keep their JPEG bytes (kosNN_PartM.jpg); label .bmp masks become "
        "ground_truth/defect/kosNN_PartM.png (0/255)."
    ),
    manual_steps=(
        "Download KolektorSDD.zip from https://www.vicos.si/resources/kolektorsdd/, then set `path:` to "
        "the zip (or the folder holding kos01..kos50), or extract it into {expected}."
    ),
    convert=convert,
    archive=Archive(
        url="https://go.vicos.si/kolektorsdd",
        filename="KolektorSDD.zip",
        checksum="65dc621693418585de9c4467d1340ea7958a6181816f0dc2883a1e8b61f9d4dc",
        checksum_source="anomalib 2.7.0 anomalib/data/datamodules/image/kolektor.py DOWNLOAD_INFO.hashsum",
    ),
    root_markers=("kos01",),
    reads_jpeg=True,
)
