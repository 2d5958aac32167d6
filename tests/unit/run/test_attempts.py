import json
import subprocess
import sys

import pytest

from iadbench.run import attempts
from iadbench.run.attempts import (
    JobBusy,
    Outcome,
    RetryWithMoreResources,
    busy_jobs,
    job_lock,
    retry_round,
    settle,
)


def job_dir(tmp_path):
    path = tmp_path / "results" / "train" / "one_class" / "embedded" / "washer" / "padim" / "0"  # a Job.path
    path.mkdir(parents=True)
    return path


def test_memory_failure_retries_while_attempts_remain_then_is_final(tmp_path):
    folder = job_dir(tmp_path)
    log = tmp_path / "train.log"
    log.write_text("killed while fitting\n")
    killed = Outcome("failed", "KilledSIGKILL(likely out of memory)", "tail")
    for attempt in (1, 2):
        with pytest.raises(RetryWithMoreResources, match=f"attempt {attempt} of 3"):
            settle(folder, killed, stage="train", attempt=attempt, final_attempt=3, retry_round_=0, log_path=log,
                   results_dir=tmp_path / "results")
    assert settle(folder, killed, stage="train", attempt=3, final_attempt=3, retry_round_=0, log_path=log,
                  results_dir=tmp_path / "results") == 3
    ledger = attempts.read_ledger(folder)
    assert [record["final"] for record in ledger] == [False, False, True]
    archived = tmp_path / "results" / "failed_attempts" / "train" / "one_class" / "embedded" / "washer" / "padim" / "0"
    assert sorted(path.name for path in archived.iterdir()) == ["attempt-1", "attempt-2", "attempt-3"]
    assert (archived / "attempt-3" / "train.log").read_text() == "killed while fitting\n"
    assert json.loads((archived / "attempt-1" / "error.json").read_text())["error_tail"] == "tail"


@pytest.mark.parametrize("error_type", ["RuntimeError", "ValueError", "StalePredictions"])
def test_a_model_error_is_final_at_once(tmp_path, error_type):
    folder = job_dir(tmp_path)
    assert settle(folder, Outcome("failed", error_type), stage="train", attempt=1, final_attempt=3,
                  retry_round_=0, log_path=None, results_dir=tmp_path / "results") == 1


@pytest.mark.parametrize("error_type", ["MemoryError", "OutOfMemoryError", "KilledSIGSEGV"])
def test_memory_errors_are_retryable(error_type):
    assert Outcome("failed", error_type).retryable
    assert not Outcome("ok").retryable


def test_retry_round_changes_only_when_asked_and_under_the_cap(tmp_path):
    folder = job_dir(tmp_path)
    assert retry_round(folder, retry_failed=True, max_attempts=3) == 0  # never ran
    settle(folder, Outcome("failed", "RuntimeError"), stage="train", attempt=1, final_attempt=1, retry_round_=0,
           log_path=None, results_dir=tmp_path / "results")
    assert retry_round(folder, retry_failed=False, max_attempts=3) == 0
    assert retry_round(folder, retry_failed=True, max_attempts=3) == 1
    settle(folder, Outcome("failed", "RuntimeError"), stage="train", attempt=1, final_attempt=1, retry_round_=1,
           log_path=None, results_dir=tmp_path / "results")
    assert retry_round(folder, retry_failed=True, max_attempts=3) == 2
    settle(folder, Outcome("failed", "RuntimeError"), stage="train", attempt=1, final_attempt=1, retry_round_=2,
           log_path=None, results_dir=tmp_path / "results")
    assert retry_round(folder, retry_failed=True, max_attempts=3) == 2  # capped: 3 attempts made
    assert retry_round(folder, retry_failed=True, max_attempts=4) == 3


def test_a_job_that_succeeded_is_not_retried(tmp_path):
    folder = job_dir(tmp_path)
    settle(folder, Outcome("ok"), stage="train", attempt=1, final_attempt=1, retry_round_=0, log_path=None,
           results_dir=tmp_path / "results")
    assert retry_round(folder, retry_failed=True, max_attempts=5) == 0


def test_a_folder_held_by_an_orphan_is_busy(tmp_path):
    folder = job_dir(tmp_path)
    # An orphaned training child: holds the lock it inherited, its parent gone.
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; sys.path[:0] = sys.argv[2:]; from iadbench.run.attempts import job_lock\n"
        "with job_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(60)"), str(folder), *sys.path],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert busy_jobs(tmp_path / "results") == [f"{folder} (pid {holder.pid})"]
        with pytest.raises(JobBusy, match=f"process {holder.pid}"), job_lock(folder):
            pass
    finally:
        holder.kill()
        holder.wait()
    assert busy_jobs(tmp_path / "results") == []
    with job_lock(folder):
        pass
