"""Region proposals for RKDE.

Two sources of regions, chosen with :class:`RegionProposals`:

``rcnn`` (the paper's, and anomalib 0.x/1.x's, behaviour)
    A torchvision Faster R-CNN (ResNet-50 FPN) proposes boxes, either from its final R-CNN head or
    straight from its region proposal network (:class:`RoiStage`). The boxes are post-processed as in
    anomalib: boxes smaller than ``min_size`` pixels in width or height are removed, a class-agnostic
    non-maximum suppression with ``iou_threshold`` is applied, and the ``max_detections_per_image``
    highest-scoring boxes are kept.

    **Grid fallback.** Whenever the detector leaves no box for an image (typical for a randomly
    initialised detector, whose proposals are meaningless, or for tiny images where every box is below
    ``min_size``), that image gets the deterministic grid regions of :func:`grid_boxes` instead, so every
    image always has at least one region and therefore a score.

``grid``
    No detector is built or run. Every image gets the same deterministic grid of regions
    (:func:`grid_boxes`). This is the sensible choice with random weights: a random detector only adds
    cost and noise.

All boxes are ``(x1, y1, x2, y2)`` in pixels of the model input (after the pre-processor).
"""

# Copyright (C) 2022-2024 Intel Corporation (region post-processing after anomalib 1.x's RKDE)
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations

import logging
from enum import Enum

import torch
from torch import nn
from torchvision.ops import boxes as box_ops

logger = logging.getLogger(__name__)


class RoiStage(str, Enum):
    """Processing stage of Faster R-CNN from which regions are taken (only for ``rcnn`` proposals)."""

    RCNN = "rcnn"
    RPN = "rpn"


class RegionProposals(str, Enum):
    """Where regions come from: the Faster R-CNN detector (with grid fallback) or a fixed grid only."""

    RCNN = "rcnn"
    GRID = "grid"


