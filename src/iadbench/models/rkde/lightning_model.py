"""RKDE: Region Based Anomaly Detection With Real-Time Training and Analysis.

Adey et al., ICMLA 2019, https://ieeexplore.ieee.org/abstract/document/8999287. anomalib 0.x/1.x had
this model; anomalib 2.x dropped it. This is a port to anomalib 2.7's model API, with two additions for
the benchmark: a ``pre_trained`` switch (random weights, no downloads) and grid region proposals (an
explicit ``region_proposals="grid"`` mode, and a per-image grid fallback when the detector finds nothing).

Example:
    >>> from anomalib.post_processing import PostProcessor
    >>> from iadbench.models.rkde import Rkde
    >>> model = Rkde(
    ...     pre_trained=False,
    ...     region_proposals="grid",
    ...     pre_processor=Rkde.configure_pre_processor(image_size=(64, 64)),
    ...     post_processor=PostProcessor(enable_normalization=False),
    ...     evaluator=False,
    ...     visualizer=False,
    ... )

RKDE is a detection model: the anomaly map is region-level (each region's score painted into its box),
the image score is the maximum region score.
"""

# Copyright (C) 2022-2024 Intel Corporation (after anomalib 1.x's RKDE)
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch
from anomalib import LearningType
from anomalib.data import Batch
from anomalib.metrics import Evaluator
from anomalib.models.components import AnomalibModule, MemoryBankMixin
from anomalib.models.components.classification import FeatureScalingMethod
from anomalib.post_processing import PostProcessor
from anomalib.pre_processing import PreProcessor
from anomalib.visualization import Visualizer
from lightning.pytorch.utilities.types import STEP_OUTPUT
from torchvision.transforms.v2 import Compose, Resize

from .region_extractor import RegionProposals, RoiStage
from .torch_model import RkdeModel

logger = logging.getLogger(__name__)


