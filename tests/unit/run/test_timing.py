import base64
import json
import math

import numpy as np
import pandas as pd
import pytest

from iadbench.report.figures import efficiency
from iadbench.run import clock as run_clock
from iadbench.run import jobs, timing
from iadbench.run.jobs import run_timing
from iadbench.run.timing import measure, median_ms, read_timing, timing_job


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_measure_times_each_call_after_warmup_and_takes_the_median():
    clock = FakeClock()
    durations = iter([9.0, 9.0] + [0.010, 0.030, 0.020, 0.500, 0.020])  # two warm-ups, then the timed calls
    calls = []

    def forward():
        calls.append(clock.now)
        clock.now += next(durations)

    seconds = measure(forward, warmup=2, repeats=5, budget_s=100, clock=clock, synchronize=lambda: calls.append("sync"))
    assert seconds == pytest.approx([0.010, 0.030, 0.020, 0.500, 0.020])
    assert median_ms(seconds) == pytest.approx(20.0)  # one slow outlier does not move it
    assert calls.count("sync") == 7  # each call waited for (e.g. GPU) work to finish


def test_measure_stops_at_the_budget_but_not_before_min_repeats():
    clock = FakeClock()

    def forward():
        clock.now += 4.0

    assert len(measure(forward, warmup=10, repeats=50, budget_s=1, min_repeats=3, clock=clock)) == 3
    assert clock.now == 4.0 * (1 + 3)  # warm-up too stops once past half the budget (after one call)
    assert math.isnan(median_ms([]))


def test_time_torch_model_gives_every_column_on_cpu():
    import torch

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten())
    values = timing.time_torch_model(model, lambda count: torch.rand(count, 3, 16, 16), torch.device("cpu"),
                                     batch=4, budget_s=0.5)
    assert values["latency_ms_b1"] > 0 and values["throughput_b32"] > 0 and values["timing_error"] == ""
    # 2 FLOPs per multiply-add: 14 x 14 outputs x 4 channels x 27 weights.
    assert values["gflops_per_image"] == pytest.approx(2 * 14 * 14 * 4 * 27 / 1e9)
    assert math.isnan(values["timing_peak_gpu_mb"])


def test_failed_training_is_not_timed_and_gives_nan(tmp_path):
    (tmp_path / "info.json").write_text(json.dumps({"status": "failed", "error_type": "RuntimeError"}))
    out = tmp_path / "timing" / "timing.json"
    models = {"padim": {"checkpoint_path": tmp_path / "model.ckpt", "train_info_path": tmp_path / "info.json",
                        "model_spec": {}, "image_size": 64}}
    record = run_timing(models=models, weights="random", out_path=out, seed=3)["padim"]
    assert "training failed (RuntimeError)" in record["timing_error"] and record["timing_seed"] == 3
    stored = json.loads(out.read_text())["padim"]  # standard JSON: NaN written as null
    assert stored["latency_ms_b1"] is None and stored["throughput_b32"] is None
    assert set(read_timing(out, "padim")) <= set(timing.TIMING_COLUMNS) and read_timing(out, "padim")["timing_seed"] == 3
    assert read_timing(tmp_path / "none.json", "padim") == {} and read_timing(out, "dfm") == {}


def test_timing_disabled_times_nothing_and_says_so(tmp_path, monkeypatch):
    (tmp_path / "info.json").write_text(json.dumps({"status": "ok"}))
    monkeypatch.setattr(jobs, "isolated_child", lambda *args, **kwargs: pytest.fail("a child was started"))
    models = {name: {"checkpoint_path": tmp_path / "model.ckpt", "train_info_path": tmp_path / "info.json",
                     "model_spec": {}, "image_size": 64} for name in ("padim", "dfm")}
    records = run_timing(models=models, weights="random", out_path=tmp_path / "timing.json", seed=0, enabled=False)
    assert list(records) == ["padim", "dfm"]
    for name in models:
        row = read_timing(tmp_path / "timing.json", name)
        assert row["timing_error"] == timing.TIMING_DISABLED and row["latency_ms_b1"] is None, row


def test_a_model_that_cannot_be_timed_gives_nan_and_the_error(tmp_path):
    (tmp_path / "info.json").write_text(json.dumps({"status": "ok"}))
    (tmp_path / "model.ckpt").write_bytes(b"not a checkpoint")
    record = timing_job(checkpoint_path=tmp_path / "model.ckpt", train_info_path=tmp_path / "info.json",
                        model_name="padim", model_spec={"init_args": {"backbone": "resnet18"}}, image_size=64,
                        weights="random", out_path=tmp_path / "timing.json", batch=4, asset_dir=tmp_path)
    assert record["timing_error"] and math.isnan(record["latency_ms_b1"]) and record["timing_device"]


