"""ACC / FM / BWT / relative FM of an accuracy matrix, checked by hand; the matrix and summary tables."""

import math

import numpy as np
import pandas as pd
import pytest

from iadbench.continual.results import summary_table, task_matrix
from iadbench.metrics.continual import continual_summary

NAN = math.nan


def test_three_tasks_by_hand():
    matrix = [[0.9, NAN, NAN],
              [0.8, 0.7, NAN],
              [0.6, 0.7, 0.5]]
    result = continual_summary(matrix)
    # f_1 = max(0.9, 0.8) - 0.6 = 0.3, f_2 = 0.7 - 0.7 = 0
    assert result["n_tasks"] == 3 and result["note"] == ""
    assert result["ACC"] == pytest.approx((0.6 + 0.7 + 0.5) / 3)
    assert result["FM"] == pytest.approx(0.15)
    assert result["BWT"] == pytest.approx(((0.6 - 0.9) + (0.7 - 0.7)) / 2)
    assert result["relative_FM"] == pytest.approx((0.3 / 0.9 + 0.0 / 0.7) / 2)


def test_the_best_earlier_value_counts_not_the_diagonal():
    # Task 1 improves after step 2, then drops: f_1 = 0.95 - 0.85 = 0.1, but a_2,1... BWT uses a_1,1.
    matrix = [[0.8, NAN, NAN],
              [0.95, 0.6, NAN],
              [0.85, 0.65, 0.7]]
    result = continual_summary(matrix)
    assert result["FM"] == pytest.approx((0.1 + (0.6 - 0.65)) / 2)  # negative forgetting on task 2
    assert result["BWT"] == pytest.approx(((0.85 - 0.8) + (0.65 - 0.6)) / 2)
    assert result["relative_FM"] == pytest.approx((0.1 / 0.95 - 0.05 / 0.6) / 2)


def test_ties_in_the_maximum_change_nothing():
    tied = [[0.9, NAN, NAN], [0.9, 0.8, NAN], [0.7, 0.8, 0.6]]
    single = [[0.9, NAN, NAN], [0.5, 0.8, NAN], [0.7, 0.8, 0.6]]
    assert continual_summary(tied)["FM"] == pytest.approx(0.1) == continual_summary(single)["FM"]
    flat = continual_summary(np.full((4, 4), 0.75))
    assert flat["FM"] == 0 and flat["BWT"] == 0 and flat["relative_FM"] == 0 and flat["ACC"] == 0.75


def test_entries_above_the_diagonal_are_ignored():
    lower = [[0.9, NAN], [0.6, 0.8]]
    filled = [[0.9, 0.1], [0.6, 0.8]]
    assert continual_summary(lower) == continual_summary(filled)


def test_one_task_has_no_forgetting_defined():
    result = continual_summary([[0.8]])
    assert result["ACC"] == 0.8
    assert math.isnan(result["FM"]) and math.isnan(result["BWT"]) and math.isnan(result["relative_FM"])
    assert "one task" in result["note"]


def test_a_missing_entry_gives_nan_with_the_entry_named():
    result = continual_summary([[NAN, NAN], [0.6, 0.8]])
    assert result["ACC"] == pytest.approx(0.7)
    assert math.isnan(result["FM"]) and "a_1,1" in result["note"]
    final_missing = continual_summary([[0.9, NAN], [NAN, 0.8]])
    assert math.isnan(final_missing["ACC"]) and math.isnan(final_missing["FM"]) and "a_2,1" in final_missing["note"]


def test_relative_fm_needs_a_positive_best():
    result = continual_summary([[0.0, NAN], [0.0, 0.5]])
    assert result["FM"] == 0 and math.isnan(result["relative_FM"]) and "best value <= 0" in result["note"]


@pytest.mark.parametrize("bad", [[], [[0.1, 0.2]], [0.5]])
def test_a_matrix_is_square(bad):
    with pytest.raises(ValueError, match="T x T"):
        continual_summary(bad)


def _category_rows(values: dict[tuple[int, str], float], failed: tuple = ()) -> pd.DataFrame:
    """Rows of one run on tasks [a], [b, c]: (step, category) → image_AUROC."""
    task = {"a": 1, "b": 2, "c": 2}
    records = [{"sequence": "s", "model": "padim", "seed": 0, "strategy": "naive", "step": step,
                "task": task[category], "category": category, "dataset": "d",
                "status": "failed" if (step, category) in failed else "ok", "error_tail": "boom",
                **{metric: value for metric in ("image_AUROC", "image_AP", "image_F1_max", "pixel_AUROC", "pixel_AP",
                                                "pixel_F1_max", "pixel_AUPRO")}}
               for (step, category), value in values.items()]
    return pd.DataFrame.from_records(records)


def test_a_task_of_several_categories_is_their_mean():
    rows = _category_rows({(1, "a"): 0.9, (2, "a"): 0.6, (2, "b"): 0.8, (2, "c"): 0.6})
    matrix = task_matrix(rows)
    assert list(zip(matrix["step"], matrix["task"], matrix["categories"])) == [(1, 1, "a"), (2, 1, "a"), (2, 2, "b+c")]
    assert matrix["image_AUROC"].tolist() == pytest.approx([0.9, 0.6, 0.7])
    summary = summary_table(matrix).set_index("metric")
    assert summary.loc["image_AUROC", "FM"] == pytest.approx(0.3)
    assert summary.loc["image_AUROC", "ACC"] == pytest.approx(0.65)


def test_a_failed_category_fails_its_task():
    matrix = task_matrix(_category_rows({(1, "a"): 0.9, (2, "a"): 0.6, (2, "b"): 0.8, (2, "c"): 0.6},
                                        failed={(2, "c")}))
    failed = matrix[matrix["task"] == 2].iloc[0]
    assert failed["status"] == "failed" and math.isnan(failed["image_AUROC"]) and "c: boom" in failed["error_tail"]
    summary = summary_table(matrix).set_index("metric")
    assert summary.loc["image_AUROC", "FM"] == pytest.approx(0.3)  # task 2 is the last: FM needs only a_2,1
    assert math.isnan(summary.loc["image_AUROC", "ACC"]) and "task(s) 2" in summary.loc["image_AUROC", "note"]
