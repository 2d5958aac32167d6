"""PyTorch model of RKDE: region proposals, region features, kernel density estimation.

Pipeline for a batch of images (values in ``[0, 1]``, no normalisation: the detector and the feature
extractor normalise internally):

1. :class:`~.region_extractor.RegionExtractor` proposes regions per image (Faster R-CNN, or a fixed
   grid; images without detector regions fall back to the grid, so every image has >= 1 region);
2. :class:`~.feature_extractor.FeatureExtractor` describes every region by a 4096-d feature;
3. training: the features are kept in a memory bank; :meth:`RkdeModel.fit` fits anomalib's
   :class:`~anomalib.models.components.classification.KDEClassifier` (PCA, feature scaling, Gaussian
   KDE on at most ``max_training_points`` randomly chosen region features; its PCA is swapped for
   :class:`GramPCA`, same components without anomalib's N x N SVD matrix);
4. inference: each region gets an anomaly score from :class:`LogSpaceKDEClassifier`; the image score is
   the maximum over its regions and the anomaly map paints each region's score into its box (maximum
   where boxes overlap, ``0`` outside every box).

Scores: anomalib's KDEClassifier turns the log-density ``l`` into ``p = 1 / (1 + exp(0.05 (l - 12)))``
after computing the density in float32 plus ``1e-300`` (which is ``0`` in float32). Every region
whose density underflows gets ``l = -inf`` and ``p = 1.0`` exactly, and ``p`` rounds to ``1.0`` in
float32 from ``l`` below about -320: far-out regions tie, and tied scores distort AUROC, AP and
PRO. Here ``l`` is computed in log space (log-sum-exp, float64) and the score is
``-log(1 - p) = softplus(0.05 (12 - l))``: a strictly increasing function of anomalib's ``p`` (same
ranking wherever ``p`` does not saturate), positive, and unbounded instead of saturating.
"""

# Copyright (C) 2022-2024 Intel Corporation (pipeline after anomalib 1.x's RKDE)
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations

import logging
import math

import torch
from anomalib.data import InferenceBatch
from anomalib.models.components import PCA
from anomalib.models.components.classification import FeatureScalingMethod, KDEClassifier
from torch import nn

from .anomaly_map import paint_region_scores
from .feature_extractor import FEATURE_DIM, FeatureExtractor
from .region_extractor import RegionExtractor, RegionProposals, RoiStage

logger = logging.getLogger(__name__)


class GramPCA(PCA):
    """anomalib's PCA, with the components computed from the smaller Gram matrix.

    anomalib's :class:`PCA` calls ``torch.linalg.svd`` with full matrices: for RKDE's up to 40000 training
    regions of 4096 features that materialises a 40000 x 40000 matrix (6.4 GB) and is slow on CPUs. The
    same leading right singular vectors are the leading eigenvectors of ``X^T X`` (``D x D``), or
    ``X^T u / s`` for the eigenvectors ``u`` of ``X X^T`` when there are fewer samples than features; the
    small symmetric eigenproblem is solved in float64. Components may differ from the SVD's by their sign
    only, which the Gaussian KDE (full-covariance bandwidth) does not see.
    """

    def fit_transform(self, dataset: torch.Tensor) -> torch.Tensor:
        mean = dataset.mean(dim=0)
        dataset -= mean  # in place, as anomalib's PCA: the caller's (large) tensor is not copied
        num_components = int(self.n_components)
        self.num_components = torch.tensor([num_components], device=dataset.device)
        self.singular_vectors = leading_right_singular_vectors(dataset, num_components)
        self.mean = mean
        return torch.matmul(dataset, self.singular_vectors)

    def fit(self, dataset: torch.Tensor) -> None:
        self.fit_transform(dataset)


def leading_right_singular_vectors(matrix: torch.Tensor, count: int) -> torch.Tensor:
    """The ``count`` leading right singular vectors of ``matrix`` (``N x D``) as a ``D x count`` matrix."""
    num_samples, num_features = matrix.shape
    if num_samples < num_features:
        eigenvalues, left = torch.linalg.eigh((matrix @ matrix.T).double())
        left = left[:, -count:].flip(-1)
        singular_values = eigenvalues[-count:].flip(-1).clamp_min(1e-12).sqrt()
        vectors = (matrix.T.double() @ left) / singular_values
    else:
        _, vectors = torch.linalg.eigh((matrix.T @ matrix).double())
        vectors = vectors[:, -count:].flip(-1)
    return vectors.to(matrix.dtype)


def boxes_to_rois(boxes: list[torch.Tensor]) -> torch.Tensor:
    """Per-image boxes ``(M_i, 4)`` to one ``[N, 5]`` tensor of rows ``(index in batch, x1, y1, x2, y2)``."""
    if not boxes:
        return torch.empty((0, 5))
    indices = torch.cat([
        torch.full((image_boxes.shape[0], 1), index, dtype=image_boxes.dtype, device=image_boxes.device)
        for index, image_boxes in enumerate(boxes)
    ])
    return torch.cat([indices, torch.cat(boxes)], dim=1)


