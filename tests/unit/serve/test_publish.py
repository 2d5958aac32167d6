import json

import numpy as np
import pandas as pd
import pytest

from iadbench.config.base import Job
from iadbench.serve.publish import PublishError, publish_run, select_jobs, selection
from iadbench.serve.upload import upload

JOB = Job("embedded", "washer", "padim", 0)


def _frame(rows):
    base = {"status": "ok", "error_type": "", "image_AUROC": 0.5, "pixel_AUROC": 0.5, "pixel_AUPRO": 0.4,
            "pixel_AUPRO_05": 0.1, "image_F1_threshold": 1.0, "config_hash": "abc", "anomalib_version": "2.7.0",
            "torch_version": "2", "iadbench_version": "0.1.0", "git_commit": "deadbeef"}
    return pd.DataFrame([{**base, **row} for row in rows])


FRAME = _frame([
    {"dataset": "d", "category": "a", "model": "padim", "seed": 0, "image_AUROC": 0.9},
    {"dataset": "d", "category": "a", "model": "dfm", "seed": 0, "image_AUROC": 0.95, "status": "failed",
     "error_type": "RuntimeError"},
    {"dataset": "d", "category": "a", "model": "patchcore", "seed": 0, "image_AUROC": 0.8},
    {"dataset": "d", "category": "b", "model": "padim", "seed": 0, "image_AUROC": 0.6},
    {"dataset": "d", "category": "b", "model": "patchcore", "seed": 0, "image_AUROC": 0.7},
])


def test_best_takes_the_best_ok_job_per_category_and_never_a_failed_one():
    assert select_jobs(FRAME, "best") == [Job("d", "a", "padim", 0), Job("d", "b", "patchcore", 0)]
    assert Job("d", "a", "dfm", 0) not in select_jobs(FRAME, "all") and len(select_jobs(FRAME, "all")) == 4


def test_a_listed_failed_or_unknown_job_is_refused_by_name():
    with pytest.raises(PublishError, match="d/a/dfm/0 failed.*not published"):
        select_jobs(FRAME, [{"dataset": "d", "category": "a", "model": "dfm", "seed": 0}])
    with pytest.raises(PublishError, match="d/c/padim/0 is not in the results"):
        select_jobs(FRAME, [{"dataset": "d", "category": "c", "model": "padim", "seed": 0}])
    chosen = selection(FRAME, {"jobs": "best", "metric": "image_AUROC"}, "all")
    assert len(chosen["publish"]) == 2 and len(chosen["export"]) == 4


def _publish_dir(tmp_path):
    folder = tmp_path / "publish"
    (folder / "dataset" / "data").mkdir(parents=True)
    (folder / "dataset" / "data" / "benchmark.parquet").write_bytes(b"x" * 10)
    (folder / "dataset" / "README.md").write_text("card")
    (folder / "dataset" / ".snakemake_timestamp").write_text("")
    (folder / "models" / "m").mkdir(parents=True)
    (folder / "models" / "m" / "model.ckpt").write_bytes(b"y" * 5)
    (folder / "manifest.json").write_text(json.dumps({"namespace": None, "created": "now", "folders": [
        {"folder": "dataset", "repo_type": "dataset", "repo_name": "iadbench-results"},
        {"folder": "models/m", "repo_type": "model", "repo_name": "iadbench-m"}]}))
    return folder


class FakeApi:
    def __init__(self):
        self.calls = []

    def whoami(self):
        return {"name": "someone"}

    def create_repo(self, **kwargs):
        self.calls.append(("create_repo", kwargs))

    def upload_folder(self, **kwargs):
        self.calls.append(("upload_folder", kwargs))


def test_upload_sends_each_folder_to_its_repo_with_a_token(tmp_path):
    api, lines = FakeApi(), []
    plan = upload(_publish_dir(tmp_path), api=api, token="hf_x", echo=lines.append)
    assert [call[1]["repo_id"] for call in api.calls] == ["someone/iadbench-results"] * 2 + ["someone/iadbench-m"] * 2
    assert [call[1]["repo_type"] for call in api.calls if call[0] == "upload_folder"] == ["dataset", "model"]
    assert plan[0]["files"] == [("README.md", 4), ("data/benchmark.parquet", 10)]  # hidden files stay
    assert any(line.startswith("uploading") for line in lines)


