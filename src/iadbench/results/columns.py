"""Metric columns as the report prints them, and which of our columns a published metric compares with."""

from __future__ import annotations

import re

# Column → title, in the order the report prints them; values are shown in percent. "pixel_AUPRO"
# stands for one table per AU-PRO limit (see iadbench.report.render.aupro_columns).
METRIC_TITLES = {
    "image_AUROC": "Image AUROC",
    "pixel_AUROC": "Pixel AUROC",
    "pixel_AUPRO": "Pixel AU-PRO (first configured FPR limit)",
    "image_AP": "Image AP",
    "pixel_AP": "Pixel AP",
    "image_F1_max": "Image F1-max",
    "pixel_F1_max": "Pixel F1-max",
}
# pixel_AUPRO_<percent>: AU-PRO integrated up to FPR <percent>/100 (iadbench.metrics.measures.pixel_metrics).
AUPRO_LIMIT_COLUMN = re.compile(r"pixel_AUPRO_(\d+)")
# The literature's AU-PRO (Bergmann et al., MVTec AD, and every paper since) integrates up to FPR 0.3.
LITERATURE_AUPRO = "pixel_AUPRO_30"
NOT_APPLICABLE = "–"


def metric_title(column: str) -> str:
    """The title of a metric column; an AU-PRO title names its FPR limit from the column itself."""
    limit = AUPRO_LIMIT_COLUMN.fullmatch(column)
    if limit:
        return f"Pixel AU-PRO (FPR ≤ {int(limit.group(1)) / 100:g})"
    return METRIC_TITLES.get(column, column)


def our_column(reference_metric: str) -> str:
    """The column of ours a published metric compares with, like with like.

    A published "pixel_AUPRO" is integrated up to FPR 0.3, the literature's convention, so it
    compares with our 0.3 limit, never with our plain pixel_AUPRO (whichever limit we listed first).
    Other limits are written out (pixel_AUPRO_05) and compare with that column.
    """
    return LITERATURE_AUPRO if reference_metric == "pixel_AUPRO" else reference_metric


def percent(value: float) -> str:
    return f"{100 * value:.2f}"
