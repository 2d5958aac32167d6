"""The one table of metric columns (name, title, level, interval, report order) that the row schema, the
report, LaTeX, the references and the continual report read; which of our columns a published metric
compares with."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class MetricColumn:
    """A metric column of the row: its name (anomalib's ``image_*`` / ``pixel_*`` vocabulary, ``frame_*`` for
    the video track), how everything printed names it, and what is computed and tabulated of it."""

    name: str
    title: str  # the report's, LaTeX's, the references', the continual report's name for it
    level: str  # "image", "pixel" or "frame"
    interval: bool = False  # a bootstrap interval is computed: <name>_ci_low / <name>_ci_high columns
    report_order: int | None = None  # position of its table in the report (None: the video section's own)


# The one table of metric columns, in the order rows store them. "pixel_AUPRO" stands for one report table
# per AU-PRO limit (see iadbench.report.tables.aupro_columns); the row also holds pixel_AUPRO_<percent>.
METRICS: tuple[MetricColumn, ...] = (
    MetricColumn("image_AUROC", "Image AUROC", "image", interval=True, report_order=0),
    MetricColumn("image_AP", "Image AP", "image", interval=True, report_order=3),
    MetricColumn("image_F1_max", "Image F1-max", "image", interval=True, report_order=5),
    MetricColumn("pixel_AUROC", "Pixel AUROC", "pixel", interval=True, report_order=1),
    MetricColumn("pixel_AP", "Pixel AP", "pixel", interval=True, report_order=4),
    MetricColumn("pixel_F1_max", "Pixel F1-max", "pixel", report_order=6),
    MetricColumn("pixel_AUPRO", "Pixel AU-PRO (first configured FPR limit)", "pixel", interval=True, report_order=2),
    # The study's PRO (anomalib's PRO metric): region overlap at one threshold, the pixel F1-optimal one.
    MetricColumn("pixel_PRO", "Pixel PRO (at the F1-optimal pixel threshold)", "pixel", report_order=7),
    MetricColumn("frame_AUROC", "Frame AUROC (micro: all frames pooled)", "frame"),
    MetricColumn("frame_AUROC_macro", "Frame AUROC (macro: mean over videos)", "frame"),
)


def metric_names(level: str | None = None, *, interval: bool | None = None) -> tuple[str, ...]:
    """The names of the table's metric columns (of one ``level``; with or without an interval), in row order."""
    return tuple(metric.name for metric in METRICS if level in (None, metric.level)
                 and interval in (None, metric.interval))


# Column → title of the metrics with a report table, in the order the report prints them (values in percent).
METRIC_TITLES = {metric.name: metric.title for metric in sorted(
    (metric for metric in METRICS if metric.report_order is not None), key=lambda metric: metric.report_order)}
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
    return next((metric.title for metric in METRICS if metric.name == column), column)


def our_column(reference_metric: str) -> str:
    """The column of ours a published metric compares with, like with like.

    A published "pixel_AUPRO" is integrated up to FPR 0.3, the literature's convention, so it
    compares with our 0.3 limit, never with our plain pixel_AUPRO (whichever limit we listed first).
    Other limits are written out (pixel_AUPRO_05) and compare with that column.
    """
    return LITERATURE_AUPRO if reference_metric == "pixel_AUPRO" else reference_metric


def percent(value: float) -> str:
    return f"{100 * value:.2f}"
