"""Published numbers to set beside ours: the reference CSVs under ``config/reference/``.

One row per dataset × category × model × variant × metric × source, columns :data:`REFERENCE_COLUMNS`:

- ``dataset``: our dataset type (``mvtec_ad``);
- ``category``: the dataset's folder name (``metal_nut``), or :data:`MEAN_CATEGORY` for the source's
  average over its categories. A file written before categories existed reads as all ``mean``;
- ``model``: our config name (``reverse_distillation``);
- ``variant``: the backbone or setting the number belongs to, as the source names it;
- ``metric``: our column name: ``image_AUROC``, ``pixel_AUROC``, ``pixel_AP``, ... A published
  ``pixel_AUPRO`` is AU-PRO integrated to FPR 0.3, the literature's (and anomalib's default) limit;
  ``pixel_PRO`` is the per-region overlap at one threshold (anomalib's ``PRO`` metric, the study's "PRO");
- ``value``: a fraction in [0, 1]; empty where the source shows a cell but reports no number (the study's
  "-"): the row stays, so a table prints a dash where the source does instead of losing the row;
- ``source``, ``table``: where the number is printed, precisely enough to find it again;
- ``note`` (optional, empty when absent): ``not reported`` for empty values, how a number was read, caveats.

Files:

- ``study_mvtec_ad.csv``: the study's three tables (15 models × 15 categories × image AUROC, pixel AUROC,
  PRO: ``pixel_PRO``, thresholded, not AU-PRO), every cell, ``-`` kept as an empty value noted ``not reported``;
- ``anomalib_mvtec_ad.csv``: anomalib's model READMEs (per category and mean, per backbone);
- ``papers_mvtec_ad.csv``: the original papers' numbers (mean, and per category where a paper tables them).

Within a file, the variant closest to our configuration comes first (anomalib's CFA: Wide ResNet-50; CS-Flow:
256 px), so that a table printing one value per cell can take the first. Columns beyond these (e.g.
``source_kind``) pass through, empty where a file lacks them.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from iadbench.results.columns import metric_columns_named

REFERENCE_COLUMNS = ("dataset", "category", "model", "variant", "metric", "value", "source", "table", "note")
# A file may omit these: old files have no category (their numbers are means) and most rows need no note.
OPTIONAL_DEFAULTS = {"category": "mean", "note": ""}
MEAN_CATEGORY = "mean"
NOT_REPORTED = "not reported"
# Two references may not give the same cell twice: which one a table would print would be arbitrary.
KEY_COLUMNS = ("dataset", "category", "model", "variant", "metric", "source")

STUDY_SOURCE = ("Evaluating State-of-the-art Methods for Industrial Anomaly Detection "
                "(the study, midterm presentation)")
# The study's PRO is anomalib's thresholded PRO (iadbench.metrics.measures.thresholded_pro), our pixel_PRO.
STUDY_METRICS = metric_columns_named("image_AUROC", "pixel_AUROC", "pixel_PRO")
# Thresholds of the study audit (fractions) and its kinds of cells.
CHANCE = 0.5
NEAR_PERFECT_PRO = 0.9
POOR_PIXEL_AUROC = 0.6
SATURATED = "threshold-saturated"
DEGENERATE = "degenerate"


def _read_one(path) -> pd.DataFrame:
    try:
        # Strings throughout: values are checked here, and "NA"-like text must not silently turn into NaN.
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read reference file {path}: {error}") from error
    missing = [column for column in REFERENCE_COLUMNS if column not in table and column not in OPTIONAL_DEFAULTS]
    if missing:
        raise ValueError(f"reference file {path} lacks columns {missing}")
    for column, default in OPTIONAL_DEFAULTS.items():
        if column not in table:
            table[column] = default
    values = []
    for index, text in enumerate(table["value"]):
        line = index + 2  # the file's line: 1 is the header
        text = text.strip()
        for column in ("dataset", "category", "model", "metric", "source"):
            if not table[column].iloc[index].strip():
                raise ValueError(f"reference file {path}, line {line}: empty {column}")
        if not text:
            values.append(math.nan)
            continue
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"reference file {path}, line {line}: value {text!r} is not a number") from None
        if not 0 <= value <= 1:  # also rejects NaN
            raise ValueError(f"reference file {path}, line {line}: value {text} is outside [0, 1] "
                             "(values are fractions: 0.981, not 98.1)")
        values.append(value)
    table["value"] = pd.Series(values, index=table.index, dtype=float)
    table["_where"] = [f"{path}, line {index + 2}" for index in range(len(table))]
    return table


def read_references(paths) -> pd.DataFrame:
    """The reference files as one frame: :data:`REFERENCE_COLUMNS` first (``value`` a float, NaN = not
    reported), then any other column a file has (empty where another file lacks it).

    Raises ValueError naming the file (and line) for an unreadable file, a missing column, an empty key
    field, a value that is not a number in [0, 1], or a cell given twice (same :data:`KEY_COLUMNS`)."""
    frames = [_read_one(path) for path in paths]
    if not frames:
        frame = pd.DataFrame({column: pd.Series(dtype=str) for column in REFERENCE_COLUMNS})
        frame["value"] = frame["value"].astype(float)
        return frame
    frame = pd.concat(frames, ignore_index=True)
    duplicated = frame.duplicated(list(KEY_COLUMNS), keep=False)
    if duplicated.any():
        first = frame[duplicated].iloc[0]
        same = frame[duplicated & (frame[list(KEY_COLUMNS)] == first[list(KEY_COLUMNS)]).all(axis=1)]
        raise ValueError(f"reference cell given twice ({', '.join(f'{key}={first[key]}' for key in KEY_COLUMNS)}): "
                         + "; ".join(same["_where"]))
    extra = [column for column in frame.columns if column not in REFERENCE_COLUMNS and column != "_where"]
    frame[extra] = frame[extra].fillna("")
    return frame[[*REFERENCE_COLUMNS, *extra]]


def study_audit_cells(references: pd.DataFrame, source: str = STUDY_SOURCE) -> pd.DataFrame:
    """The study's cells a reader needs a word on, one row per dataset × category × model with the study's
    :data:`STUDY_METRICS` values, a ``kind`` and a ``reason`` (several joined by "; "):

    - *threshold-saturated* (kind :data:`SATURATED`): pixel AUROC < 0.6 with PRO ≥ 0.9. Not a contradiction: the
      study's PRO is read at one threshold (anomalib 1.x ``PRO``: 0.5 on min-max normalised maps, i.e. the
      F1-optimal pixel threshold; :func:`iadbench.metrics.measures.thresholded_pro`). A map that ranks pixels near
      or below chance reaches its best F1 near its lowest score, marking nearly every pixel anomalous, and so
      covers every defect region: PRO ≈ 100 is the threshold's artefact, not localisation;
    - *degenerate* (kind :data:`DEGENERATE`): image AUROC exactly 0.5, what a constant score gives (every image
      tied), not a measurement.

    (Read as AU-PRO, as it was once stored, the saturated cells looked like contradictions: a map that covers
    regions at low false-positive rates cannot rank pixels worse than chance. A thresholded PRO implies no such
    thing; no rule between the two is a contradiction, so none is called one.)

    ``references`` as :func:`read_references` returns; rows of other sources and means are ignored."""
    columns = ["dataset", "category", "model", *STUDY_METRICS, "kind", "reason"]
    rows = references[(references["source"] == source) & (references["category"] != MEAN_CATEGORY)]
    if rows.empty:
        return pd.DataFrame({column: pd.Series(dtype=float if column in STUDY_METRICS else str)
                             for column in columns})
    wide = rows.pivot_table(index=["dataset", "category", "model"], columns="metric", values="value",
                            aggfunc="first", dropna=False)
    wide = wide.reindex(columns=list(STUDY_METRICS)).reset_index()
    found = []
    for record in wide.to_dict("records"):
        image, pixel, pro = (record[metric] for metric in STUDY_METRICS)
        kinds, reasons = [], []
        # NaN compares False everywhere: a not-reported value never triggers a rule.
        if pixel < POOR_PIXEL_AUROC and pro >= NEAR_PERFECT_PRO:
            kinds.append(SATURATED)
            reasons.append("threshold-saturated PRO: pixel AUROC < 60% with PRO ≥ 90%, the F1-optimal threshold "
                           "marks nearly every pixel anomalous")
        if math.isclose(image, CHANCE, abs_tol=1e-9):
            kinds.append(DEGENERATE)
            reasons.append("image AUROC exactly 50% (a constant score)")
        if reasons:
            found.append({**record, "kind": "; ".join(kinds), "reason": "; ".join(reasons)})
    result = pd.DataFrame(found, columns=columns)
    result[list(STUDY_METRICS)] = result[list(STUDY_METRICS)].astype(float)
    return result.sort_values(["dataset", "model", "category"], ignore_index=True)


def reference_files(folder: str | Path = "config/reference") -> list[Path]:
    """The reference CSVs of a folder, sorted by name."""
    return sorted(Path(folder).glob("*.csv"))
