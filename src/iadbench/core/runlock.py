"""Resume after a killed run: Snakemake's own lock files survive a SIGKILL and block the next run.

The main Snakemake process holds a ``filelock.FileLock`` (an exclusive ``flock``) on
``.snakemake/iadbench-run.lock`` for its lifetime (the kernel drops it when the process dies, however it
dies). A process that gets it knows no other run is alive in this directory, so any Snakemake lock left
behind is stale and is removed.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from filelock import FileLock, Timeout

logger = logging.getLogger(__name__)
# Referenced for the life of the process: a FileLock releases its hold when garbage-collected.
_held: FileLock | None = None


# Snakemake invocations that only read (plan, lint, summarise, list, draw): they must leave .snakemake/ and
# results/ as they are. The Snakefile is parsed before Snakemake knows what it will do (workflow.dryrun is
# False while parsing), so the command line says it.
READ_ONLY_FLAGS = frozenset({
    "--dry-run", "--dryrun", "--lint", "--summary", "--detailed-summary", "--list-rules", "--list",
    "--list-target-rules", "--dag", "--rulegraph", "--filegraph", "--d3dag", "--list-changes",
    "--list-input-changes", "--list-params-changes", "--list-untracked", "--list-code-changes",
    "--print-compilation", "--export-cwl", "--containerize", "--list-conda-envs",
})
READ_ONLY_SHORT = frozenset("nSDl")  # -n, -S, -D, -l (as in -n or -np)


def read_only_invocation(argv: list[str]) -> bool:
    """True when a Snakemake command line only plans or inspects (``-n``, ``--lint``, ``--summary``, ...)."""
    for argument in argv[1:]:
        if argument.split("=", 1)[0] in READ_ONLY_FLAGS:
            return True
        if re.fullmatch(r"-[A-Za-z]+", argument) and READ_ONLY_SHORT & set(argument[1:]) \
                and set(argument[1:]) <= READ_ONLY_SHORT | set("pqrF"):  # flags without values only
            return True
    return False


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
