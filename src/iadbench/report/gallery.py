"""Anomaly-map gallery: a few test images of one job with the ground-truth contour and the map overlaid.

Rendered once per job from its saved predictions (at the images' native resolution), so the
report only embeds finished PNGs and can be rebuilt from the Parquet file in seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # not pyplot: no global figure state, a lighter import per gallery job
from PIL import Image

from iadbench.core.files import atomic_write, read_json
from iadbench.metrics.maps import resize_maps_to
from iadbench.run.predictions import load_predictions


def pick_examples(image_paths: np.ndarray, labels: np.ndarray, per_defect: int = 1, max_total: int = 4) -> list[int]:
    """The first image of each defect type (folder name), then one defect-free image."""
    chosen, seen = [], {}
    for index, (path, label) in enumerate(zip(image_paths, labels, strict=True)):
        defect = Path(str(path)).parent.name
        if label and seen.get(defect, 0) < per_defect:
            seen[defect] = seen.get(defect, 0) + 1
            chosen.append(index)
    good = [index for index, label in enumerate(labels) if not label]
    return (chosen[: max_total - 1] + good[:1])[:max_total]


def render_gallery(predictions_path: str | Path, train_info_path: str | Path, png_path: str | Path,
                   title: str) -> None:
    """Write one strip: each example's image, GT contour (red) and anomaly map (overlay) side by side."""
    info = read_json(train_info_path)
    predictions = load_predictions(predictions_path) if info.get("status") == "ok" else {}
    examples = pick_examples(predictions["image_paths"], predictions["labels"]) if predictions else []
    # Video frames read from a video file ("<video>.avi#<frame>": Avenue, ShanghaiTech) have no image file.
    examples = [index for index in examples if Path(str(predictions["image_paths"][index])).is_file()]
    maps = predictions.get("maps", np.zeros(0))
    # One colour scale per job: the range of its maps over the whole test set.
    low, high = (float(maps.min()), float(maps.max())) if maps.size else (0.0, 1.0)
    figure = Figure(figsize=(2.4 * max(len(examples), 1), 2.7))
    axes = figure.subplots(1, max(len(examples), 1), squeeze=False)
    if not examples:
        axes[0, 0].text(0.5, 0.5, f"no predictions ({info.get('status', 'unknown')})", ha="center", va="center")
    for axis, index in zip(axes[0], examples, strict=False):
        image = np.asarray(Image.open(predictions["image_paths"][index]).convert("RGB"))
        axis.imshow(image)
        if maps.size:
            anomaly_map = resize_maps_to(maps[index][None], image.shape[:2])[0]
            axis.imshow((anomaly_map - low) / (high - low or 1.0), cmap="jet", alpha=0.45, vmin=0, vmax=1)
        mask_path = str(predictions["mask_paths"][index])
        if mask_path:
            mask = np.asarray(Image.open(mask_path).convert("L")) > 0
            axis.contour(mask, levels=[0.5], colors="red", linewidths=1.2)
        defect = Path(str(predictions["image_paths"][index])).parent.name
        axis.set_title(f"{defect}\nscore {predictions['scores'][index]:.3g}", fontsize=8)
        axis.axis("off")
    for axis in axes[0][len(examples):]:
        axis.axis("off")
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    atomic_write(png_path, lambda temporary: figure.savefig(temporary, format="png", dpi=70))
