"""Region-level anomaly maps: each region's score painted into its box."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def box_pixel_bounds(box: Sequence[float], height: int, width: int) -> tuple[int, int, int, int]:
    """Pixel index bounds ``(row0, row1, col0, col1)`` (end exclusive) of the pixels a box touches.

    Pixel ``(r, c)`` covers ``[c, c + 1) x [r, r + 1)``; a box ``(x1, y1, x2, y2)`` paints columns
    ``floor(x1) .. ceil(x2) - 1`` and rows ``floor(y1) .. ceil(y2) - 1``, clipped to the image and at
    least one pixel wide and high when the box overlaps the image at all.
    """
    x1, y1, x2, y2 = (float(value) for value in box)
    col0 = min(max(math.floor(x1), 0), width)
    row0 = min(max(math.floor(y1), 0), height)
    col1 = min(max(math.ceil(x2), col0 + 1), width)
    row1 = min(max(math.ceil(y2), row0 + 1), height)
    return row0, row1, col0, col1


def paint_region_scores(
    boxes: list[torch.Tensor],
    scores: list[torch.Tensor],
    image_size: tuple[int, int],
    background: float = 0.0,
) -> torch.Tensor:
    """Anomaly maps from scored regions.

    Every pixel inside a box gets that box's score; where boxes overlap the maximum wins; pixels outside
    every box get ``background`` (``0``, the lowest anomaly probability of the KDE classifier).

    Args:
        boxes: ``B`` tensors ``(M_i, 4)``, ``(x1, y1, x2, y2)`` in pixels.
        scores: ``B`` tensors ``(M_i,)``.
        image_size: ``(H, W)`` of the maps.
        background: Value of pixels covered by no region.

    Returns:
        Maps ``[B, H, W]`` (float32, on the device of the scores).
    """
    height, width = image_size
    device = scores[0].device if scores else torch.device("cpu")
    maps = torch.full((len(boxes), height, width), -math.inf, device=device)
    for image_map, image_boxes, image_scores in zip(maps, boxes, scores, strict=True):
        for box, score in zip(image_boxes.tolist(), image_scores.tolist(), strict=True):
            row0, row1, col0, col1 = box_pixel_bounds(box, height, width)
            if row1 > row0 and col1 > col0:  # boxes entirely outside the image paint nothing
                image_map[row0:row1, col0:col1].clamp_(min=score)
    maps[torch.isneginf(maps)] = background
    return maps
