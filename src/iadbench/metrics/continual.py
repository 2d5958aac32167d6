"""The continual setting's summary of an accuracy matrix: ACC, FM, BWT."""

from __future__ import annotations

import numpy as np


def continual_summary(matrix) -> dict[str, float | int | str]:
    """Final average accuracy, Forgetting Measure and backward transfer of one accuracy matrix.

    ``matrix[l, j]`` (0-based; T x T, entries with ``j > l`` ignored) is a metric of task ``j`` after
    training step ``l``. With ``T`` tasks (1-based below, as in the papers):

    * ``ACC`` = mean over j ≤ T of a_T,j (the final model on every task);
    * ``FM`` (Chaudhry et al., ECCV 2018) = mean over j < T of f_j, f_j = max over j ≤ l < T of a_l,j − a_T,j
      (how much the final model lost on task j from its best; ties in the max change nothing);
    * ``BWT`` = mean over j < T of a_T,j − a_j,j (negative: forgetting);
    * ``relative_FM`` (CLAD) = mean over j < T of f_j / max over j ≤ l < T of a_l,j.

    A value that is undefined is NaN with the reason in ``note``: T = 1 (no earlier task, so FM, BWT and
    relative FM), a missing (NaN) entry the value needs, or a best value ≤ 0 (relative FM).
    Returns keys ``n_tasks``, ``ACC``, ``FM``, ``BWT``, ``relative_FM``, ``note``.
    """
    values = np.asarray(matrix, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] != values.shape[1] or values.shape[0] == 0:
        raise ValueError(f"an accuracy matrix is T x T with T >= 1, got shape {values.shape}")
    n_tasks = values.shape[0]
    final = values[-1]
    notes = []
    result: dict[str, float | int | str] = {"n_tasks": n_tasks, "ACC": float(np.mean(final)), "FM": np.nan,
                                            "BWT": np.nan, "relative_FM": np.nan}
    if np.isnan(final).any():
        notes.append("ACC: the final step misses task(s) " + _task_list(np.flatnonzero(np.isnan(final))))
    if n_tasks == 1:
        notes.append("one task: FM, BWT and relative FM need an earlier task")
        result["note"] = "; ".join(notes)
        return result
    earlier = np.tril(np.ones_like(values, dtype=bool))[:-1, :-1]  # a_l,j with j <= l < T
    history = np.where(earlier, values[:-1, :-1], -np.inf)
    missing = earlier & np.isnan(values[:-1, :-1])
    if missing.any() or np.isnan(final[:-1]).any():
        rows, columns = np.nonzero(missing)
        entries = [f"a_{row + 1},{column + 1}" for row, column in zip(rows, columns)]
        entries += [f"a_{n_tasks},{column + 1}" for column in np.flatnonzero(np.isnan(final[:-1]))]
        notes.append("FM, BWT, relative FM: missing " + ", ".join(entries))
    else:
        best = history.max(axis=0)
        forgetting = best - final[:-1]
        result["FM"] = float(np.mean(forgetting))
        result["BWT"] = float(np.mean(final[:-1] - np.diag(values)[:-1]))
        if (best > 0).all():
            result["relative_FM"] = float(np.mean(forgetting / best))
        else:
            notes.append("relative FM: best value <= 0 for task(s) " + _task_list(np.flatnonzero(best <= 0)))
    result["note"] = "; ".join(notes)
    return result


def _task_list(indices) -> str:
    return ", ".join(str(int(index) + 1) for index in indices)
