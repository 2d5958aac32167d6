"""Running a job in an isolated child process: the one runner of training, timing and evaluation.

The parent holds the job folder's lock (:func:`iadbench.run.attempts.job_lock`) and, when the job may use a GPU,
a GPU slot for the child's whole life; the child (``python -m <module> <args.json>``) sees only its GPU and, with
``weights: pretrained``, the offline asset cache. What the child leaves (or, killed, does not) is the caller's
to judge: :func:`iadbench.run.attempts.child_failure`, :func:`iadbench.run.attempts.settle`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iadbench.core import forkclient, forkserver
from iadbench.core.gpus import gpu_slot
from iadbench.run import attempts


@dataclass
class IsolatedChild:
    job_dir: Path
    lock: int  # the job lock's file descriptor, handed to the child
    device: str | None  # the GPU the child sees (CUDA_VISIBLE_DEVICES), None without one
    environment: dict[str, str]

    def run(self, module: str, args: dict[str, Any]) -> int:
        """Run ``python -m <module>`` on ``args``; its exit status (negative: killed by that signal)."""
        return attempts.run_child(module, args, self.job_dir, self.lock, self.environment)


@contextlib.contextmanager
def isolated_child(job_dir: str | Path, *, stale: Iterable[str | Path] = (), gpu_lock_dir: str | Path = ".snakemake/gpu-slots",
                   gpu_slots: int = 0, weights: str | None = None,
                   asset_dir: str | Path | None = None) -> Iterator[IsolatedChild]:
    """Inside the block, the job folder is locked (and a GPU slot held, of ``gpu_slots``); the ``stale`` outputs
    of an earlier attempt are gone, never to be mistaken for this one's."""
    job_dir = Path(job_dir)
    job_dir.mkdir(parents=True, exist_ok=True)
    with attempts.job_lock(job_dir) as lock, gpu_slot(gpu_lock_dir, gpu_slots) as device:
        for path in stale:
            Path(path).unlink(missing_ok=True)
        environment = child_environment(os.environ, weights, asset_dir)
        if device is not None:
            environment["CUDA_VISIBLE_DEVICES"] = device
        yield IsolatedChild(job_dir, lock, device, environment)


def child_environment(base: Mapping[str, str], weights: str | None, asset_dir: str | Path | None = None
                      ) -> dict[str, str]:
    """A child's environment (but its GPU): the job's, offline with ``weights: pretrained`` (``asset_dir``: the
    asset cache, default :data:`iadbench.models.assets.ASSET_DIR`)."""
    if weights != "pretrained":
        return dict(base)
    # Here, not at the top: the assets module imports the download code, which every job process would pay.
    from iadbench.models.assets import ASSET_DIR, offline_environment

    return {**base, **offline_environment(ASSET_DIR if asset_dir is None else asset_dir)}


# The children's modules (IsolatedChild.run) and the libraries they import: what a fork server imports once.
CHILD_MODULES = ("iadbench.run.train", "iadbench.run.timing", "iadbench.run.evaluate")
PRELOAD = ("torch", "lightning", "anomalib.models", "anomalib.engine", "anomalib.data", *CHILD_MODULES)
SNAKEMAKE_TMPDIR_VARIABLES = ("TMPDIR", "TMP", "TEMPDIR", "TEMP")


def start_fork_servers(jobs: Iterable[tuple[str | None, str | None]], log_path: str | Path,
                       base: Mapping[str, str] = os.environ, asset_dir: str | Path | None = None) -> int:
    """Start one fork server (:mod:`iadbench.core.forkserver`) per environment the children of ``jobs`` will have;
    a job is ``(tmpdir, weights)``, the environment is what Snakemake gives a job of those (its
    temporary-directory variables; thread counts are set by each child) as :func:`isolated_child` completes it.
    Returns the servers started."""
    if forkclient.switched_off(base) or not hasattr(os, "pidfd_open"):
        return 0
    environments = {}
    for tmpdir, weights in jobs:
        # One thread while the server loads the libraries (no pool to fork); each child then sets its own.
        job = {**base, **dict.fromkeys(forkclient.THREAD_VARIABLES, "1"),
               **(dict.fromkeys(SNAKEMAKE_TMPDIR_VARIABLES, str(tmpdir)) if tmpdir else {})}
        environment = child_environment(job, weights, asset_dir)
        environments[forkclient.environment_key(environment)] = environment
    for environment in environments.values():
        forkserver.start(environment, PRELOAD, log_path)
    return len(environments)


def stop_fork_servers() -> None:
    """End the servers :func:`start_fork_servers` started (the run's onsuccess and onerror)."""
    forkserver.stop()
