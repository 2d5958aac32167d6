"""What an evaluation job asks the scheduler for. Apart from iadbench.run.evaluate (scipy, the metrics): the
Snakefile imports it at every parse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# Peak memory of a native-resolution evaluation per evaluated pixel (maps upsampled to float32, masks,
# sort keys and the sweep's arrays), measured ~13 B; the base covers the interpreter and libraries.
BYTES_PER_PIXEL = 16
BASE_MEM_MB = 1500


def evaluation_mem_mb(predictions_path: str | Path, resolution: str, attempt: int = 1) -> int:
    """RAM to ask for to evaluate a job: grows with the category's pixel count and with each retry.

    Reads only image headers; before the predictions exist (planning) it answers the base amount.
    """
    try:
        with np.load(predictions_path, allow_pickle=False) as data:
            paths = data["image_paths"] if "image_paths" in data.files else []
            model_maps = data["maps"].size if resolution == "model" and "maps" in data.files else 0
    except (OSError, ValueError):
        return BASE_MEM_MB * attempt
    pixels = model_maps
    if not model_maps:
        for path in paths:
            try:
                with Image.open(path) as image:
                    pixels += image.size[0] * image.size[1]
            except OSError:
                continue
    return int((BASE_MEM_MB + BYTES_PER_PIXEL * pixels / 2**20) * attempt)
