"""The life of a job's attempts: its lock, its child process, its ledger, and when it is retried.

- A training or evaluation job runs its work in a child process (an out-of-memory kill then still
  leaves a record) while holding an exclusive lock on its output folder. The child inherits the lock,
  so a child orphaned by a killed Snakemake keeps its folder: no new run writes into it meanwhile.
- A failure that more memory may cure (killed by a signal, ``MemoryError``, CUDA out of memory) fails
  the Snakemake job while this run has attempts left, so the scheduler retries it with the larger
  ``mem_mb`` of the next attempt. Any other failure, or the last attempt, writes the job's outputs
  marked ``failed``: the benchmark keeps a failed row.
- Every attempt is appended to ``<job folder>/attempts.jsonl`` (a file Snakemake does not own, so it
  survives reruns); the log of each failed attempt is kept under ``results/failed_attempts/``.
- A later run retries a failed job only when asked (``--config retry_failed=true``), until the job
  has had ``max_attempts`` attempts in all: :func:`retry_round` is a rule parameter, and a changed
  parameter is what makes Snakemake rerun the job (``rerun-triggers: params``).
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iadbench.core import forkclient

LEDGER = "attempts.jsonl"
LOCK = ".job.lock"
# Python-level errors that more memory may cure (torch.cuda.OutOfMemoryError's name).
MEMORY_ERRORS = ("MemoryError", "OutOfMemoryError")


class RetryWithMoreResources(RuntimeError):
    """This attempt failed in a way more memory may cure and the run has attempts left."""


class JobBusy(RuntimeError):
    """Another process (e.g. a training child orphaned by a killed run) holds the job's folder."""


@dataclass(frozen=True)
class Outcome:
    status: str  # "ok" or "failed"
    error_type: str = ""
    error_tail: str = ""

    @property
    def retryable(self) -> bool:
        return self.status == "failed" and (self.error_type.startswith("Killed") or self.error_type in MEMORY_ERRORS)


def read_ledger(job_dir: str | Path) -> list[dict[str, Any]]:
    path = Path(job_dir) / LEDGER
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by a kill mid-write: that attempt left no usable record
    return records


def retry_round(job_dir: str | Path, retry_failed: bool, max_attempts: int) -> int:
    """The job's retry round: the one it last ran in, plus one when its last attempt failed for good,
    retries were asked for and attempts remain. Reads files only; changes nothing."""
    records = read_ledger(job_dir)
    if not records:
        return 0
    last = records[-1]
    current = int(last.get("round", 0))
    if retry_failed and last.get("status") == "failed" and last.get("final") and len(records) < max_attempts:
        return current + 1
    return current


def _pid_in(lock_path: Path) -> str:
    try:
        return lock_path.read_text().strip() or "?"
    except OSError:
        return "?"


@contextlib.contextmanager
def job_lock(job_dir: str | Path) -> Iterator[int]:
    """Hold the job folder's lock (yields its file descriptor, to hand to the child); JobBusy if held."""
    lock_path = Path(job_dir) / LOCK
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise JobBusy(f"{job_dir} is in use by process {_pid_in(lock_path)} (a job of a run that was killed "
                          "is still running?): wait for it to end or kill it, then rerun") from None
        os.ftruncate(descriptor, 0)
        os.write(descriptor, str(os.getpid()).encode())
        yield descriptor
    finally:
        os.close(descriptor)


# Job folders under results/: <stage>/<setting>/<dataset>/<category>/<model>/<seed> (iadbench.config.base.Job.path;
# timing: one per model, no seed), the continual setting's continual/train/<sequence>/<model>/<seed>/<strategy>/
# step<t> (+ /<category> for its evaluations), and folders of trees written before the setting level.
JOB_FOLDER_PATTERNS = ("*/*/*/*/*/*", "timing/*/*/*/*", "*/*/*/*/*", "timing/*/*/*", "continual/*/*/*/*/*/*",
                       "continual/evaluate/*/*/*/*/*/*")


def busy_jobs(results_dir: str | Path) -> list[str]:
    """Job folders whose lock is held right now, as 'folder (pid N)'."""
    busy = []
    lock_paths = {path for pattern in JOB_FOLDER_PATTERNS for path in Path(results_dir).glob(f"{pattern}/{LOCK}")}
    for lock_path in sorted(lock_paths):
        with open(lock_path) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                busy.append(f"{lock_path.parent} (pid {_pid_in(lock_path)})")
    return busy


