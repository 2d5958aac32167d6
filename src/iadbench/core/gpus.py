"""GPU slots for local runs: Snakemake limits how many GPU jobs run, this module says which GPU each gets.

Snakemake's ``gpu`` resource caps concurrency but does not assign devices. Each training job
takes the first free slot among ``n_slots`` (a ``filelock.FileLock`` on ``<lock_dir>/gpu<i>.lock``: a
``flock`` the OS releases even when the job is killed) and runs with ``CUDA_VISIBLE_DEVICES=<i>``.
The slot count reaches the job as the train rule's ``gpu_slots`` resource.
Under SLURM (or whenever ``CUDA_VISIBLE_DEVICES`` is already set) the scheduler's choice is kept.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout


def detect_gpus() -> int:
    """GPUs on this machine, by ``nvidia-smi -L`` (no CUDA initialisation, no torch import)."""
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(line.startswith("GPU ") for line in listing.stdout.splitlines())


@contextlib.contextmanager
def gpu_slot(lock_dir: str | Path, n_slots: int, poll_seconds: float = 0.5) -> Iterator[str | None]:
    """Hold one of ``n_slots`` GPU slots; yields the device index as a string (None: no GPU slots).

    Blocks until a slot is free: Snakemake's ``gpu`` resource normally guarantees one is.
    """
    if n_slots <= 0 or os.environ.get("CUDA_VISIBLE_DEVICES") is not None:
        yield os.environ.get("CUDA_VISIBLE_DEVICES")
        return
    Path(lock_dir).mkdir(parents=True, exist_ok=True)
    while True:
        for slot in range(n_slots):
            # timeout=0: one non-blocking try per slot; a busy slot sends us on to the next one.
            lock = FileLock(Path(lock_dir) / f"gpu{slot}.lock", timeout=0)
            try:
                lock.acquire()
            except Timeout:
                continue
            try:
                yield str(slot)
            finally:
                lock.release()
            return
        time.sleep(poll_seconds)