def test_upload_without_token_or_with_dry_run_says_what_it_would_upload(tmp_path, monkeypatch):
    folder = _publish_dir(tmp_path)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    lines = []
    upload(folder, echo=lines.append)
    assert "no Hugging Face token" in lines[0]
    assert "would upload" in lines[1] and "dataset <your-namespace>/iadbench-results" in lines[1]
    assert "  data/benchmark.parquet  10 bytes" in lines
    api, lines = FakeApi(), []
    upload(folder, namespace="org", api=api, token="hf_x", dry_run=True, echo=lines.append)
    assert api.calls == [] and "model org/iadbench-m" in lines[-2]
    with pytest.raises(FileNotFoundError, match="snakemake --cores 1 publish"):
        upload(tmp_path / "nothing", dry_run=True)


@pytest.mark.slow
def test_published_folders_load_with_huggingface_hub_pandas_and_pyarrow(trained_job, tmp_path):
    import pyarrow.dataset
    from huggingface_hub import DatasetCard, ModelCard

    results, config = trained_job
    config = {**config, "publish": {"jobs": "best", "metric": "image_AUROC", "namespace": None,
                                    "dataset_repo": "iadbench-results", "repo_prefix": "iadbench",
                                    "license": "cc-by-nc-sa-4.0", "pretty_name": "tiny results"}}
    frame = _frame([{**JOB._asdict(), "image_AUROC": 0.75},
                    {**JOB._asdict(), "model": "dfm", "status": "failed", "error_type": "RuntimeError"}])
    benchmark = tmp_path / "benchmark.parquet"
    frame.to_parquet(benchmark)
    jobs = select_jobs(frame, "all")
    assert jobs == [JOB]
    out = tmp_path / "publish"
    publish_run(results_dir=results, benchmark_path=benchmark, config=config, jobs=jobs, out_dir=out, now="today")
    card = ModelCard.load(out / "models" / "embedded-washer-padim-0" / "README.md")
    metrics = {result.metric_type: result.metric_value for result in card.data.eval_results}
    assert metrics == {"image_AUROC": 0.75, "pixel_AUROC": 0.5, "pixel_AUPRO": 0.4, "pixel_AUPRO_05": 0.1}
    assert card.data.library_name == "anomalib" and "random-weights" in card.data.tags
    assert "Random weights" in card.text
    assert "iadbench predict --hub <your-namespace>/iadbench-embedded-washer-padim-0 IMAGES" in card.text
    manifest = json.loads((out / "models" / "embedded-washer-padim-0" / "iadbench_job.json").read_text())
    assert manifest["model"] == "padim" and len(manifest["test_scores"]) == len(manifest["test_labels"]) > 0
    assert sorted(path.name for path in (out / "models" / "embedded-washer-padim-0").iterdir()) == [
        "README.md", "iadbench_job.json", "model.safetensors"]  # no pickle published
    assert not (out / "models" / "embedded-dfm").exists() and len(list((out / "models").iterdir())) == 1
    dataset = DatasetCard.load(out / "dataset" / "README.md")
    assert dataset.data.configs[0]["data_files"][0]["path"] == "data/*.parquet"
    assert dataset.data.pretty_name == "tiny results" and "Random weights" in dataset.text
    assert "```yaml" in dataset.text and "padim" in dataset.text
    pd.testing.assert_frame_equal(pd.read_parquet(out / "dataset" / "data"), frame)
    assert pyarrow.dataset.dataset(out / "dataset" / "data", format="parquet").to_table().num_rows == 2
    with pytest.raises(PublishError, match="embedded/washer/dfm/0 failed"):
        publish_run(results_dir=results, benchmark_path=benchmark, config=config,
                    jobs=[Job("embedded", "washer", "dfm", 0)], out_dir=out)
    assert (out / "models" / "embedded-washer-padim-0" / "README.md").exists()  # nothing half-written


