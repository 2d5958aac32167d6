"""Execution behaviour: GPU slots, contained failures, retry of failed jobs, resume after a kill."""

import os
import re
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from workflow_helpers import TINY_CONFIG, make_workdir, run_snakemake

pytestmark = pytest.mark.slow
PADIM_ARGS = {"init_args": {"backbone": "resnet18", "layers": ["layer1", "layer2"]}}


def config_with(models: dict, categories=("washer", "grass")) -> dict:
    dataset = {**TINY_CONFIG["datasets"]["embedded"], "categories": list(categories)}
    return {**TINY_CONFIG, "datasets": {"embedded": dataset}, "models": models}


def support_path(repo_root) -> str:
    """tests/support on PYTHONPATH, before what is there (a checkout's src/ when iadbench is not installed from it)."""
    return os.pathsep.join(filter(None, [str(repo_root / "tests" / "support"), os.environ.get("PYTHONPATH")]))


@pytest.fixture
def support_on_path(monkeypatch, repo_root):
    monkeypatch.setenv("PYTHONPATH", support_path(repo_root))


def test_two_gpu_slots_two_jobs_at_a_time_on_distinct_devices(repo_root, tmp_path, monkeypatch, support_on_path):
    records = tmp_path / "records"
    records.mkdir()
    monkeypatch.setenv("IADBENCH_TEST_RECORD_DIR", str(records))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    config = config_with({"padim": {**PADIM_ARGS, "class_path": "misbehaving_models.DevicePadim"}},
                         categories=("brick", "grass", "gravel", "washer"))
    workdir = tmp_path / "work"
    workdir.mkdir()
    config_path = make_workdir(repo_root, workdir, config)
    run_snakemake(workdir, config_path, "--cores", "8", "--resources", "gpu=2",
                  targets=("results/benchmark.parquet",))
    intervals = []
    for record in records.iterdir():
        device, start, end = record.read_text().split()
        intervals.append((device, float(start), float(end)))
    # 4 trainings and 4 timing jobs (which rebuild the model): each holds a GPU slot while it runs.
    assert len(intervals) == 8 and {device for device, _, _ in intervals} <= {"0", "1"}
    for device, start, _ in intervals:
        running = [other for other in intervals if other[1] <= start < other[2]]
        assert len(running) <= 2
        assert len({other[0] for other in running}) == len(running), running  # distinct devices
    rows = pd.read_parquet(workdir / "results" / "benchmark.parquet")
    assert set(rows["cuda_visible_devices"]) <= {"0", "1"}


