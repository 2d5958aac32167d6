"""The summary that opens each dataset of the report: every model's mean over categories per metric (the Mean
column of each metric table) and its average rank, with the rank test's verdict, before the per-category
tables. Everything is taken from the tables and the rows; nothing is typed in."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from iadbench.report.labels import Labels
from iadbench.report.tables import Cell, Table, ranked_metrics
from iadbench.report.templating import slug
from iadbench.results.columns import NOT_APPLICABLE, metric_title
from iadbench.stats.ranking import RankComparison, compare_methods

INCOMPLETE = "incomplete"
INCOMPLETE_NOTE = "no mean: some category of that model has failed or partial seeds (see its table)."


def _mean_cell(table: Table, model: str) -> Cell:
    """The Mean cell of ``model``'s row in ``table``; "incomplete" where the row has values but no mean."""
    cells = dict(table.rows).get(model)
    if not cells:
        return Cell(NOT_APPLICABLE)
    if cells[-1].text == NOT_APPLICABLE and any(cell.text != NOT_APPLICABLE for cell in cells[:-1]):
        return Cell(INCOMPLETE, note=INCOMPLETE_NOTE)
    return cells[-1]


@dataclass
class Summary:
    dataset: str
    header: list[str]  # metric titles, then the average rank's title (when ranked)
    links: list[str]  # the id of each metric's table (same order as the metric columns)
    rows: list[tuple[str, list[Cell]]] = field(default_factory=list)  # (printed model name, cells)
    verdict: str = ""  # the rank test's result, or why there is none
    metric: str = ""  # the metric ranked (image AUROC where present)
    comparison: RankComparison | None = None  # its rank comparison (the dataset's CD diagram when significant)

    @property
    def label(self) -> str:
        return slug(f"{self.dataset}-summary")


def dataset_summary(frame: pd.DataFrame, dataset: str, tables: list[Table], labels: Labels) -> Summary:
    """``dataset``'s summary from its metric ``tables`` (their Mean cells, bold/intervals as there) and the
    average ranks over its complete categories of the first ranked metric (image AUROC where present)."""
    tables = [table for table in tables if table.dataset == dataset]
    rows = frame[frame["dataset"] == dataset]
    ranked = [metric for metric in ranked_metrics(rows) if metric in rows and rows[metric].notna().any()]
    comparison = compare_methods(rows, ranked[0]) if ranked else None
    header = [table.title for table in tables]
    if comparison is not None:
        header.append(f"Avg rank ({metric_title(ranked[0])})")
    models = list(dict.fromkeys(model for table in tables for model, _ in table.rows))
    if comparison is not None:  # best rank first; unranked models after, in their configured order
        models.sort(key=lambda model: comparison.average_ranks.get(model, float("inf")))
    summary = Summary(dataset=dataset, header=header, links=[table.label for table in tables],
                      metric=ranked[0] if ranked else "", comparison=comparison)
    for model in models:
        cells = [_mean_cell(table, model) for table in tables]
        if comparison is not None:
            rank = comparison.average_ranks.get(model)
            cells.append(Cell(NOT_APPLICABLE if rank is None else f"{rank:.2f}"))
        summary.rows.append((labels.model(model), cells))
    if any(cell.text == INCOMPLETE for _, cells in summary.rows for cell in cells):
        summary.verdict = f"{INCOMPLETE}: {INCOMPLETE_NOTE} "
    if comparison is not None:
        summary.verdict += (f"Average rank over {comparison.n_categories} complete categories "
                           f"(1 = best): {comparison.verdict()}")
    elif ranked:
        summary.verdict += "No average rank: fewer than 2 methods or 3 categories with complete values."
    return summary


def dataset_sections(frame: pd.DataFrame, tables: list[Table], labels: Labels) -> list[dict]:
    """Per dataset with tables, in their order: {"name", "id" (an HTML id), "summary", "tables"}."""
    return [{"name": dataset, "id": slug(dataset).strip("-") or "dataset",
             "summary": dataset_summary(frame, dataset, tables, labels),
             "tables": [table for table in tables if table.dataset == dataset]}
            for dataset in dict.fromkeys(table.dataset for table in tables)]


def rank_summary(frame: pd.DataFrame) -> tuple[list[str], list[tuple[str, list[str]]], dict]:
    """Average rank of each method over the categories where every method has a complete cell, per ranked
    metric."""
    comparisons = {metric: compare_methods(frame, metric) for metric in ranked_metrics(frame)}
    comparisons = {metric: comparison for metric, comparison in comparisons.items() if comparison is not None}
    models = sorted({model for comparison in comparisons.values() for model in comparison.average_ranks.index})
    if comparisons:  # best first by the first ranked metric (image AUROC where present); unranked ones last
        first = next(iter(comparisons.values())).average_ranks
        models.sort(key=lambda model: first.get(model, float("inf")))
    rows = [(model, [f"{comparisons[metric].average_ranks[model]:.2f}"
                     if model in comparisons[metric].average_ranks else NOT_APPLICABLE for metric in comparisons])
            for model in models]
    return list(comparisons), rows, comparisons
