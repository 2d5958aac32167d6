"""The training scripts' adapter: the arguments it reads from a (duck-typed) Snakemake object."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from iadbench.run.attempts import RetryWithMoreResources
from iadbench.run.script import run_training_script, training_args


def fake_snakemake(tmp_path: Path, data, gpu: int = 1) -> SimpleNamespace:
    return SimpleNamespace(
        log=[str(tmp_path / "logs" / "job.log")],
        input=SimpleNamespace(data=data),
        output=SimpleNamespace(info=str(tmp_path / "results" / "train" / "job" / "train_info.json")),
        params=SimpleNamespace(final_attempt=3, retry_round=1, dataset_spec={"type": "embedded"},
                               model_spec={"max_epochs": 1}, image_size=64, weights="random",
                               asset_dir="resources/assets", config_hash="abc"),
        wildcards=SimpleNamespace(model="padim", seed="2"),
        resources=SimpleNamespace(gpu=gpu, gpu_slots=4, attempt=2),
        threads=2,
        scriptdir=str(tmp_path),  # not a git repository: the commit reads "unknown"
    )


def test_training_args_read_every_shared_argument(tmp_path):
    args = training_args(fake_snakemake(tmp_path, "resources/datasets/embedded/washer"), category="washer")
    assert args == {
        "log_path": str(tmp_path / "logs" / "job.log"), "gpu_slots": 4, "attempt": 2, "final_attempt": 3,
        "retry_round": 1, "dataset_spec": {"type": "embedded"}, "dataset_root": "resources/datasets/embedded",
        "model_name": "padim", "model_spec": {"max_epochs": 1}, "seed": 2, "image_size": 64, "weights": "random",
        "out_dir": str(tmp_path / "results" / "train" / "job"), "threads": 2, "asset_dir": "resources/assets",
        "extra_info": {"git_commit": "unknown", "train_config_hash": "abc"}, "category": "washer",
    }


def test_training_args_several_data_inputs_and_no_gpu(tmp_path):
    snakemake = fake_snakemake(tmp_path, ["resources/datasets/mvtec/a", "resources/datasets/mvtec/b"], gpu=0)
    args = training_args(snakemake, seed=7)  # the script's own fields win
    assert args["dataset_root"] == "resources/datasets/mvtec" and args["gpu_slots"] == 0 and args["seed"] == 7


def test_run_training_script_logs_and_exits_for_a_retry(tmp_path, monkeypatch):
    monkeypatch.setattr("iadbench.run.script.log_to_file", lambda path: Path(path).parent.mkdir(parents=True))
    seen = {}
    run_training_script(fake_snakemake(tmp_path, "d/e/c"), lambda **args: seen.update(args), category="c")
    assert seen["category"] == "c" and seen["model_name"] == "padim"

    def retry(**args):
        raise RetryWithMoreResources("out of memory: next attempt")

    monkeypatch.setattr("iadbench.run.script.log_to_file", lambda path: None)
    with pytest.raises(SystemExit, match="out of memory: next attempt"):
        run_training_script(fake_snakemake(tmp_path, "d/e/c"), retry)
