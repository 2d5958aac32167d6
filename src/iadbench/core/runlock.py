"""Resume after a killed run: Snakemake's own lock files survive a SIGKILL and block the next run.

The main Snakemake process holds a ``filelock.FileLock`` (an exclusive ``flock``) on
``.snakemake/iadbench-run.lock`` for its lifetime (the kernel drops it when the process dies, however it
dies). A process that gets it knows no other run is alive in this directory, so any Snakemake lock left
behind is stale and is removed.
"""

from __future__ import annotations

import logging
from pathlib import Path

from filelock import FileLock, Timeout

logger = logging.getLogger(__name__)
# Referenced for the life of the process: a FileLock releases its hold when garbage-collected.
_held: FileLock | None = None


def claim_workdir(workdir: str | Path = ".") -> bool:
    """True when this process is the only live run here; stale Snakemake locks are then removed."""
    global _held
    if _held is not None:
        return True
    snakemake_dir = Path(workdir) / ".snakemake"
    snakemake_dir.mkdir(parents=True, exist_ok=True)
    # thread_local=False: the hold belongs to the process, whichever thread later looks at it.
    run_lock = FileLock(snakemake_dir / "iadbench-run.lock", timeout=0, thread_local=False)
    try:
        run_lock.acquire()
    except Timeout:
        return False  # another run is alive: its locks are real, Snakemake will honour them
    _held = run_lock
    stale = list((snakemake_dir / "locks").glob("*.lock"))
    for lock in stale:
        lock.unlink(missing_ok=True)
    if stale:
        logger.warning("removed %d stale Snakemake lock(s) left by a run that was killed", len(stale))
    return True