def grid_boxes(
    height: int,
    width: int,
    grid_size: int = 4,
    max_boxes: int | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Deterministic grid regions covering an image.

    Windows of ``height / grid_size`` by ``width / grid_size`` pixels are placed with a stride of half a
    window, which gives ``(2 * grid_size - 1) ** 2`` overlapping windows (49 for ``grid_size=4``; a single
    full-image box for ``grid_size=1``). The windows do not depend on the image content. If ``max_boxes``
    is smaller than that count, an evenly spaced subset of the windows (in row-major order) is kept.

    Args:
        height: Image height in pixels.
        width: Image width in pixels.
        grid_size: Number of windows per side of the non-overlapping tiling; must be ``>= 1``.
        max_boxes: Optional cap on the number of windows.
        device: Device of the returned tensor.

    Returns:
        Boxes of shape ``(M, 4)``, ``(x1, y1, x2, y2)``, float32.
    """
    if grid_size < 1:
        raise ValueError(f"grid_size must be >= 1, got {grid_size}")
    steps = 2 * grid_size - 1
    box_h, box_w = height / grid_size, width / grid_size
    ys = torch.arange(steps, dtype=torch.float32) * (box_h / 2)
    xs = torch.arange(steps, dtype=torch.float32) * (box_w / 2)
    y1, x1 = torch.meshgrid(ys, xs, indexing="ij")
    boxes = torch.stack([x1, y1, x1 + box_w, y1 + box_h], dim=-1).reshape(-1, 4)
    boxes[:, 2].clamp_(max=float(width))
    boxes[:, 3].clamp_(max=float(height))
    if max_boxes is not None and 0 < max_boxes < boxes.shape[0]:
        keep = torch.linspace(0, boxes.shape[0] - 1, max_boxes).round().long()
        boxes = boxes[keep]
    return boxes.to(device) if device is not None else boxes


def build_faster_rcnn(
    pre_trained: bool,
    stage: RoiStage,
    score_threshold: float,
    max_detections_per_image: int,
    detector_min_size: int,
    detector_max_size: int,
) -> nn.Module:
    """Torchvision's Faster R-CNN ResNet-50 FPN, configured as anomalib 1.x's RKDE did.

    With ``pre_trained=False`` both the detector and its backbone are randomly initialised
    (``weights=None, weights_backbone=None``): nothing is downloaded or read from a cache.
    """
    from torchvision.models.detection import FasterRCNN_ResNet50_FPN_Weights, fasterrcnn_resnet50_fpn

    rpn_top_n = max_detections_per_image if stage == RoiStage.RPN else 1000
    rpn_score_thresh = score_threshold if stage == RoiStage.RPN else 0.0
    return fasterrcnn_resnet50_fpn(
        weights=FasterRCNN_ResNet50_FPN_Weights.COCO_V1 if pre_trained else None,
        weights_backbone=None,  # the COCO weights include the backbone; random means random everywhere
        progress=False,
        min_size=detector_min_size,
        max_size=detector_max_size,
        rpn_post_nms_top_n_test=rpn_top_n,
        rpn_score_thresh=rpn_score_thresh,
        box_score_thresh=score_threshold,
        box_nms_thresh=1.0,  # disables per-class NMS: a class-agnostic NMS follows in post-processing
        box_detections_per_img=1000,  # disables top-k here: applied after our NMS
    )


class RegionExtractor(nn.Module):
    """Extracts regions (boxes) from a batch of images.

    Args:
        stage: Faster R-CNN stage for ``rcnn`` proposals. Defaults to ``RoiStage.RCNN``.
        score_threshold: Minimum detector confidence of a region. Defaults to ``0.001``.
        min_size: Minimum width and height, in input pixels, of a detector region. Does not apply to
            grid regions. Defaults to ``25``.
        iou_threshold: IoU threshold of the class-agnostic NMS. Defaults to ``0.3``.
        max_detections_per_image: Maximum number of regions per image (detector or grid).
            Defaults to ``100``.
        region_proposals: ``rcnn`` (detector, grid fallback per image without boxes) or ``grid``
            (no detector at all). Defaults to ``RegionProposals.RCNN``.
        grid_size: Grid of :func:`grid_boxes` for ``grid`` proposals and for the fallback. Defaults to ``4``.
        pre_trained: Use COCO weights for the detector (downloaded by torchvision). With ``False`` the
            detector is randomly initialised and nothing is downloaded. Defaults to ``True``.
        detector_min_size: Shorter side the detector resizes its input to (torchvision's ``min_size``).
            Defaults to ``800``.
        detector_max_size: Longest side cap of that resize (torchvision's ``max_size``). Defaults to ``1333``.
    """

    def __init__(
        self,
        stage: RoiStage | str = RoiStage.RCNN,
        score_threshold: float = 0.001,
        min_size: int = 25,
        iou_threshold: float = 0.3,
        max_detections_per_image: int = 100,
        region_proposals: RegionProposals | str = RegionProposals.RCNN,
        grid_size: int = 4,
        pre_trained: bool = True,
        detector_min_size: int = 800,
        detector_max_size: int = 1333,
    ) -> None:
        super().__init__()
        self.stage = RoiStage(stage)
        self.region_proposals = RegionProposals(region_proposals)
        self.min_size = min_size
        self.iou_threshold = iou_threshold
        self.max_detections_per_image = max_detections_per_image
        self.grid_size = grid_size
        if grid_size < 1:
            raise ValueError(f"grid_size must be >= 1, got {grid_size}")
        # Images of the last forward pass (and in total) that got grid regions because the detector left none.
        self.last_fallback_count = 0
        self.total_fallback_count = 0

        self.faster_rcnn: nn.Module | None = None
        if self.region_proposals == RegionProposals.RCNN:
            self.faster_rcnn = build_faster_rcnn(
                pre_trained=pre_trained,
                stage=self.stage,
                score_threshold=score_threshold,
                max_detections_per_image=max_detections_per_image,
                detector_min_size=detector_min_size,
                detector_max_size=detector_max_size,
            ).eval()

    def grid(self, height: int, width: int, device: torch.device | str | None = None) -> torch.Tensor:
        """The grid regions used for ``grid`` proposals and as the fallback."""
        return grid_boxes(height, width, self.grid_size, self.max_detections_per_image, device)

    @torch.no_grad()
    def detect(self, batch: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Raw detector regions and their confidences, per image, in input pixel coordinates."""
        if self.faster_rcnn is None:
            raise RuntimeError("no detector: region_proposals is 'grid'")
        self.faster_rcnn.eval()
        if self.stage == RoiStage.RCNN:
            predictions = self.faster_rcnn(list(batch))
            return [p["boxes"] for p in predictions], [p["scores"] for p in predictions]
        # RPN stage: proposals of the region proposal network, rescaled to the input size
        images, _ = self.faster_rcnn.transform(list(batch))
        features = self.faster_rcnn.backbone(images.tensors)
        proposals, _ = self.faster_rcnn.rpn(images, features)
        height, width = batch.shape[-2:]
        boxes = []
        for image_boxes, (resized_h, resized_w) in zip(proposals, images.image_sizes, strict=True):
            image_boxes = box_ops.clip_boxes_to_image(image_boxes, (resized_h, resized_w))
            scale = image_boxes.new_tensor([width / resized_w, height / resized_h] * 2)
            boxes.append(image_boxes * scale)
        return boxes, [torch.ones(b.shape[0], device=b.device) for b in boxes]

    def post_process_box_predictions(
        self, pred_boxes: list[torch.Tensor], pred_scores: list[torch.Tensor],
    ) -> list[torch.Tensor]:
        """Remove small boxes, apply class-agnostic NMS and keep the top-k boxes (as anomalib 1.x)."""
        processed = []
        for boxes, scores in zip(pred_boxes, pred_scores, strict=True):
            keep = box_ops.remove_small_boxes(boxes, min_size=self.min_size)
            boxes, scores = boxes[keep], scores[keep]
            keep = box_ops.nms(boxes, scores, self.iou_threshold)[: self.max_detections_per_image]
            processed.append(boxes[keep])
        return processed

    def with_fallback(self, regions: list[torch.Tensor], height: int, width: int) -> list[torch.Tensor]:
        """Replace every empty region set by the grid regions (see the module docstring)."""
        empty = [i for i, boxes in enumerate(regions) if boxes.shape[0] == 0]
        self.last_fallback_count = len(empty)
        self.total_fallback_count += len(empty)
        if empty:
            logger.debug("RKDE: %d image(s) without detector regions; using grid regions", len(empty))
        return [self.grid(height, width, boxes.device) if boxes.shape[0] == 0 else boxes for boxes in regions]

    @torch.no_grad()
    def forward(self, batch: torch.Tensor) -> list[torch.Tensor]:
        """Regions of every image of ``batch`` (``[B, C, H, W]``, values in ``[0, 1]``).

        Returns:
            A list of ``B`` float tensors of shape ``(M_i, 4)`` with ``M_i >= 1``, ``(x1, y1, x2, y2)``
            in input pixels.
        """
        height, width = batch.shape[-2:]
        if self.region_proposals == RegionProposals.GRID:
            self.last_fallback_count = 0
            grid = self.grid(height, width, batch.device)
            return [grid.clone() for _ in range(batch.shape[0])]
        boxes, scores = self.detect(batch)
        regions = self.post_process_box_predictions(boxes, scores)
        return self.with_fallback(regions, height, width)
