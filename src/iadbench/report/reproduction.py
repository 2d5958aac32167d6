"""The reproduction section: our numbers per model × category beside the study's, the papers' and anomalib's.

Reference files (``config/reference/*.csv``, read by :func:`iadbench.report.references.read_references`) carry a
*source kind*: a ``source_kind`` column where the file has one, else the file name's prefix
(``study_*.csv`` → study, ``anomalib_*.csv`` → anomalib, anything else → paper). Per reference metric
(a published ``pixel_AUPRO`` is ours at FPR ≤ 0.3, :func:`~iadbench.results.columns.our_column`; the study's
``pixel_PRO``, thresholded, is our ``pixel_PRO``, with our AU-PRO at FPR ≤ 0.3 printed beside it) there is one
long table: a row per model × category plus the model's mean, our mean ± std over seeds (complete cells
only, as the report's tables), each kind's value and our delta to it, flagged where
|delta| > max(2 std, 1 point).

Pure: frames in, dataclasses of printed text out; the templates lay them out.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from iadbench.config.settings import DEFAULT_SETTING, setting_title
from iadbench.datasets import DATASET_CATEGORIES
from iadbench.report.labels import Labels
from iadbench.report.references import MEAN_CATEGORY, read_references
from iadbench.report.templating import slug
from iadbench.results.columns import LITERATURE_AUPRO, NOT_APPLICABLE, metric_title, our_column, percent
from iadbench.stats.ranking import complete_cells

# Source kinds, in the order their columns are printed, and their column titles.
KIND_TITLES = {"study": "Study", "paper": "Paper", "anomalib": "anomalib", "ader": "ADer"}
FILE_KINDS = {"study": "study", "anomalib": "anomalib", "papers": "paper", "paper": "paper", "ader": "ader"}
# Smallest delta worth a flag, as a fraction: one point of a percentage.
FLAG_FLOOR = 0.01
FLAG_MARK = "*"
# A reference metric whose table also prints another of our columns: the study's PRO (one threshold) beside our
# AU-PRO at FPR <= 0.3, so a reader sees both the like-with-like comparison and the literature's localisation metric.
BESIDE = {"pixel_PRO": LITERATURE_AUPRO}
FLAG_NOTE = (f"{FLAG_MARK}: |Δ| > max(2 std, 1 point), std being ours over seeds (0 with one seed). Δ = ours − "
             "reference, in points. Ours: mean ± std over seeds of complete cells (every seed succeeded).")


def source_kind_of(path: str | Path) -> str:
    """A reference file's kind from its name: ``study_mvtec_ad.csv`` → study; unknown prefixes → paper."""
    return FILE_KINDS.get(Path(path).name.split("_", 1)[0].lower(), "paper")


def read_reference_files(paths) -> pd.DataFrame:
    """The reference files as one frame with a ``source_kind`` column (see the module docstring)."""
    paths = list(paths)
    frame = read_references(paths)  # read together: a cell given twice across files is refused
    by_file = [source_kind_of(path) for path in paths for _ in range(len(read_references([path])))]
    given = frame.get("source_kind", pd.Series("", index=frame.index)).astype(str).str.strip()
    frame["source_kind"] = given.where(given != "", pd.Series(by_file, index=frame.index, dtype=object))
    return frame


@dataclass
class Comparison:
    value: str  # the reference's value, "–" where it reported none
    delta: str  # ours − reference in points, FLAG_MARK appended when flagged
    flagged: bool = False
    note: str = ""  # variant, source and table (HTML hover)


@dataclass
class ReproductionRow:
    model: str  # printed names
    category: str
    ours: str
    comparisons: list[Comparison]
    first: bool = False  # the model's first row (prints the model)
    mean: bool = False
    beside: str = ""  # ours in the table's BESIDE column ("" without one)


