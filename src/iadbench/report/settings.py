"""Settings in the report (:mod:`iadbench.config.settings`): tables never mix them.

The primary setting (one-class where it ran, else the first in the results) has the report's full treatment
(summary, tables, ranks, figures, reproduction); every other setting gets its own metric tables, titled with
the setting, in its dataset's section; and where a model ran both one-class and unified on a dataset, a table
puts its two rows side by side per category (each row is the mean of that setting's seeds).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from iadbench.config.settings import DEFAULT_SETTING, SETTING_PATTERN, parse_setting, setting_title
from iadbench.report.labels import Labels
from iadbench.report.reproduction import ReproductionTable, reproduction_tables
from iadbench.report.tables import Cell, Table, report_tables
from iadbench.results.columns import NOT_APPLICABLE, metric_title
from iadbench.results.columns import percent as _percent
from iadbench.stats.evidence import Evidence, read_evidence

# The metrics the unified-vs-one-class table compares (ADer's and the unified papers' headline metrics).
COMPARED_METRICS = ("image_AUROC", "pixel_AUROC")
COMPARISON_NOTE = ("Each row is the mean over that setting's seeds; unified: one model trained on every category "
                   "of the dataset, one-class: one model per category. Bold: the better of a model's two rows.")


def settings_of(frame: pd.DataFrame) -> list[str]:
    """The settings of ``frame``'s rows, primary first (one-class where present)."""
    names = list(dict.fromkeys(frame["setting"])) if "setting" in frame and len(frame) else [DEFAULT_SETTING]
    return sorted(names, key=lambda name: name != DEFAULT_SETTING)


def split_settings(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The primary setting's rows and the others' rows by setting."""
    names = settings_of(frame)
    if "setting" not in frame:
        return frame, {}
    return frame[frame["setting"] == names[0]], {name: frame[frame["setting"] == name] for name in names[1:]}


def path_setting(path: str | Path) -> str:
    """The setting level of ``results/<stage>/<setting>/<dataset>/<category>/<model>/<seed>/<file>``."""
    parts = Path(path).parts
    level = parts[-6] if len(parts) >= 6 else ""
    return level if re.fullmatch(SETTING_PATTERN, level) else DEFAULT_SETTING  # a path from before settings


def gallery_setting(path: str | Path) -> str:
    """A gallery strip's (``results/gallery/<setting>/<dataset>/<category>/<model>/<seed>.png``) caption suffix:
    its setting unless one-class."""
    parts = Path(path).parts
    level = parts[-5] if len(parts) >= 5 else ""
    return f" ({setting_title(level)})" if re.fullmatch(SETTING_PATTERN, level) and level != DEFAULT_SETTING else ""


def evidence_by_setting(score_paths: Iterable, bootstrap_paths: Iterable) -> dict[str, Evidence]:
    """The evaluation jobs' evidence (:func:`iadbench.stats.evidence.read_evidence`) per setting: its keys
    (dataset, category, model, seed) are unique within a setting only."""
    scores, bootstraps = list(score_paths), list(bootstrap_paths)
    names = dict.fromkeys(map(path_setting, scores + bootstraps))
    return {name: read_evidence([path for path in scores if path_setting(path) == name],
                                [path for path in bootstraps if path_setting(path) == name]) for name in names}


def name_primary(tables: list[Table], primary: str, others: dict[str, pd.DataFrame]) -> list[Table]:
    """The primary setting's tables, their titles naming it when other settings ran beside it."""
    if others:
        for table in tables:
            table.title = f"{table.title}, {setting_title(primary)}"
    return tables


def setting_tables(frames: dict[str, pd.DataFrame], labels: Labels,
                   evidence: dict[str, Evidence] | None = None) -> list[Table]:
    """Every table of each non-primary setting, its title and label naming the setting."""
    tables = []
    for name, rows in frames.items():
        parse_setting(name)  # an unknown setting is an error, never a silently merged table
        for table in report_tables(rows, labels, (evidence or {}).get(name)):
            table.setting = name
            table.title = f"{table.title}, {setting_title(name)}"
            tables.append(table)
    return tables


def unified_beside_one_class(frame: pd.DataFrame, labels: Labels) -> list[Table]:
    """Per dataset and compared metric, the models that ran both one-class and unified: two rows each."""
    if "setting" not in frame:
        return []
    ok = frame[frame["status"].eq("ok").fillna(False).astype(bool)]
    tables = []
    for dataset in dict.fromkeys(ok["dataset"]):
        rows = ok[(ok["dataset"] == dataset) & ok["setting"].isin([DEFAULT_SETTING, "unified"])]
        both = [model for model in dict.fromkeys(rows["model"])
                if set(rows.loc[rows["model"] == model, "setting"]) == {DEFAULT_SETTING, "unified"}]
        if not both:
            continue
        categories = labels.order(dataset, rows["category"])
        for metric in COMPARED_METRICS:
            if metric not in rows or rows[metric].isna().all():
                continue
            means = rows.groupby(["model", "setting", "category"])[metric].mean().to_dict()
            table = Table(dataset=dataset, metric=metric, setting="unified-vs-one-class",
                          title=f"{metric_title(metric)}: unified beside one-class",
                          columns=categories + ["Mean"],
                          header=[labels.category(dataset, category) for category in categories] + ["Mean"],
                          notes=[COMPARISON_NOTE])
            for model in both:
                values = {setting: [float(means.get((model, setting, category), math.nan)) for category in categories]
                          for setting in (DEFAULT_SETTING, "unified")}
                for own in values.values():
                    own.append(math.fsum(own) / len(categories) if not any(map(math.isnan, own)) else math.nan)
                for setting, own in values.items():
                    other = values["unified" if setting == DEFAULT_SETTING else DEFAULT_SETTING]
                    key = f"{model}@{setting}"
                    table.names[key] = f"{labels.model(model)} ({setting_title(setting)})"
                    table.rows.append((key, [
                        Cell(NOT_APPLICABLE if math.isnan(value) else _percent(value),
                             bold=not math.isnan(value) and (math.isnan(rival) or value >= rival))
                        for value, rival in zip(own, other, strict=True)]))
            tables.append(table)
    return tables


def add_setting_tables(sections: list[dict], tables: list[Table]) -> None:
    """Put each setting's table in its dataset's section of the report (after the primary setting's)."""
    by_name = {section["name"]: section for section in sections}
    for table in tables:
        if table.dataset in by_name:
            by_name[table.dataset]["tables"] = [*by_name[table.dataset]["tables"], table]


def references_for(references: pd.DataFrame | None, setting: str) -> pd.DataFrame | None:
    """The published numbers of ``setting`` (a reference file's ``setting`` column; none or empty: one-class):
    ours are only ever set beside numbers of the same protocol."""
    if references is None or references.empty:
        return references
    given = references["setting"].astype(str).str.strip() if "setting" in references else pd.Series(
        "", index=references.index)
    return references[given.where(given != "", DEFAULT_SETTING) == setting]


def setting_reproduction(frames: dict[str, pd.DataFrame], references: pd.DataFrame | None, labels: Labels,
                         backbones: dict[str, str] | None) -> list[ReproductionTable]:
    """The reproduction tables of the non-primary settings that have published numbers (unified: ADer's)."""
    tables = []
    for name, rows in frames.items():
        chosen = references_for(references, name)
        if chosen is None or chosen.empty:
            continue
        for table in reproduction_tables(rows, chosen, labels, backbones):
            table.setting = name
            tables.append(table)
    return tables