def test_training_clock_leaves_out_validation_and_checkpoints_but_not_the_memory_bank(monkeypatch):
    import torch

    clock = FakeClock()
    monkeypatch.setattr(run_clock.time, "perf_counter", clock)

    class Module:
        device = torch.device("cpu")

        def fit(self):  # a memory bank built when validation starts: 3 s of training
            clock.now += 3

    class Trainer:
        def save_checkpoint(self, path):
            clock.now += 1

    module, trainer, callback = Module(), Trainer(), run_clock.training_clock()
    callback.on_validation_start(trainer, module)  # a sanity check before training: ignored
    callback.on_train_start(trainer, module)
    clock.now = 10  # 10 s of training steps
    callback.on_validation_start(trainer, module)
    module.fit()
    clock.now += 2  # 2 s of validation steps
    callback.on_validation_end(trainer, module)
    trainer.save_checkpoint("epoch.ckpt")
    clock.now += 4  # 4 s more training
    callback.on_train_end(trainer, module)
    assert callback.seconds == pytest.approx(10 + 3 + 4)
    assert "fit" not in vars(module) and "save_checkpoint" not in vars(trainer)  # unwrapped after training
    assert math.isnan(run_clock.training_clock().seconds)  # no training loop (zero-shot models): NaN


def _rows(**columns):
    base = {"model": ["padim", "dfm", "patchcore"], "status": ["ok"] * 3, "image_AUROC": [0.9, 0.8, 0.95],
            "images_per_second": [100.0, 5000.0, 20.0], "peak_rss_mb": [800.0, 900.0, 1200.0]}
    return pd.DataFrame({**base, **columns})


@pytest.mark.parametrize("columns", [
    {},  # rows from before the timing job
    {"throughput_b32": [np.nan] * 3, "gflops_per_image": [np.nan] * 3},  # every timing failed
    {"throughput_b32": [300.0, np.nan, 40.0], "gflops_per_image": [1.5, np.nan, 30.0]},
])
def test_efficiency_figure_renders_with_missing_timing_columns(columns):
    png = base64.b64decode(efficiency(_rows(**columns), "image_AUROC", "images_per_second", "images/s"))
    assert png.startswith(b"\x89PNG")


def test_efficiency_prefers_the_timing_job_throughput():
    from iadbench.report.figures import _cost_values

    rows = _rows(throughput_b32=[300.0, np.nan, 40.0])
    assert _cost_values(rows, "images_per_second").tolist() == [300.0, 5000.0, 40.0]
    assert _cost_values(rows, "peak_rss_mb").tolist() == [800.0, 900.0, 1200.0]


@pytest.mark.slow
def test_timing_a_trained_padim(tiny_dataset, tmp_path):
    from iadbench.run.train import train_job

    spec = {"init_args": {"backbone": "resnet18", "layers": ["layer1", "layer2"]}, "max_epochs": 1,
            "train_batch_size": 4, "eval_batch_size": 4}
    info = train_job(dataset_root=tiny_dataset, category="washer", model_name="padim", model_spec=spec, seed=0,
                     image_size=64, weights="random", out_dir=tmp_path / "train", asset_dir=tmp_path / "assets")
    assert info["status"] == "ok", info["error_tail"]
    # A category's models in one child process: a trained one timed, one whose training failed not.
    (tmp_path / "failed.json").write_text(json.dumps({"status": "failed", "error_type": "RuntimeError"}))
    models = {"padim": {"checkpoint_path": tmp_path / "train" / "model.ckpt", "model_spec": spec, "image_size": 64,
                        "train_info_path": tmp_path / "train" / "train_info.json"},
              "dfm": {"checkpoint_path": tmp_path / "none.ckpt", "train_info_path": tmp_path / "failed.json",
                      "model_spec": {}, "image_size": 64}}
    records = run_timing(models=models, weights="random", out_path=tmp_path / "timing.json", batch=4, threads=1,
                         asset_dir=tmp_path / "assets", seed=0)
    assert list(records) == ["padim", "dfm"] and "training failed" in records["dfm"]["timing_error"]
    assert json.loads((tmp_path / "timing.json").read_text()) == records
    record = records["padim"]
    assert record["timing_error"] == "", record.get("timing_traceback")
    assert record["timing_seed"] == 0 and 0 < record["timing_work_seconds"]
    assert record["latency_ms_b1"] > 0 and record["throughput_b32"] > 0 and record["gflops_per_image"] > 0
    assert record["n_missing_keys"] == 0  # the trained Gaussian was loaded, not a fresh model timed
    assert record["timing_device"].startswith(("cpu", "cuda")) and record["timing_batch"] == 4 and record["timing_input_size"] == 64
