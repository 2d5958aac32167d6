"""The unified setting's training job (:mod:`iadbench.config.settings`): one model fitted on the defect-free
images of every configured category of a dataset, then each category's test set predicted on its own.

It is the continual setting's ``joint`` step 1 over all the categories at once
(:class:`iadbench.run.continual_step.ContinualStep`: the union of the categories' training sets, then one
prediction per category), run like any training job (:func:`iadbench.run.jobs.run_training`: a child
process, the job folder's lock, the attempts ledger). Each category gets ``predictions/<category>.npz`` and
``predictions/<category>.json`` (the record with that category's test counts; a failed training gives
every category a failed record), which its evaluation job reads as a one-class job reads its own files.
"""

from __future__ import annotations

from typing import Any

from iadbench.run.continual_step import finish_step
from iadbench.run.jobs import run_training


def unified_step(categories: list[str]) -> dict[str, Any]:
    """The ``continual`` fields of :func:`iadbench.run.train.train_job` for a unified model of ``categories``."""
    return {"step": 1, "strategy": "joint", "train_categories": list(categories), "seen_categories": list(categories)}


def run_unified(*, categories: list[str], **job_args: Any) -> dict[str, Any]:
    """Train the unified model of ``categories`` and write every category's predictions and record."""
    if not categories:
        raise ValueError("the unified setting needs at least one category")
    info = run_training(category=categories[0], continual=unified_step(categories), **job_args)
    finish_step(job_args["out_dir"], list(categories))
    return info