def snapshot(folder):
    """Every file under ``folder`` with its size and modification time."""
    return {str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def failed_run(repo_root, tmp_path_factory):
    """One run with a job that succeeds, one whose model raises, one killed (as for memory) on every attempt."""
    workdir = tmp_path_factory.mktemp("failures")
    flag = workdir / "fail.flag"
    flag.touch()
    config = config_with({"padim": PADIM_ARGS,
                          "flaky": {**PADIM_ARGS, "class_path": "misbehaving_models.FlakyPadim"},
                          "killed": {**PADIM_ARGS, "class_path": "misbehaving_models.KilledPadim"}},
                         categories=("washer",))
    config_path = make_workdir(repo_root, workdir, config)
    environment = {"PYTHONPATH": support_path(repo_root), "IADBENCH_TEST_FAIL_FLAG": str(flag)}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        first = run_snakemake(workdir, config_path)
    return workdir, config_path, flag, environment, first.stdout + first.stderr


def test_failures_are_contained_and_memory_kills_retried_with_more_memory(failed_run):
    workdir, _, _, _, log = failed_run
    rows = pd.read_parquet(workdir / "results" / "benchmark.parquet").set_index("model")
    assert rows.loc["padim", "status"] == "ok" and rows.loc["padim", "attempts"] == 1
    assert rows.loc["flaky", "status"] == "failed" and rows.loc["flaky", "error_type"] == "RuntimeError"
    assert "flaky model failed on purpose" in rows.loc["flaky", "error_tail"]
    assert rows.loc["flaky", "attempts"] == 1  # a model error is final at once: no retry can cure it
    # Killed on each attempt: the job failed twice (Snakemake retried it with 2x, 3x the memory), then
    # the last attempt wrote the failed row.
    assert rows.loc["killed", "status"] == "failed" and rows.loc["killed", "attempts"] == 3
    assert rows.loc["killed", "error_type"].startswith("KilledSIGKILL")
    requested = [int(re.search(r"\bmem_mb=(\d+)", block).group(1)) for block in log.split("rule train:")[1:]
                 if "model=killed" in block.split("\n\n")[0]]
    assert requested == [16000, 32000, 48000], requested
    archived = workdir / "results" / "failed_attempts" / "train" / "one_class" / "embedded" / "washer"
    assert sorted(path.name for path in (archived / "killed" / "0").iterdir()) == [
        "attempt-1", "attempt-2", "attempt-3"]
    for column in ("git_commit", "hostname", "torch_version", "gpu"):  # failed rows keep their provenance
        assert rows.loc["killed", column] and rows.loc["flaky", column], column
    assert "failed" in (workdir / "results" / "report" / "index.html").read_text()


def test_planning_linting_and_reporting_change_nothing(failed_run, monkeypatch):
    workdir, config_path, _, environment, _ = failed_run
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    before = snapshot(workdir / "results")
    plan = run_snakemake(workdir, config_path, "-n").stdout
    assert "Nothing to be done" in plan or "rule train" not in plan, plan  # failed rows stay until asked
    run_snakemake(workdir, config_path, "--lint", check=False)
    run_snakemake(workdir, config_path, "--report", str(workdir / "bundle.zip"))
    retry_plan = run_snakemake(workdir, config_path, "-n", "--config", "retry_failed=true").stdout
    assert snapshot(workdir / "results") == before
    planned = set(re.findall(r"output: results/train/one_class/embedded/washer/(\w+)/0/", retry_plan))
    assert planned == {"flaky", "killed"}, retry_plan
    (workdir / "results" / "report" / "index.html").unlink()
    report = run_snakemake(workdir, config_path, targets=("report",))
    assert "rule train" not in report.stdout + report.stderr
    assert (workdir / "results" / "report" / "index.html").exists()
    assert (workdir / "results" / "benchmark.parquet").stat().st_mtime_ns == before["benchmark.parquet"][1]


def test_failed_jobs_rerun_only_when_asked_and_up_to_the_cap(failed_run, monkeypatch):
    workdir, config_path, flag, environment, _ = failed_run
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    padim_info = workdir / "results" / "train" / "one_class" / "embedded" / "washer" / "padim" / "0" / "train_info.json"
    padim_mtime = padim_info.stat().st_mtime
    flag.unlink()  # the fix
    # `killed` has had 3 attempts: the cap of 3 leaves it failed; `flaky` gets its second attempt.
    second = run_snakemake(workdir, config_path, "--config", "retry_failed=true", "max_attempts=3")
    log = second.stdout + second.stderr
    rows = pd.read_parquet(workdir / "results" / "benchmark.parquet").set_index("model")
    assert rows.loc["flaky", "status"] == "ok" and rows.loc["flaky", "attempts"] == 2
    assert rows.loc["flaky", "retry_round"] == 1
    assert rows.loc["killed", "status"] == "failed" and rows.loc["killed", "attempts"] == 3
    assert "model=killed" not in log and padim_info.stat().st_mtime == padim_mtime
    assert list((workdir / "results" / "failed_attempts" / "train" / "one_class" / "embedded" / "washer" / "flaky").rglob("*.log"))
    # Without the switch, nothing more is redone.
    assert "rule train" not in run_snakemake(workdir, config_path, "-n").stdout


def test_an_orphaned_training_job_keeps_its_folder(repo_root, tmp_path, monkeypatch, support_on_path):
    """kill -9 of Snakemake alone leaves its training child running: no new run may start beside it, and
    the row of the rerun says what it ran (the new config), not what the orphan trained."""
    flag, records = tmp_path / "hold.flag", tmp_path / "records"
    flag.touch()
    records.mkdir()
    monkeypatch.setenv("IADBENCH_TEST_FAIL_FLAG", str(flag))
    monkeypatch.setenv("IADBENCH_TEST_RECORD_DIR", str(records))
    slow = {**PADIM_ARGS, "class_path": "misbehaving_models.SlowPadim", "max_epochs": 1}
    workdir = tmp_path / "work"
    workdir.mkdir()
    config_path = make_workdir(repo_root, workdir, config_with({"slow": slow}, categories=("washer",)))
    run = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", str(config_path)],
                           cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and not (records / "slow.pid").exists():
        time.sleep(0.2)
    orphan = int((records / "slow.pid").read_text())
    run.kill()  # Snakemake alone: its job's processes live on
    run.wait()
    config_path.write_text(config_path.read_text().replace("max_epochs: 1", "max_epochs: 2"))
    refused = run_snakemake(workdir, config_path, check=False)
    assert refused.returncode != 0
    assert "still running" in refused.stderr + refused.stdout
    assert "results/train/one_class/embedded/washer/slow/0" in refused.stderr + refused.stdout
    flag.unlink()  # the orphan finishes its (old-config) training
    while time.time() < deadline:
        try:
            os.kill(orphan, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    time.sleep(2)
    run_snakemake(workdir, config_path)
    rows = pd.read_parquet(workdir / "results" / "benchmark.parquet")
    assert rows["status"].tolist() == ["ok"] and rows["max_epochs"].tolist() == [2]


def test_killed_run_resumes_without_redoing_finished_jobs(repo_root, tmp_path):
    # 2 categories x 2 models: rows come after each category's timing job, so the kill after 2 rows
    # leaves the other category's evaluations (at least) to redo.
    config = config_with({"padim": PADIM_ARGS, "dfm": TINY_CONFIG["models"]["dfm"]})
    config_path = make_workdir(repo_root, tmp_path, config)
    command = [sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", str(config_path)]
    run = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    rows_dir = tmp_path / "results" / "evaluate" / "one_class"
    deadline = time.time() + 600
    while time.time() < deadline and len(list(rows_dir.rglob("row.parquet"))) < 2:
        time.sleep(0.5)
    os.killpg(run.pid, signal.SIGKILL)  # the whole run, mid-job, without a chance to clean up
    run.wait()
    # What Snakemake recorded as complete is kept; a job killed (or finished unrecorded) is redone.
    plan = run_snakemake(tmp_path, config_path, "-n").stdout
    planned = set(re.findall(r"output: results/evaluate/one_class/(\S+)/row\.parquet", plan))
    finished = {path: path.stat().st_mtime for path in rows_dir.rglob("row.parquet")
                if str(path.parent.relative_to(rows_dir)) not in planned}
    assert finished, "the killed run kept no finished job"
    assert len(planned) > 0
    run_snakemake(tmp_path, config_path)
    rows = pd.read_parquet(tmp_path / "results" / "benchmark.parquet")
    assert len(rows) == 4 and (rows["status"] == "ok").all()
    assert all(path.stat().st_mtime == mtime for path, mtime in finished.items())