def run_child(module: str, args: dict[str, Any], job_dir: Path, lock_descriptor: int,
              environment: dict[str, str] | None = None) -> int:
    """Run ``python -m <module> <args.json>`` holding the job lock; returns its exit status.

    The run's fork server for this environment forks the child when there is one
    (:mod:`iadbench.core.forkserver`: the same child, without its ~8 s of imports); else it is started here.
    """
    args_path = job_dir / f".{module.rsplit('.', 1)[-1]}_args.json"
    args_path.write_text(json.dumps(args, default=str))
    environment = dict(os.environ) if environment is None else environment
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        forkclient.last_peak_rss_kb = float("nan")
        returncode, how = forkclient.fork_child(module, [str(args_path)], environment, [lock_descriptor])
        print(f"{module}: {how}", file=sys.stderr, flush=True)
        if returncode is None:
            returncode = subprocess.run([sys.executable, "-m", module, str(args_path)], env=environment,
                                        check=False, pass_fds=(lock_descriptor,)).returncode
    finally:
        args_path.unlink(missing_ok=True)
    return returncode


def child_peak_rss_mb() -> float:
    """Peak resident memory of the last child :func:`run_child` ran: a forked one's as its server saw it, else
    (a child of this process) the largest of this process's children's."""
    if forkclient.last_peak_rss_kb == forkclient.last_peak_rss_kb:  # not NaN: the last child was forked
        return forkclient.last_peak_rss_kb / 1024
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def child_failure(returncode: int, log_path: str | Path | None) -> Outcome:
    """The outcome of a child that left no record: killed by a signal or exited with an error."""
    if returncode < 0:
        name = signal.Signals(-returncode).name
        error_type = f"Killed{name}" + ("(likely out of memory)" if name == "SIGKILL" else "")
    else:
        error_type = f"ExitCode{returncode}"
    return Outcome("failed", error_type, log_tail(log_path))


def log_tail(path: str | Path | None, size: int = 2000) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - size))
            return handle.read().decode(errors="replace")
    except (OSError, TypeError):
        return ""


def next_attempt(job_dir: str | Path) -> int:
    """The number of the job's next attempt, counted over all runs (its ledger's records + 1)."""
    return len(read_ledger(job_dir)) + 1


def settle(job_dir: str | Path, outcome: Outcome, *, stage: str, attempt: int, final_attempt: int,
           retry_round_: int, log_path: str | Path | None, results_dir: str | Path = "results") -> int:
    """Record this attempt; raise :class:`RetryWithMoreResources` when the scheduler should retry it.

    ``attempt`` counts within this run (Snakemake's), ``final_attempt`` is this run's last one.
    Returns the job's attempts in all (the row's ``attempts``).
    """
    job_dir = Path(job_dir)
    retry = outcome.retryable and attempt < final_attempt
    number = next_attempt(job_dir)
    record = {"attempt": number, "run_attempt": attempt, "round": retry_round_, "stage": stage,
              "status": outcome.status, "final": not retry, "error_type": outcome.error_type,
              "finished_at": datetime.datetime.now(datetime.UTC).isoformat()}
    with open(job_dir / LEDGER, "a") as ledger:
        ledger.write(json.dumps(record) + "\n")
    if outcome.status != "ok":
        job_path = job_dir.relative_to(Path(results_dir) / stage) if job_dir.is_relative_to(
            Path(results_dir) / stage) else Path(job_dir.name)
        archive = Path(results_dir) / "failed_attempts" / stage / job_path / f"attempt-{number}"
        archive.mkdir(parents=True, exist_ok=True)
        (archive / "error.json").write_text(json.dumps({**record, "error_tail": outcome.error_tail}, indent=2))
        if log_path and Path(log_path).exists():
            shutil.copyfile(log_path, archive / Path(log_path).name)
    if retry:
        raise RetryWithMoreResources(
            f"{stage} attempt {attempt} of {final_attempt} failed ({outcome.error_type}): "
            "failing the job so that the scheduler retries it with more memory")
    return number