@dataclass
class ReproductionTable:
    dataset: str
    metric: str  # the reference metric
    column: str  # ours
    kinds: list[str]
    rows: list[ReproductionRow] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    setting: str = DEFAULT_SETTING  # ours and the references of one setting (iadbench.report.settings)
    beside_title: str = ""  # title of the BESIDE column of ours ("" without one)

    @property
    def title(self) -> str:
        where = "" if self.setting == DEFAULT_SETTING else f" ({setting_title(self.setting)})"
        return f"{self.dataset}: {metric_title(self.column)}, ours vs published{where}"

    @property
    def label(self) -> str:
        where = "" if self.setting == DEFAULT_SETTING else f"-{self.setting}"
        return slug(f"reproduction-{self.dataset}{where}-{self.metric}")

    @property
    def kind_titles(self) -> list[str]:
        return [KIND_TITLES.get(kind, kind) for kind in self.kinds]


@dataclass(frozen=True)
class Ours:
    mean: float
    std: float  # over seeds; 0 with one seed


def our_values(frame: pd.DataFrame, dataset: str, column: str) -> dict[tuple[str, str], Ours]:
    """(model, category) → our mean and std over seeds, complete cells only; (model, MEAN_CATEGORY) → the
    mean over every category of the dataset when all of them are complete, its std that of the per-seed means."""
    if column not in frame:
        return {}
    rows = frame[frame["dataset"] == dataset]
    complete = rows[complete_cells(rows)]
    categories = list(dict.fromkeys(rows["category"]))
    values = {}
    for (model, category), group in complete.groupby(["model", "category"], sort=False)[column]:
        if group.notna().any():
            std = group.std()
            values[(model, category)] = Ours(float(group.mean()), 0.0 if math.isnan(std) else float(std))
    for model in dict.fromkeys(rows["model"]):
        if all((model, category) in values for category in categories):
            per_seed = complete[complete["model"] == model].pivot_table(
                index="seed", columns="category", values=column, aggfunc="mean").dropna()
            spread = per_seed.mean(axis=1).std() if len(per_seed) > 1 else 0.0
            mean = sum(values[(model, category)].mean for category in categories) / len(categories)
            values[(model, MEAN_CATEGORY)] = Ours(mean, 0.0 if math.isnan(spread) else float(spread))
    return values


