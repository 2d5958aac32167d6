"""Real-IAD: converted from its JSON metadata; no direct link (access needs the authors' approval)."""

from __future__ import annotations

import json
import logging
from pathlib import Path, PurePosixPath
from typing import Any

from iadbench.datasets.families.base import CC_BY_NC_SA_4, DatasetFamily, DatasetUnavailableError
from iadbench.datasets.families.layout import inside, place, save_binary_mask

logger = logging.getLogger(__name__)

DEFAULT_RESOLUTION = 256
DEFAULT_JSON = "realiad_jsons/realiad_jsons/{category}.json"
# Image file name -> its sample (the JSON's folder of the image, shared by the sample's camera views): the
# sample AUROC groups test views by it; the operating point holds out whole training samples.
SAMPLES_FILE = "samples.json"


def convert(source: Path, category: str, out: Path, spec: dict[str, Any]) -> None:
    """Train OK -> train/good, test OK -> test/good, others -> test/<class>; see ``layout_note``."""
    json_file = inside(source, str(spec.get("json_path", DEFAULT_JSON)).format(category=category))
    images_root = source / f"realiad_{spec.get('resolution', DEFAULT_RESOLUTION)}" / category
    if not images_root.is_dir():
        raise DatasetUnavailableError(f"Real-IAD images {images_root} missing (check `resolution:`)")
    metadata = json.loads(json_file.read_text(encoding="utf-8"))
    skipped = 0
    sample_of: dict[str, str] = {}
    for split in ("train", "test"):
        for sample in metadata.get(split, []):
            image = inside(images_root, sample["image_path"])
            # Flattened path keeps names unique across samples and camera views.
            name = PurePosixPath(sample["image_path"]).with_suffix("").as_posix().replace("/", "__")
            if sample["anomaly_class"] == "OK":
                place(image, out / split / "good" / f"{name}{image.suffix}")
            elif split == "train":
                skipped += 1  # one-class training: a defective training sample is not used
            else:
                label = sample["anomaly_class"]
                place(image, out / "test" / label / f"{name}{image.suffix}")
                if sample.get("mask_path"):
                    mask = inside(images_root, sample["mask_path"])
                    save_binary_mask([mask], out / "ground_truth" / label / f"{name}.png")
            # A sample's views share the JSON's folder (OK/S0009, NG/AK/S0100).
            sample_of[f"{name}{image.suffix}"] = PurePosixPath(sample["image_path"]).parent.as_posix()
    (out / SAMPLES_FILE).write_text(json.dumps(sample_of, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    if skipped:
        logger.warning("Real-IAD %s: %d defective training samples left out of train/good", category, skipped)


FAMILY = DatasetFamily(
    key="real_iad",
    display_name="Real-IAD",
    categories=(
        "audiojack", "bottle_cap", "button_battery", "end_cap", "eraser", "fire_hood", "mint", "mounts",
        "pcb", "phone_battery", "plastic_nut", "plastic_plug", "porcelain_doll", "regulator",
        "rolled_strip_base", "sim_card_set", "switch", "tape", "terminalblock", "toothbrush", "toy_brick",
        "toy", "transistor1", "u_block", "usb_adaptor", "usb", "vcpill", "wooden_beads", "woodstick",
        "zipper",
    ),
    homepage="https://huggingface.co/datasets/REAL-IAD/Real-IAD",
    license=CC_BY_NC_SA_4,
    layout_note=(
        "Converted from the JSON metadata (`json_path:`, default "
        "realiad_jsons/realiad_jsons/{category}.json, as anomalib) at `resolution:` (default 256, as "
        "anomalib): OK train samples -> train/good, OK test samples -> test/good, others -> "
        "test/<anomaly_class> with 0/255 masks in ground_truth/<anomaly_class>/<name>.png. Names flatten "
        "the sample path (S0001/OK/... -> S0001__OK__...); images stay JPEG. samples.json maps each image "
        "to its sample (the JSON's folder of the image): the sample-level AUROC and the operating point's "
        "hold-out use it."
    ),
    # anomalib 2.7.0 (datamodules/image/realiad.py) likewise only prints instructions.
    manual_steps=(
        "Real-IAD needs the authors' approval:\n"
        "  1. Request access at https://huggingface.co/datasets/REAL-IAD/Real-IAD and wait for approval.\n"
        "  2. Download it, e.g. `huggingface-cli download --repo-type dataset REAL-IAD/Real-IAD "
        "--local-dir <folder>` (after `huggingface-cli login`), and extract the per-category archives so "
        "that <folder>/realiad_jsons/ and <folder>/realiad_256/<category>/ (or another resolution) exist.\n"
        "  3. Either set `path:` in this dataset's config entry to <folder>, or move it to {expected}."
    ),
    convert=convert,
    root_markers=("realiad_jsons",),
    reads_jpeg=True,
)
