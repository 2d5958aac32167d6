"""Miniature copies of MVTec LOCO AD, MVTec AD 2 and Real-IAD in their *official* source layouts,
generated locally (a few 32 px images per split, seeded), so that each dataset's protocol runs end to end
offline (``miniature: {seed: 0}`` in a dataset's config entry; ``config/protocols.yaml``). They are read
exactly as the real downloads are (the family's converter), so they test conversion and protocol, not
models: the defects are painted squares.

* ``mvtec_loco`` (breakfast_box): train/validation/test, ``ground_truth/<type>/<NNN>/000.png`` one PNG
  per defect with its pixel value, ``defects_config.json`` (one relative, one absolute saturation);
  ``logical_anomalies/001`` has two defects of different types.
* ``mvtec_ad_2`` (can): train, validation, test_public (with ``ground_truth/bad/<stem>_mask.png``),
  test_private and test_private_mixed (no ground truth).
* ``real_iad`` (audiojack): samples of 5 camera views (C1..C5) under ``realiad_256/audiojack`` and the
  JSON ``realiad_jsons/realiad_jsons/audiojack.json``; a defective sample shows its defect in 2 views.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 32
TYPES = ("mvtec_loco", "mvtec_ad_2", "real_iad")
LOCO_DEFECTS = [
    {"defect_name": "missing_item", "pixel_value": 255, "saturation_threshold": 1.0, "relative_saturation": True},
    {"defect_name": "extra_item", "pixel_value": 200, "saturation_threshold": 20, "relative_saturation": False},
    {"defect_name": "scratch", "pixel_value": 150, "saturation_threshold": 1.0, "relative_saturation": True},
]


def _image(rng: np.random.Generator) -> np.ndarray:
    base = np.full((SIZE, SIZE, 3), 120, dtype=np.int16)
    base[8:24, 8:24] = (60, 140, 200)  # the "object"
    return np.clip(base + rng.integers(-12, 13, base.shape), 0, 255).astype(np.uint8)


def _paint(image: np.ndarray, rng: np.random.Generator, color: tuple[int, int, int]) -> np.ndarray:
    """Paint a 5-9 px square; returns its mask (bool)."""
    size = int(rng.integers(5, 10))
    top, left = (int(value) for value in rng.integers(2, SIZE - size - 2, 2))
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    mask[top:top + size, left:left + size] = True
    image[mask] = color
    return mask


def _save(array: np.ndarray, path: Path, mode: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode=mode).save(path)


def source_for(spec: dict, kind: str, dataset_dir: Path, record: dict) -> Path:
    """The dataset's source folder for ``miniature:`` (preparation's fetch step): written afresh under
    ``<dataset_dir>/miniature`` and recorded in the dataset's marker."""
    record["miniature"] = dict(spec["miniature"])
    target = Path(dataset_dir) / "miniature"
    shutil.rmtree(target, ignore_errors=True)
    return write_source(kind, target, int(spec["miniature"].get("seed", 0)))


def write_source(kind: str, root: str | Path, seed: int = 0) -> Path:
    """Write the miniature source of dataset type ``kind`` into ``root``; returns ``root``."""
    writers = {"mvtec_loco": _loco, "mvtec_ad_2": _ad2, "real_iad": _real_iad}
    if kind not in writers:
        raise ValueError(f"no miniature of dataset type {kind!r}; there are: {', '.join(TYPES)}")
    root = Path(root)
    writers[kind](root, np.random.default_rng(seed))
    return root


def _loco(root: Path, rng: np.random.Generator) -> None:
    base = root / "breakfast_box"
    for split, count in (("train", 12), ("validation", 4), ("test", 4)):
        for index in range(count):
            _save(_image(rng), base / split / "good" / f"{index:03d}.png")
    defects = {"logical_anomalies": [[255], [255, 200], [200]], "structural_anomalies": [[150], [150], [150]]}
    for kind, images in defects.items():
        for index, values in enumerate(images):
            image = _image(rng)
            for number, value in enumerate(values):
                mask = _paint(image, rng, (250, 250, 40) if kind == "structural_anomalies" else (20, 20, 20))
                _save((mask * value).astype(np.uint8),
                      base / "ground_truth" / kind / f"{index:03d}" / f"{number:03d}.png", "L")
            _save(image, base / "test" / kind / f"{index:03d}.png")
    (base / "defects_config.json").write_text(json.dumps(LOCO_DEFECTS, indent=1) + "\n")


def _ad2(root: Path, rng: np.random.Generator) -> None:
    base = root / "can"
    for split, count in (("train", 12), ("validation", 4), ("test_public", 4)):
        for index in range(count):
            _save(_image(rng), base / split / "good" / f"{index:03d}_regular.png")
    for index in range(4):
        image = _image(rng)
        mask = _paint(image, rng, (250, 250, 40))
        _save(image, base / "test_public" / "bad" / f"{index:03d}_regular.png")
        _save((mask * 255).astype(np.uint8),
              base / "test_public" / "ground_truth" / "bad" / f"{index:03d}_regular_mask.png", "L")
    for split, suffix in (("test_private", "regular"), ("test_private_mixed", "mixed")):
        for index in range(3):
            image = _image(rng)
            if index:
                _paint(image, rng, (250, 250, 40))
            _save(image, base / split / f"{index:03d}_{suffix}.png")


def _real_iad(root: Path, rng: np.random.Generator) -> None:
    images_root = root / "realiad_256" / "audiojack"
    entries: dict[str, list[dict]] = {"train": [], "test": []}
    samples = [("train", "OK", index) for index in range(4)] + [("test", "OK", index) for index in range(4, 7)] \
        + [("test", "AK", index) for index in range(7, 10)]
    for split, anomaly, number in samples:
        folder = "OK" if anomaly == "OK" else f"NG/{anomaly}"
        for view in range(1, 6):
            image = _image(rng)
            defective = anomaly != "OK" and view <= 2
            name = f"{folder}/S{number:04d}/audiojack_{number:04d}_{'OK' if not defective else 'NG'}_C{view}.jpg"
            entry = {"category": "audiojack", "anomaly_class": anomaly if defective else "OK", "image_path": name,
                     "mask_path": None}
            if defective:
                mask = _paint(image, rng, (250, 250, 40))
                entry["mask_path"] = name.replace(".jpg", ".png")
                _save((mask * 255).astype(np.uint8), images_root / entry["mask_path"], "L")
            path = images_root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(path, quality=95)
            entries[split].append(entry)
    metadata = {"meta": {"prefix": "", "normal_class": "OK"}, **entries}
    json_file = root / "realiad_jsons" / "realiad_jsons" / "audiojack.json"
    json_file.parent.mkdir(parents=True, exist_ok=True)
    json_file.write_text(json.dumps(metadata, indent=1) + "\n")