def _squeeze(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def variant_matches(variant: str, backbone: str) -> bool:
    """Whether a reference's variant names our backbone ("Wide ResNet-50" and "WRN-50" for wide_resnet50_2,
    "ResNet-18" for resnet18), so that its number is the like-for-like one."""
    if not backbone:
        return False
    name, text = _squeeze(re.sub(r"_2$", "", backbone)), _squeeze(str(variant))
    aliases = {name, name.replace("wideresnet", "wrn")}
    return any(alias in text and (alias.startswith(("wide", "wrn")) or "wide" not in text) for alias in aliases)


def _first_values(references: pd.DataFrame, backbones: dict[str, str]) -> dict[tuple[str, str, str], pd.Series]:
    """(kind, model, category) → the row to compare with: one reporting a value, of the variant naming our
    backbone where one does, else the first in file order (a file lists its preferred variant first)."""
    chosen: dict[tuple[str, str, str], tuple[tuple[bool, bool], pd.Series]] = {}
    for _, row in references.iterrows():
        key = (row["source_kind"], row["model"], str(row["category"]).lower())
        rank = (pd.isna(row["value"]), not variant_matches(row["variant"], backbones.get(row["model"], "")))
        if key not in chosen or rank < chosen[key][0]:
            chosen[key] = (rank, row)
    return {key: row for key, (_, row) in chosen.items()}


def backbones_of(config: dict | None) -> dict[str, str]:
    """Each configured model's ``init_args.backbone`` (the variant to prefer among a source's numbers)."""
    models = (config or {}).get("models") or {}
    return {name: str(((spec or {}).get("init_args") or {}).get("backbone") or "") for name, spec in models.items()}


def _note(row: pd.Series) -> str:
    parts = [str(row[column]) for column in ("variant", "source", "table")
             if column in row and not pd.isna(row[column]) and str(row[column])]
    return "; ".join(parts)


def _reference_mean(chosen, kind: str, model: str, categories: list[str], full: bool
                    ) -> tuple[float, pd.Series | None, bool]:
    """The reference's mean over our categories, like with like: its published mean when we ran every category
    of the dataset, else the mean of its per-category values when it has every one of ours. Returns the value,
    the row citing it and whether it was computed here."""
    published = chosen.get((kind, model, MEAN_CATEGORY))
    if full and published is not None and not pd.isna(published["value"]):
        return float(published["value"]), published, False
    rows = [chosen.get((kind, model, category.lower())) for category in categories]
    if rows and all(row is not None and not pd.isna(row["value"]) for row in rows):
        return sum(float(row["value"]) for row in rows) / len(rows), rows[0], True
    return math.nan, None, False


def compare(ours: Ours | None, reference: float, note: str) -> Comparison:
    """One reference value beside ours: the delta in points, flagged when |delta| > max(2 std, 1 point)."""
    if math.isnan(reference):
        return Comparison(NOT_APPLICABLE, NOT_APPLICABLE, note=note)
    if ours is None:
        return Comparison(percent(reference), NOT_APPLICABLE, note=note)
    delta = ours.mean - reference
    # The tolerance keeps float noise (0.80 - 0.79 = 0.0100000000000000009) from flagging exactly one point.
    flagged = abs(delta) > max(2 * ours.std, FLAG_FLOOR) + 1e-12
    return Comparison(percent(reference), f"{100 * delta:+.2f}" + (FLAG_MARK if flagged else ""), flagged, note)


def _ours_text(ours: Ours | None) -> str:
    if ours is None:
        return NOT_APPLICABLE
    return percent(ours.mean) + (f" ± {100 * ours.std:.2f}" if ours.std else "")


def reproduction_table(frame: pd.DataFrame, references: pd.DataFrame, dataset: str, metric: str,
                       labels: Labels, backbones: dict[str, str] | None = None) -> ReproductionTable | None:
    """Our models that a reference of ``metric`` names, each category of ours (in the configured order) and
    the mean; None when there is nothing to compare."""
    column = our_column(metric)
    # A reference's dataset is a dataset type; ours is the config's name for it.
    refs = references[(references["dataset"] == labels.dataset_type(dataset)) & (references["metric"] == metric)]
    ours = our_values(frame, dataset, column)
    rows = frame[frame["dataset"] == dataset]
    models = [model for model in dict.fromkeys(rows["model"]) if model in set(refs["model"])]
    if refs.empty or not ours or not models:
        return None
    kinds = [kind for kind in KIND_TITLES if kind in set(refs["source_kind"])]
    kinds += sorted(set(refs["source_kind"]) - set(kinds))
    chosen = _first_values(refs, backbones or {})
    categories = labels.order(dataset, rows["category"])
    known = DATASET_CATEGORIES.get(labels.dataset_type(dataset), ())
    full = not known or set(known) <= set(categories)
    mean_label = "Mean" if full else f"Mean ({len(categories)} of {len(known)})"
    table = ReproductionTable(dataset=dataset, metric=metric, column=column, kinds=kinds)
    beside = our_values(frame, dataset, BESIDE[metric]) if metric in BESIDE else None
    if beside:
        table.beside_title = f"Ours, {metric_title(BESIDE[metric])}"
    used: dict[str, None] = {}
    for model in models:
        for category in [*categories, MEAN_CATEGORY]:
            comparisons = []
            for kind in kinds:
                if category == MEAN_CATEGORY:
                    value, row, computed = _reference_mean(chosen, kind, model, categories, full)
                else:
                    row, computed = chosen.get((kind, model, category.lower())), False
                    value = math.nan if row is None else float(row["value"])
                note = "" if row is None else _note(row)
                hover = f"mean of its per-category values ({note})" if computed else note
                comparisons.append(compare(ours.get((model, category)), value, hover))
                if not math.isnan(value) and note:
                    used[f"{KIND_TITLES.get(kind, kind)}: {note}"] = None
            printed = mean_label if category == MEAN_CATEGORY else labels.category(dataset, category)
            table.rows.append(ReproductionRow(labels.model(model), printed, _ours_text(ours.get((model, category))),
                                              comparisons, first=category == categories[0],
                                              mean=category == MEAN_CATEGORY,
                                              beside=_ours_text(beside.get((model, category))) if beside else ""))
    table.sources = list(used)
    return table


def reference_metrics(references: pd.DataFrame) -> list[str]:
    """Reference metrics in the report's order (image AUROC, pixel AUROC, AU-PRO, PRO, then the rest)."""
    order = ["image_AUROC", "pixel_AUROC", "pixel_AUPRO", "pixel_PRO"]
    present = list(dict.fromkeys(references["metric"]))
    return [metric for metric in order if metric in present] + [metric for metric in present if metric not in order]


def reproduction_tables(frame: pd.DataFrame, references: pd.DataFrame, labels: Labels,
                        backbones: dict[str, str] | None = None) -> list[ReproductionTable]:
    tables = []
    for dataset in dict.fromkeys(frame["dataset"]):
        for metric in reference_metrics(references[references["dataset"] == labels.dataset_type(dataset)]):
            table = reproduction_table(frame, references, dataset, metric, labels, backbones)
            if table is not None:
                tables.append(table)
    return tables


@dataclass
class AuditTable:
    """The study's cells that need a word (:func:`iadbench.report.references.study_audit_cells`: threshold-saturated
    PRO, degenerate scores), ours beside each of its values."""

    metrics: list[str]  # reference metrics with a value in the audit
    rows: list[dict] = field(default_factory=list)  # model, category, reason, study: [...], ours: [...]

    label = "study-audit"

    @property
    def metric_titles(self) -> list[str]:
        """Short (the audit has two columns per metric, plus its reasons): PRO is the study's, at one threshold."""
        return [AUDIT_TITLES.get(metric, metric_title(our_column(metric))) for metric in self.metrics]


AUDIT_KEYS = ("dataset", "category", "model", "reason")
AUDIT_TITLES = {"image_AUROC": "Image AUROC", "pixel_AUROC": "Pixel AUROC", "pixel_PRO": "PRO",
                "pixel_AUPRO": "AU-PRO"}


def _wide_audit(implausible: pd.DataFrame) -> pd.DataFrame:
    """One row per cell with a column per metric; a long audit (metric, value columns) is pivoted."""
    if {"metric", "value"} <= set(implausible.columns):
        keys = [key for key in ("dataset", "category", "model") if key in implausible]
        reasons = implausible.groupby(keys, sort=False)["reason"].agg(lambda texts: "; ".join(dict.fromkeys(texts)))
        values = implausible.pivot_table(index=keys, columns="metric", values="value", aggfunc="first", sort=False)
        return values.join(reasons).reset_index()
    return implausible


def study_audit(frame: pd.DataFrame, implausible: pd.DataFrame, labels: Labels) -> AuditTable | None:
    """The audit rows of the dataset types we ran (one block per dataset of ours of that type); None when
    there are none."""
    if implausible is None or implausible.empty:
        return None
    wide = _wide_audit(implausible)
    metrics = [column for column in wide.columns if column not in AUDIT_KEYS
               and pd.api.types.is_numeric_dtype(wide[column]) and wide[column].notna().any()]
    metrics = reference_metrics(pd.DataFrame({"metric": metrics}))
    audit = AuditTable(metrics=metrics)
    for dataset in dict.fromkeys(frame["dataset"]):
        rows = wide[wide["dataset"] == labels.dataset_type(dataset)]
        if rows.empty:
            continue
        ours = {metric: our_values(frame, dataset, our_column(metric)) for metric in metrics}
        position = {category: index for index, category in enumerate(labels.order(dataset, rows["category"]))}
        rows = rows.sort_values(["model", "category"], kind="stable",
                                key=lambda column: column.map(position) if column.name == "category" else column)
        for record in rows.to_dict("records"):
            category, model = record["category"], record["model"]
            audit.rows.append({
                "dataset": dataset, "model": labels.model(model), "category": labels.category(dataset, category),
                "reason": str(record.get("reason", "")),
                "study": [NOT_APPLICABLE if pd.isna(record[metric]) else percent(record[metric]) for metric in metrics],
                # The mean only: the audit is about gross contradictions, and must fit a page.
                "ours": [percent(value.mean) if (value := ours[metric].get((model, category))) else NOT_APPLICABLE
                         for metric in metrics],
            })
    return audit if audit.rows else None
