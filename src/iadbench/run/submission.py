"""MVTec AD 2's private test sets exported for the authors' evaluation server (docs/protocols.md).

The training job scores ``test_private`` and ``test_private_mixed`` (no public ground truth, read from the
source dataset) with the fitted model and writes, under ``<job>/mvtec_ad_2_submission``, each image's map at
the image's own size as a float16 TIFF (``anomaly_images/<category>/<split>/<stem>.tiff``) and binarised at
the SegF1 threshold (mean + 3 std of the validation maps' pixel scores) as a 0/255 PNG
(``anomaly_images_thresholded/<category>/<split>/<stem>.png``): the server's layout
(:func:`iadbench.datasets.protocol_files.submission_paths`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from iadbench.core.files import atomic_write
from iadbench.datasets.protocol_files import (
    PRIVATE_SPLITS,
    SUBMISSION_FOLDER,
    private_images,
    submission_paths,
)
from iadbench.metrics.maps import resize_maps_to
from iadbench.metrics.protocols import validation_threshold
from iadbench.run.calibration import score_images


def native_maps(maps, image_paths) -> list[np.ndarray]:
    """Maps resized to their images' own size (as the test maps are for native evaluation)."""
    out = []
    for one_map, path in zip(maps, image_paths, strict=True):
        with Image.open(str(path)) as image:
            out.append(resize_maps_to(one_map, image.size[::-1]))
    return out


def write_submission(out_dir: str | Path, category: str, split: str, image_paths, maps, threshold: float) -> list[Path]:
    """Write one private split's maps in the server's layout (float16 TIFF, 0/255 PNG), each resized to its
    image's size; returns the files written."""
    import tifffile  # only the training child of an MVTec AD 2 job writes TIFFs

    if split not in PRIVATE_SPLITS:
        raise ValueError(f"split must be one of {PRIVATE_SPLITS}, got {split!r}")
    if not np.isfinite(threshold):
        raise ValueError("the submission's binarisation needs a finite threshold (validation maps missing?)")
    written = []
    for image_path, native in zip(image_paths, native_maps(maps, image_paths), strict=True):
        tiff, png = submission_paths(out_dir, category, split, image_path)
        atomic_write(tiff, lambda temporary, native=native: tifffile.imwrite(temporary, native.astype(np.float16)))
        binary = Image.fromarray(((native >= threshold) * 255).astype(np.uint8), mode="L")
        atomic_write(png, lambda temporary, binary=binary: binary.save(temporary, format="PNG"))
        written += [tiff, png]
    return written


def export_submission(engine: Any, model: Any, datamodule: Any, source_category_dir: Path, category: str,
                      out_dir: Path, predictions: dict[str, np.ndarray], batch_size: int) -> int:
    """Score the source's private test sets with the fitted model and write them in the server's layout
    under ``out_dir/mvtec_ad_2_submission``, binarised at the validation threshold; returns the number of
    images exported (0 when the source has no private sets or there are no validation maps)."""
    calibration = predictions.get("calibration_maps", np.zeros(0))
    splits = {split: private_images(source_category_dir, split) for split in PRIVATE_SPLITS}
    if not calibration.size or not any(splits.values()):
        return 0
    threshold = validation_threshold(native_maps(calibration, predictions["calibration_paths"]))
    exported = 0
    for split, paths in splits.items():
        if paths:
            scored = score_images(engine, model, datamodule, paths, batch_size)
            write_submission(out_dir / SUBMISSION_FOLDER, category, split, paths, scored["maps"], threshold)
            exported += len(paths)
    return exported