class LogSpaceKDEClassifier(KDEClassifier):
    """anomalib's KDE classifier with log-space densities and a score that never saturates (module docstring)."""

    def compute_kde_scores(self, features: torch.Tensor, as_log_likelihood: bool | None = False) -> torch.Tensor:
        features = self.pca_model.transform(features)
        features, _ = self.pre_process(features, self.max_length)
        kde = self.kde_model
        transform = kde.bw_transform.double()
        points = features.double() @ transform
        dataset = kde.dataset.double()
        # Exact pairwise distances (no matmul shortcut), in row chunks: at most 256 x M doubles at once.
        log_kernel_sums = torch.cat([
            torch.logsumexp(-torch.cdist(chunk, dataset, compute_mode="donot_use_mm_for_euclid_dist").square() / 2, dim=1)
            for chunk in points.split(256)
        ]) if points.shape[0] else points.new_empty(0)
        dimension = transform.shape[0]
        log_norm = torch.log(torch.diagonal(transform)).sum() - dimension / 2 * math.log(2 * math.pi)
        log_density = log_kernel_sums + log_norm - math.log(dataset.shape[0])
        return log_density if as_log_likelihood else log_density.exp()

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        """``-log(1 - p)`` for anomalib's anomaly probability ``p``; float32 like the features."""
        log_density = self.compute_kde_scores(features, as_log_likelihood=True)
        return torch.nn.functional.softplus(0.05 * (12 - log_density)).to(features.dtype)


class RkdeModel(nn.Module):
    """Torch model of Region-based Kernel Density Estimation.

    Args:
        roi_stage: Faster R-CNN stage regions are taken from (``rcnn`` or ``rpn``).
            Defaults to ``RoiStage.RCNN``.
        roi_score_threshold: Minimum detector confidence of a region. Defaults to ``0.001``.
        min_box_size: Minimum width and height in pixels of a detector region. Defaults to ``25``.
        iou_threshold: IoU threshold of the class-agnostic NMS. Defaults to ``0.3``.
        max_detections_per_image: Maximum number of regions per image. Defaults to ``100``.
        n_pca_components: Number of PCA components before the KDE. Defaults to ``16``.
        feature_scaling_method: Scaling of the PCA features (``scale``: by the largest training norm;
            ``norm``: to unit length). Defaults to ``FeatureScalingMethod.SCALE``.
        max_training_points: Maximum number of region features the KDE is fitted on (a random subset if
            there are more). Defaults to ``40000``.
        pre_trained: Use pretrained weights for the detector (COCO) and the feature extractor (anomalib's
            RKDE weights). ``False``: both are randomly initialised and nothing is downloaded.
            Defaults to ``True``.
        region_proposals: ``rcnn`` (Faster R-CNN with per-image grid fallback) or ``grid`` (fixed grid of
            regions, no detector built). Defaults to ``RegionProposals.RCNN``.
        grid_size: Grid of the ``grid`` proposals and of the fallback: ``(2 * grid_size - 1) ** 2``
            half-overlapping windows of ``1 / grid_size`` of the image side. Defaults to ``4``.
        detector_min_size: Shorter side the detector resizes images to. Defaults to ``800`` (torchvision).
        detector_max_size: Cap of the detector's longer side. Defaults to ``1333`` (torchvision).
    """

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
    ) -> None:
        super().__init__()

        self.region_extractor = RegionExtractor(
            stage=roi_stage,
            score_threshold=roi_score_threshold,
            min_size=min_box_size,
            iou_threshold=iou_threshold,
            max_detections_per_image=max_detections_per_image,
            region_proposals=region_proposals,
            grid_size=grid_size,
            pre_trained=pre_trained,
            detector_min_size=detector_min_size,
            detector_max_size=detector_max_size,
        ).eval()

        self.feature_extractor = FeatureExtractor(pre_trained=pre_trained).eval()

        self.classifier = LogSpaceKDEClassifier(
            n_pca_components=n_pca_components,
            feature_scaling_method=FeatureScalingMethod(feature_scaling_method),
            max_training_points=max_training_points,
        )
        self.classifier.pca_model = GramPCA(n_components=n_pca_components)
        self.memory_bank: list[torch.Tensor] = []

    def get_regions_and_features(self, batch: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Regions of every image and the features of all regions (concatenated in image order)."""
        self.region_extractor.eval()
        self.feature_extractor.eval()
        with torch.no_grad():
            regions = self.region_extractor(batch)
            rois = boxes_to_rois(regions).to(device=batch.device, dtype=batch.dtype)
            features = self.feature_extractor(batch, rois) if rois.shape[0] else batch.new_empty((0, FEATURE_DIM))
        return regions, features

    def forward(self, batch: torch.Tensor) -> torch.Tensor | InferenceBatch:
        """Training: region features (also stored in the memory bank). Inference: scores and maps.

        Args:
            batch: Images ``[B, C, H, W]`` with values in ``[0, 1]``.

        Returns:
            In training mode the ``[N, 4096]`` features of all regions. Otherwise an ``InferenceBatch`` with
            ``pred_score`` ``[B]`` (maximum region score per image) and ``anomaly_map`` ``[B, H, W]``.
        """
        regions, features = self.get_regions_and_features(batch)
        if self.training:
            self.memory_bank.append(features)
            return features

        scores = self.classifier(features)
        per_image = list(scores.split([boxes.shape[0] for boxes in regions]))
        pred_score = torch.stack([
            image_scores.max() if image_scores.numel() else scores.new_zeros(()) for image_scores in per_image
        ])
        anomaly_map = paint_region_scores(regions, per_image, tuple(batch.shape[-2:]))
        return InferenceBatch(pred_score=pred_score, anomaly_map=anomaly_map)

    def fit(self) -> None:
        """Fit the KDE classifier on the memory bank, then empty the memory bank.

        Raises:
            ValueError: If the memory bank is empty or holds fewer regions than ``n_pca_components``.
        """
        if not self.memory_bank:
            raise ValueError("Memory bank is empty. Cannot fit the KDE classifier.")
        embeddings = torch.cat(self.memory_bank)
        self.memory_bank = []
        logger.info("RKDE: fitting the KDE classifier on %d region features", embeddings.shape[0])
        if not self.classifier.fit(embeddings):
            raise ValueError(
                f"RKDE: {embeddings.shape[0]} training regions are fewer than "
                f"n_pca_components={self.classifier.n_pca_components}; cannot fit the KDE classifier.",
            )