@pytest.mark.slow
def test_published_folders_name_no_host_and_no_token_unless_the_config_says(trained_job, tmp_path, monkeypatch):
    results, config = trained_job
    token = "hf_iadbenchPlantedTokenValue"
    monkeypatch.setenv("HF_TOKEN", token)
    # Planted values: the real hostname may be as short as "vm", found by chance in any binary file.
    host = {"hostname": "gpu-node-17.cluster.example", "cpu": "PlantedCPU 9000", "gpu": "PlantedGPU X",
            "cuda_visible_devices": "GPU-planted-uuid"}
    benchmark = tmp_path / "benchmark.parquet"
    _frame([{**JOB._asdict(), **host}]).to_parquet(benchmark)
    publish = {"jobs": "all", "metric": "image_AUROC", "namespace": None, "dataset_repo": "r", "repo_prefix": "p",
               "license": "cc-by-nc-sa-4.0", "pretty_name": "tiny"}

    def published_bytes(include: bool) -> bytes:
        out = tmp_path / f"publish-{include}"
        publish_run(results_dir=results, benchmark_path=benchmark, jobs=[JOB], out_dir=out, now="today",
                    config={**config, "publish": {**publish, "include_host_columns": include}})
        files = sorted(path for path in out.rglob("*") if path.is_file())
        assert any(path.suffix == ".parquet" for path in files) and any(path.name == "README.md" for path in files)
        return b"\n".join(path.read_bytes() for path in files)

    private = published_bytes(False)
    for value in (*host.values(), token):
        assert value.encode() not in private, value
    card = (tmp_path / "publish-False" / "dataset" / "README.md").read_text()
    assert "Left out of this publication" in card and "`hostname`" in card and "include_host_columns" in card
    published = pd.read_parquet(tmp_path / "publish-False" / "dataset" / "data" / "benchmark.parquet")
    assert not set(host) & set(published.columns) and published["image_AUROC"].tolist() == [0.5]
    public = published_bytes(True)  # the config asked for them: there, and the card says nothing was left out
    assert host["hostname"].encode() in public and token.encode() not in public
    assert "Left out" not in (tmp_path / "publish-True" / "dataset" / "README.md").read_text()


@pytest.mark.slow
def test_published_safetensors_score_exactly_as_the_jobs_checkpoint(trained_job, tmp_path, monkeypatch):
    """publish -> predict from the Hub (a local Hugging Face cache of the published folder): identical scores."""
    import shutil

    from huggingface_hub import constants

    from iadbench.run.predictions import load_predictions
    from iadbench.serve.job_model import load_hub_model, load_job_model
    from iadbench.serve.predict import score_images

    results, config = trained_job
    config = {**config, "publish": {"jobs": "all", "metric": "image_AUROC", "namespace": None, "dataset_repo": "r",
                                    "repo_prefix": "p", "license": "cc-by-nc-sa-4.0", "pretty_name": "tiny"}}
    benchmark = tmp_path / "benchmark.parquet"
    _frame([JOB._asdict()]).to_parquet(benchmark)
    publish_run(results_dir=results, benchmark_path=benchmark, config=config, jobs=[JOB], out_dir=tmp_path / "out")
    commit = "1" * 40
    repo = tmp_path / "hf" / "models--someone--p-embedded-washer-padim-0"
    shutil.copytree(tmp_path / "out" / "models" / "embedded-washer-padim-0", repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    paths = [str(path) for path in load_predictions(results / "train" / JOB.path / "predictions.npz")["image_paths"]]
    from_hub, _ = score_images(load_hub_model("someone/p-embedded-washer-padim-0"), paths)
    from_job, _ = score_images(load_job_model(results, *JOB[:4], config), paths)
    assert (from_hub["status"] == "ok").all() and len(from_hub) == len(paths)
    np.testing.assert_array_equal(from_hub["image_score"].to_numpy(), from_job["image_score"].to_numpy())


def test_a_model_card_reads_missing_versions_as_unknown():
    """Rows read back from Parquet hold pd.NA where a version was not recorded: the card says unknown."""
    from iadbench.serve.publish import model_card

    config = {"publish": {"license": "cc-by-nc-sa-4.0", "namespace": None, "repo_prefix": "iadbench"},
              "weights": "random"}
    manifest = {"dataset_type": "embedded", "image_size": 64, "weights": "random", "image_F1_threshold": None,
                "config_hash": "abc", "model_spec": {"init_args": {}}}
    row = pd.Series({**JOB._asdict(), "image_AUROC": 0.75, "anomalib_version": pd.NA, "torch_version": "2.9",
                     "iadbench_version": pd.NA, "git_commit": pd.NA}, dtype=object)
    card = model_card(JOB, manifest, row, config, exported=[])
    assert "commit `unknown`" in card.text and "0.75" in card.content