class Rkde(MemoryBankMixin, AnomalibModule):
    """Region Based Anomaly Detection With Real-Time Training and Analysis.

    Region proposals (Faster R-CNN, or a grid) are described by 4096-d features of an AlexNet-like
    network with RoIAlign; a Gaussian KDE (after PCA and feature scaling) fitted on the training regions
    gives each test region an anomaly probability. Training is one pass over the training set collecting
    region features; the KDE is fitted at the end of the epoch.

    Args:
        roi_stage: Faster R-CNN stage regions are taken from, ``rcnn`` (detections) or ``rpn``
            (raw proposals). Defaults to ``RoiStage.RCNN``.
        roi_score_threshold: Minimum detector confidence of a region. Defaults to ``0.001``.
        min_box_size: Minimum width and height, in pixels of the model input, of a detector region
            (not applied to grid regions). Defaults to ``25``.
        iou_threshold: IoU threshold of the class-agnostic NMS of detector regions. Defaults to ``0.3``.
        max_detections_per_image: Maximum number of regions per image. Defaults to ``100``.
        n_pca_components: Number of PCA components before the KDE. Defaults to ``16``.
        feature_scaling_method: ``scale`` (by the largest training norm) or ``norm`` (unit length).
            Defaults to ``FeatureScalingMethod.SCALE``.
        max_training_points: Maximum number of training regions the KDE is fitted on (random subset).
            Defaults to ``40000``.
        pre_trained: ``True``: COCO weights for Faster R-CNN (torchvision) and anomalib's published RKDE
            feature-extractor weights, downloaded on first use. ``False``: both networks are randomly
            initialised (``weights=None, weights_backbone=None``) and nothing is downloaded.
            Defaults to ``True``.
        region_proposals: ``rcnn``: regions from Faster R-CNN as in the paper; an image for which the
            detector leaves no region (after the size filter, NMS and score threshold) gets the grid regions
            instead, so every image gets a score. ``grid``: no detector is built; every image gets the same
            deterministic grid of regions (recommended with ``pre_trained=False``, where a random detector's
            proposals are meaningless). Defaults to ``RegionProposals.RCNN``.
        grid_size: Grid of the ``grid`` proposals and of the fallback: ``(2 * grid_size - 1) ** 2``
            windows of ``1 / grid_size`` of the image height and width with half-window stride
            (49 for the default ``4``). Defaults to ``4``.
        detector_min_size: Shorter side Faster R-CNN resizes its input to. Defaults to ``800``
            (torchvision's default, as in anomalib 1.x).
        detector_max_size: Cap of Faster R-CNN's longer side. Defaults to ``1333``.
        pre_processor: Pre-processor, or a flag for the default (:meth:`configure_pre_processor`).
            Defaults to ``True``.
        post_processor: Post-processor, or a flag for the default. Defaults to ``True``.
        evaluator: Evaluator, or a flag for the default. Defaults to ``True``.
        visualizer: Visualizer, or a flag for the default. Defaults to ``True``.
    """

    @classmethod
    def checkpoint_safe_globals(cls) -> Sequence[Any]:
        """Allowlist the enums in the hyperparameters for ``weights_only`` checkpoint loads."""
        return (FeatureScalingMethod, RoiStage, RegionProposals)

    def __init__(
        self,
        roi_stage: RoiStage | str = RoiStage.RCNN,
        roi_score_threshold: float = 0.001,
        min_box_size: int = 25,
        iou_threshold: float = 0.3,
        max_detections_per_image: int = 100,
        n_pca_components: int = 16,
        feature_scaling_method: FeatureScalingMethod | str = FeatureScalingMethod.SCALE,
        max_training_points: int = 40000,
        pre_trained: bool = True,
        region_proposals: RegionProposals | str = RegionProposals.RCNN,
        grid_size: int = 4,
        detector_min_size: int = 800,
        detector_max_size: int = 1333,
        pre_processor: PreProcessor | bool = True,
        post_processor: PostProcessor | bool = True,
        evaluator: Evaluator | bool = True,
        visualizer: Visualizer | bool = True,
    ) -> None:
        super().__init__(
            pre_processor=pre_processor,
            post_processor=post_processor,
            evaluator=evaluator,
            visualizer=visualizer,
        )

        self.model: RkdeModel = RkdeModel(
            roi_stage=roi_stage,
            roi_score_threshold=roi_score_threshold,
            min_box_size=min_box_size,
            iou_threshold=iou_threshold,
            max_detections_per_image=max_detections_per_image,
            n_pca_components=n_pca_components,
            feature_scaling_method=feature_scaling_method,
            max_training_points=max_training_points,
            pre_trained=pre_trained,
            region_proposals=region_proposals,
            grid_size=grid_size,
            detector_min_size=detector_min_size,
            detector_max_size=detector_max_size,
        )

    @staticmethod
    def configure_pre_processor(image_size: tuple[int, int] | None = None) -> PreProcessor:
        """Resize only (default ``(240, 360)``, as anomalib 1.x's RKDE).

        No normalisation: Faster R-CNN and the feature extractor each normalise their input themselves.
        """
        image_size = image_size or (240, 360)
        return PreProcessor(transform=Compose([Resize(image_size, antialias=True)]))

    @staticmethod
    def configure_optimizers() -> None:  # pylint: disable=arguments-differ
        """RKDE doesn't require optimization, therefore returns no optimizers."""
        return

    def training_step(self, batch: Batch, *args, **kwargs) -> torch.Tensor:
        """Collect the region features of a training batch in the memory bank.

        Returns:
            A dummy loss tensor for Lightning.
        """
        del args, kwargs  # These variables are not used.
        _ = self.model(batch.image)
        return torch.tensor(0.0, requires_grad=True, device=self.device)

    def fit(self) -> None:
        """Fit the KDE classifier on the region features collected from the training set."""
        logger.info("Fitting a KDE model to the region features collected from the training set.")
        self.model.fit()

    def validation_step(self, batch: Batch, *args, **kwargs) -> STEP_OUTPUT:
        """Score the regions of a validation batch: ``pred_score`` and region-level ``anomaly_map``."""
        del args, kwargs  # These variables are not used.
        predictions = self.model(batch.image)
        return batch.update(**predictions._asdict())

    @property
    def trainer_arguments(self) -> dict[str, Any]:
        """One epoch, no gradient clipping, no sanity validation, one device."""
        return {"gradient_clip_val": 0, "max_epochs": 1, "num_sanity_val_steps": 0, "devices": 1}

    @property
    def learning_type(self) -> LearningType:
        """RKDE learns from normal images only (one-class)."""
        return LearningType.ONE_CLASS
