"""Comparing methods across categories: average ranks, Friedman test, Nemenyi critical difference.

Follows Demšar, "Statistical Comparisons of Classifiers over Multiple Data Sets", JMLR 2006:
methods are ranked within each category (1 = best, ties share the mean rank), ranks are averaged
over categories, the Friedman test asks whether the methods differ at all, and two methods differ
significantly (Nemenyi post-hoc) when their average ranks differ by more than
CD = q_alpha * sqrt(k (k + 1) / (6 N)), with k methods and N categories. As in scikit-posthocs and autorank,
the post-hoc step (the CD diagram) only follows a Friedman test that rejects at alpha (:attr:`RankComparison.
significant`); otherwise the report says there is no significant difference and draws none.

The CD is computed and drawn here by hand (~60 lines) rather than with scikit-posthocs or autorank: neither is
in the locked environment, and one figure does not justify a new pinned, hashed dependency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats


@dataclass(frozen=True)
class RankComparison:
    average_ranks: pd.Series  # method → average rank, best first
    n_categories: int
    friedman_statistic: float
    friedman_p_value: float
    critical_difference: float
    alpha: float

    @property
    def significant(self) -> bool:
        """Whether the Friedman (two methods: Wilcoxon) test rejects "no difference" at alpha: only then is a
        Nemenyi post-hoc comparison, the CD diagram, drawn (a NaN p never rejects)."""
        return self.friedman_p_value < self.alpha

    def verdict(self) -> str:
        """One line for the report: the test's p and whether a CD diagram follows."""
        test = "Friedman" if len(self.average_ranks) >= 3 else "Wilcoxon signed-rank"
        if self.significant:
            return (f"{test} p = {self.friedman_p_value:.3g} < α = {self.alpha:g}: the methods differ across "
                    f"categories; CD diagram (Nemenyi, CD = {self.critical_difference:.2f}).")
        return (f"{test} p = {self.friedman_p_value:.3g}: no significant difference across categories; "
                f"no CD diagram (α = {self.alpha:g}).")


CELL_KEYS = ["dataset", "category", "model"]


def complete_cells(frame: pd.DataFrame) -> pd.Series:
    """Per row: whether its model x category cell is complete (every seed of it in ``frame`` is ok)."""
    ok = frame["status"].eq("ok").fillna(False).astype(bool)
    return ok.groupby([frame[key] for key in CELL_KEYS], sort=False, dropna=False).transform("all")


def score_grid(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Categories x methods of one metric (seeds averaged), keeping categories every method has.

    Only complete cells count: the mean of the seeds that happened to survive is not comparable
    with a mean over every seed (a failing seed is often a hard one)."""
    complete = frame[complete_cells(frame)]
    grid = complete.pivot_table(index=["dataset", "category"], columns="model", values=metric, aggfunc="mean")
    return grid.dropna(axis=0, how="any")


def average_ranks(grid: pd.DataFrame) -> pd.Series:
    """Mean rank per method over the rows of ``grid`` (higher score = better = rank 1)."""
    ranks = grid.rank(axis=1, ascending=False, method="average")
    return ranks.mean(axis=0).sort_values()


def nemenyi_critical_difference(n_methods: int, n_categories: int, alpha: float = 0.05) -> float:
    """Demšar's CD; q_alpha is the studentized range quantile (infinite df) over sqrt(2)."""
    q_alpha = stats.studentized_range.ppf(1 - alpha, n_methods, np.inf) / math.sqrt(2)
    return float(q_alpha * math.sqrt(n_methods * (n_methods + 1) / (6 * n_categories)))


def compare_methods(frame: pd.DataFrame, metric: str, alpha: float = 0.05) -> RankComparison | None:
    """Ranks and tests for one metric; None when fewer than 2 methods or 3 complete categories."""
    grid = score_grid(frame, metric)
    if grid.shape[1] < 2 or grid.shape[0] < 3:
        return None
    if grid.shape[1] >= 3:
        statistic, p_value = stats.friedmanchisquare(*(grid[column].to_numpy() for column in grid.columns))
    else:  # Friedman needs 3 methods; with 2 the Wilcoxon signed-rank test answers the same question
        differences = grid.iloc[:, 0] - grid.iloc[:, 1]
        statistic, p_value = (stats.wilcoxon(differences) if differences.any() else (0.0, 1.0))
    return RankComparison(
        average_ranks=average_ranks(grid),
        n_categories=grid.shape[0],
        friedman_statistic=float(statistic),
        friedman_p_value=float(p_value),
        critical_difference=nemenyi_critical_difference(grid.shape[1], grid.shape[0], alpha),
        alpha=alpha,
    )
