"""The one table of metric columns (name, title, level, interval, report order) that the row schema, the
report, LaTeX, the references and the continual report read; which of our columns a published metric
compares with."""

from __future__ import annotations

import re
from dataclasses import dataclass

from iadbench.metrics.spro import MAX_FPRS, limit_name


@dataclass(frozen=True)
class MetricColumn:
    """A metric column of the row: its name (anomalib's ``image_*`` / ``pixel_*`` vocabulary, ``frame_*`` for
    the video track), how everything printed names it, and what is computed and tabulated of it."""

    name: str
    title: str  # the report's, LaTeX's, the references', the continual report's name for it
    level: str  # "image", "pixel" or "frame"
    interval: bool = False  # a bootstrap interval is computed: <name>_ci_low / <name>_ci_high columns
    report_order: int | None = None  # position of its table in the report (None: the video section's own)


LOCO_GROUPS = ("logical", "structural", "mean")
LOCO_GROUP_TITLES = {"logical": "logical anomalies", "structural": "structural anomalies",
                     "mean": "mean of logical and structural"}

# The one table of metric columns, in the order rows store them. "pixel_AUPRO" stands for one report table
# per AU-PRO limit (see iadbench.report.tables.aupro_columns); the row also holds pixel_AUPRO_<percent>.
METRICS: tuple[MetricColumn, ...] = (
    MetricColumn("image_AUROC", "Image AUROC", "image", interval=True, report_order=0),
    MetricColumn("image_AP", "Image AP", "image", interval=True, report_order=3),
    MetricColumn("image_F1_max", "Image F1-max (oracle: test-set-optimal threshold)", "image", interval=True,
                 report_order=5),
    MetricColumn("pixel_AUROC", "Pixel AUROC", "pixel", interval=True, report_order=1),
    MetricColumn("pixel_AP", "Pixel AP", "pixel", interval=True, report_order=4),
    MetricColumn("pixel_F1_max", "Pixel F1-max (oracle: test-set-optimal threshold)", "pixel", report_order=6),
    MetricColumn("pixel_AUPRO", "Pixel AU-PRO (first configured FPR limit)", "pixel", interval=True, report_order=2),
    # The study's PRO (anomalib's PRO metric): region overlap at one threshold, the pixel F1-optimal one.
    MetricColumn("pixel_PRO", "Pixel PRO (at the F1-optimal pixel threshold)", "pixel", report_order=7),
    MetricColumn("frame_AUROC", "Frame AUROC (micro: all frames pooled)", "frame"),
    MetricColumn("frame_AUROC_macro", "Frame AUROC (macro: mean over videos)", "frame"),
    # The operating point (iadbench.metrics.operating_point): image metrics at a threshold set without test labels.
    MetricColumn("image_F1", "Image F1 at the operating point (threshold from defect-free held-out images)", "image",
                 report_order=7),
    MetricColumn("image_precision", "Image precision at the operating point", "image", report_order=8),
    MetricColumn("image_recall", "Image recall (TPR) at the operating point", "image", report_order=9),
    MetricColumn("image_FPR", "Image FPR at the operating point", "image", report_order=10),
    # Each dataset's own protocol (iadbench.metrics.protocols, docs/protocols.md): MVTec LOCO AD's AU-sPRO per
    # FPR limit and anomaly type and image AUROC per type, Real-IAD's sample AUROC, MVTec AD 2's SegF1.
    *(MetricColumn(f"pixel_AUsPRO_{limit_name(limit)}_{group}",
                   f"Pixel AU-sPRO (FPR ≤ {limit:g}), {LOCO_GROUP_TITLES[group]}", "pixel",
                   report_order=11 + index)
      for index, (group, limit) in enumerate((group, limit) for group in LOCO_GROUPS for limit in MAX_FPRS)),
    *(MetricColumn(f"image_AUROC_{group}", f"Image AUROC, {LOCO_GROUP_TITLES[group]}", "image",
                   report_order=11 + len(LOCO_GROUPS) * len(MAX_FPRS) + index)
      for index, group in enumerate(LOCO_GROUPS)),
    MetricColumn("image_AUROC_sample", "Sample AUROC (max over a sample's views)", "image", report_order=29),
    MetricColumn("pixel_SegF1", "Pixel SegF1 (threshold: validation mean + 3 std)", "pixel", report_order=30),
)


# Each dataset type's headline columns (its official metrics, docs/protocols.md), in the order its report
# tables lead with them, and the column that marks a protocol's rows (filled only for that dataset type).
HEADLINES = {
    "mvtec_loco": ("pixel_AUsPRO_05_mean", "pixel_AUsPRO_05_logical", "pixel_AUsPRO_05_structural",
                   "image_AUROC_mean", "image_AUROC_logical", "image_AUROC_structural"),
    "mvtec_ad_2": ("pixel_AUPRO_05", "pixel_AUPRO_30", "pixel_SegF1", "image_AUROC"),
    "real_iad": ("image_AUROC", "image_AUROC_sample", "pixel_AUPRO_30"),
}
HEADLINE_MARKERS = {"mvtec_loco": "image_AUROC_mean", "mvtec_ad_2": "pixel_SegF1", "real_iad": "image_AUROC_sample"}
# The other columns of the operating point and the protocols (not metrics: no report table of their own).
PROTOCOL_COLUMNS = {
    # The operating point's threshold (score >= it: anomalous), its target FPR, the FPR it reached on the
    # calibration images, how many there were and where they came from (validation, train_holdout, none).
    "image_threshold": "float64", "op_target_FPR": "float64", "op_calibration_FPR": "float64",
    "op_n_images": "Int64", "op_source": "string",
    # MVTec AD 2's SegF1 threshold (validation mean + 3 std); Real-IAD's number of test samples.
    "pixel_SegF1_threshold": "float64", "n_samples": "Int64",
}


def metric_columns_named(*names: str) -> tuple[str, ...]:
    """``names``, each checked against the table (a selection of metric columns elsewhere, e.g. the study's, names
    no column this table lacks: a renamed or misspelt one fails at import, not in a report)."""
    unknown = [name for name in names if name not in {metric.name for metric in METRICS}]
    if unknown:
        raise ValueError(f"not metric columns of iadbench.results.columns.METRICS: {unknown}")
    return names


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
