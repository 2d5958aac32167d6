"""The continual setting's tables: the evaluation rows → the accuracy matrix → ACC / FM / BWT per metric.

- ``category_matrix.parquet``: every evaluation job's row (the main benchmark's row schema) with the
  continual keys: one row per (sequence, model, seed, strategy, step, category).
- ``matrix.parquet``: one row per (sequence, model, seed, strategy, step, evaluated task): a task's metric is
  the mean over its categories (NaN unless every one of them succeeded).
- ``summary.parquet``: per (sequence, model, seed, strategy, metric), :func:`iadbench.metrics.continual.continual_summary`
  of the T x T matrix (rows: after step l, columns: task j).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from iadbench.metrics.continual import continual_summary
from iadbench.results.rows import metric_columns, read_rows, write_row

RUN_KEYS = ["sequence", "model", "seed", "strategy"]
MATRIX_KEYS = [*RUN_KEYS, "step", "task"]
SUMMARY_VALUES = ["ACC", "FM", "BWT", "relative_FM"]


def path_keys(row_path: str | Path) -> dict[str, object]:
    """The continual keys of ``.../evaluate/{sequence}/{model}/{seed}/{strategy}/step{t}/{category}/row.parquet``."""
    sequence, model, seed, strategy, step, category = Path(row_path).parts[-7:-1]
    return {"sequence": sequence, "model": model, "seed": int(seed), "strategy": strategy,
            "step": int(step.removeprefix("step")), "category": category}


def category_rows(row_paths: Iterable[str | Path], tasks: dict[str, list[list[str]]]) -> pd.DataFrame:
    """The evaluation rows with sequence, strategy, step and task (1-based) in front."""
    paths = list(row_paths)
    rows = read_rows(paths)
    keys = pd.DataFrame([path_keys(path) for path in paths], index=rows.index)
    keys["task"] = [next(index for index, task in enumerate(tasks[sequence], 1) if category in task)
                    for sequence, category in zip(keys["sequence"], keys["category"])]
    rows = rows.drop(columns=["model", "seed", "category"])
    frame = pd.concat([keys[[*MATRIX_KEYS, "category"]], rows], axis=1)
    return frame.sort_values([*MATRIX_KEYS, "category"], kind="stable").reset_index(drop=True)


def task_matrix(categories: pd.DataFrame) -> pd.DataFrame:
    """One row per evaluated task: each metric the mean over the task's categories (NaN if one failed)."""
    metrics = metric_columns(categories.columns, frame_metrics=False)
    records = []
    for key, group in categories.groupby(MATRIX_KEYS, sort=True):
        ok = bool((group["status"] == "ok").all())
        record = dict(zip(MATRIX_KEYS, key, strict=True))
        record.update(dataset=group["dataset"].iloc[0], categories="+".join(group["category"]),
                      n_categories=len(group), status="ok" if ok else "failed",
                      error_tail="; ".join(f"{category}: {tail}" for category, tail, status in
                                           zip(group["category"], group["error_tail"], group["status"])
                                           if status != "ok"))
        for metric in metrics:
            values = group[metric].astype(float)
            record[metric] = float(values.mean()) if ok and values.notna().all() else np.nan
        records.append(record)
    columns = [*MATRIX_KEYS, "dataset", "categories", "n_categories", "status", "error_tail", *metrics]
    frame = pd.DataFrame.from_records(records, columns=columns)
    return frame.astype({"seed": "int64", "step": "int64", "task": "int64", "n_categories": "int64"})


def accuracy_matrix(run: pd.DataFrame, metric: str) -> np.ndarray:
    """The T x T matrix of one run's metric (rows: after step l, columns: task j; NaN where absent)."""
    n_tasks = int(max(run["step"].max(), run["task"].max()))
    values = np.full((n_tasks, n_tasks), np.nan)
    values[run["step"].to_numpy() - 1, run["task"].to_numpy() - 1] = run[metric].astype(float).to_numpy()
    return values


def summary_table(matrix: pd.DataFrame) -> pd.DataFrame:
    """Per run and metric: T, ACC, FM, BWT, relative FM and the reason any is undefined."""
    records = []
    for key, run in matrix.groupby(RUN_KEYS, sort=True):
        for metric in metric_columns(matrix.columns, frame_metrics=False):
            if run[metric].isna().all():
                continue  # e.g. pixel metrics of a classification model
            records.append({**dict(zip(RUN_KEYS, key, strict=True)), "metric": metric,
                            **continual_summary(accuracy_matrix(run, metric))})
    columns = [*RUN_KEYS, "metric", "n_tasks", *SUMMARY_VALUES, "note"]
    return pd.DataFrame.from_records(records, columns=columns).astype({"seed": "int64", "n_tasks": "int64"})


def build_matrix(row_paths: Iterable[str | Path], tasks: dict[str, list[list[str]]], matrix_path: str | Path,
                 categories_path: str | Path) -> pd.DataFrame:
    categories = category_rows(row_paths, tasks)
    write_row(categories, categories_path)
    matrix = task_matrix(categories)
    write_row(matrix, matrix_path)
    return matrix


def build_summary(matrix_path: str | Path, summary_path: str | Path) -> pd.DataFrame:
    summary = summary_table(pd.read_parquet(matrix_path))
    write_row(summary, summary_path)
    return summary
