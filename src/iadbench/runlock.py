"""Resume after a killed run: Snakemake's own lock files survive a SIGKILL and block the next run.

The main Snakemake process takes an exclusive ``flock`` on ``.snakemake/iadbench-run.lock`` for its
lifetime (the kernel drops it when the process dies, however it dies). A process that gets it knows
no other run is alive in this directory, so any Snakemake lock left behind is stale and is removed.
"""

from __future__ import annotations

import fcntl
import logging
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)
_held: IO | None = None  # kept open for the life of the process


def claim_workdir(workdir: str | Path = ".") -> bool:
    """True when this process is the only live run here; stale Snakemake locks are then removed."""
    global _held
    if _held is not None:
        return True
    snakemake_dir = Path(workdir) / ".snakemake"
    snakemake_dir.mkdir(parents=True, exist_ok=True)
    handle = open(snakemake_dir / "iadbench-run.lock", "w")  # noqa: SIM115 -- held until exit
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return False  # another run is alive: its locks are real, Snakemake will honour them
    _held = handle
    stale = list((snakemake_dir / "locks").glob("*.lock"))
    for lock in stale:
        lock.unlink(missing_ok=True)
    if stale:
        logger.warning("removed %d stale Snakemake lock(s) left by a run that was killed", len(stale))
    return True
