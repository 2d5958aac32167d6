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


@pytest.fixture
def support_on_path(monkeypatch, repo_root):
    monkeypatch.setenv("PYTHONPATH", str(repo_root / "tests" / "support"))


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
    assert len(intervals) == 4 and {device for device, _, _ in intervals} <= {"0", "1"}
    for device, start, _ in intervals:
        running = [other for other in intervals if other[1] <= start < other[2]]
        assert len(running) <= 2
        assert len({other[0] for other in running}) == len(running), running  # distinct devices
    rows = pd.read_parquet(workdir / "results" / "benchmark.parquet")
    assert set(rows["cuda_visible_devices"]) <= {"0", "1"}


def test_failure_is_contained_then_only_it_reruns(repo_root, tmp_path, monkeypatch, support_on_path):
    flag = tmp_path / "fail.flag"
    flag.touch()
    monkeypatch.setenv("IADBENCH_TEST_FAIL_FLAG", str(flag))
    config = config_with({"padim": PADIM_ARGS,
                          "flaky": {**PADIM_ARGS, "class_path": "misbehaving_models.FlakyPadim"}},
                         categories=("washer",))
    workdir = tmp_path / "work"
    workdir.mkdir()
    config_path = make_workdir(repo_root, workdir, config)
    run_snakemake(workdir, config_path)
    rows = pd.read_parquet(workdir / "results" / "benchmark.parquet").set_index("model")
    assert rows.loc["padim", "status"] == "ok"
    assert rows.loc["flaky", "status"] == "failed" and rows.loc["flaky", "error_type"] == "RuntimeError"
    assert "flaky model failed on purpose" in rows.loc["flaky", "error_tail"]
    assert "failed" in (workdir / "results" / "report" / "index.html").read_text()
    padim_info = workdir / "results" / "train" / "embedded" / "washer" / "padim" / "0" / "train_info.json"
    padim_mtime = padim_info.stat().st_mtime

    flag.unlink()  # the fix
    second = run_snakemake(workdir, config_path)
    rows = pd.read_parquet(workdir / "results" / "benchmark.parquet").set_index("model")
    assert (rows["status"] == "ok").all()
    assert padim_info.stat().st_mtime == padim_mtime  # the job that had succeeded was not redone
    assert "train/embedded/washer/flaky" in second.stderr + second.stdout
    assert list((workdir / "results" / "failed_attempts").rglob("train_info.json"))


def test_killed_run_resumes_without_redoing_finished_jobs(repo_root, tmp_path):
    config = config_with({"padim": PADIM_ARGS, "dfm": TINY_CONFIG["models"]["dfm"]},
                         categories=("washer", "grass", "brick"))
    config_path = make_workdir(repo_root, tmp_path, config)
    command = [sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", str(config_path)]
    run = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    rows_dir = tmp_path / "results" / "evaluate"
    deadline = time.time() + 600
    while time.time() < deadline and len(list(rows_dir.rglob("row.parquet"))) < 2:
        time.sleep(0.5)
    os.killpg(run.pid, signal.SIGKILL)  # the whole run, mid-job, without a chance to clean up
    run.wait()
    # What Snakemake recorded as complete is kept; a job killed (or finished unrecorded) is redone.
    plan = run_snakemake(tmp_path, config_path, "-n").stdout
    planned = set(re.findall(r"output: results/evaluate/(\S+)/row\.parquet", plan))
    finished = {path: path.stat().st_mtime for path in rows_dir.rglob("row.parquet")
                if str(path.parent.relative_to(rows_dir)) not in planned}
    assert finished, "the killed run kept no finished job"
    assert len(planned) > 0
    run_snakemake(tmp_path, config_path)
    rows = pd.read_parquet(tmp_path / "results" / "benchmark.parquet")
    assert len(rows) == 6 and (rows["status"] == "ok").all()
    assert all(path.stat().st_mtime == mtime for path, mtime in finished.items())
