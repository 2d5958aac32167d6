"""RKDE (Region-based Kernel Density Estimation) for anomalib 2.7, which no longer ships it.

Adey et al., "Region Based Anomaly Detection with Real-Time Training and Analysis", ICMLA 2019.
"""

from .lightning_model import Rkde
from .region_extractor import RegionProposals, RoiStage, grid_boxes
from .torch_model import RkdeModel

__all__ = ["RegionProposals", "Rkde", "RkdeModel", "RoiStage", "grid_boxes"]
