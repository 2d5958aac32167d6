"""A continual training job: :func:`iadbench.run.jobs.run_training` with the step's ``continual`` fields (see
:mod:`iadbench.run.continual_step`), then every seen category's predictions and info files."""

from __future__ import annotations

from typing import Any

from iadbench.run.continual_step import finish_step
from iadbench.run.jobs import run_training

__all__ = ["finish_step", "run_step"]


def run_step(*, seen_categories: list[str], **job_args: Any) -> None:
    """A continual training job: :func:`iadbench.run.jobs.run_training` (a child process, the job folder's lock,
    the attempts ledger) with the step's ``continual`` fields, then :func:`finish_step`."""
    run_training(**job_args)
    finish_step(job_args["out_dir"], seen_categories)
