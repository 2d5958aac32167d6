"""Region feature extractor for RKDE.

An AlexNet-like convolutional trunk (overall stride 16) followed by RoIAlign of every region to 6 x 6
cells and two 4096-unit fully connected layers, as in anomalib 0.x/1.x's RKDE, so each region is
described by a 4096-d vector. The images are resized to a shorter side of 600 pixels (longer side at
most 1000) and ImageNet-normalised first, inside the module; regions are rescaled accordingly.

With ``pre_trained=True`` the weights anomalib published for RKDE are loaded (downloaded by
``torch.hub`` on first use); with ``pre_trained=False`` the layers keep PyTorch's default random
initialisation and nothing is downloaded.
"""

# Copyright (C) 2022-2024 Intel Corporation (architecture and weights of anomalib 1.x's RKDE)
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations

import torch
from torch import nn
from torchvision.ops import RoIAlign
from torchvision.transforms import Normalize, Resize

WEIGHTS_URL = "https://github.com/openvinotoolkit/anomalib/releases/download/rkde-weights/rkde_feature_extractor.pth"
FEATURE_DIM = 4096


class FeatureExtractor(nn.Module):
    """Feature extractor of region-based anomaly detection.

    Args:
        pre_trained: Load anomalib's RKDE feature extractor weights. Defaults to ``True``.
    """

    def __init__(self, pre_trained: bool = True) -> None:
        super().__init__()

        self.transform = nn.Sequential(
            Resize(size=600, max_size=1000, antialias=True),
            Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
        )

        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
        )

        self.roi_align = RoIAlign(output_size=(6, 6), spatial_scale=1 / 16, sampling_ratio=0)

        self.classifier = nn.Sequential(
            nn.Linear(256 * 6 * 6, FEATURE_DIM),
            nn.ReLU(inplace=True),
            nn.Linear(FEATURE_DIM, FEATURE_DIM),
            nn.ReLU(inplace=True),
        )

        if pre_trained:
            self.load_state_dict(torch.hub.load_state_dict_from_url(WEIGHTS_URL, progress=False, map_location="cpu"))

    @torch.no_grad()
    def forward(self, batch: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        """Features of the regions of interest.

        Args:
            batch: Images ``[B, C, H, W]`` with values in ``[0, 1]``.
            rois: ``[N, 5]`` regions, each row ``(index in batch, x1, y1, x2, y2)`` in pixels of ``batch``.

        Returns:
            ``[N, 4096]`` features, one row per region.
        """
        if rois.shape[0] == 0:
            return batch.new_empty((0, FEATURE_DIM))
        transformed = self.transform(batch)
        scale_y = transformed.shape[-2] / batch.shape[-2]
        scale_x = transformed.shape[-1] / batch.shape[-1]
        rois = rois.clone()
        rois[:, 1:] *= rois.new_tensor([scale_x, scale_y, scale_x, scale_y])
        features = self.features(transformed)
        features = self.roi_align(features, rois)
        return self.classifier(torch.flatten(features, 1))
