import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from iadbench.metrics.maps import f1_optimal_threshold
from iadbench.models.checkpoint import write_safetensors
from iadbench.run.predictions import load_predictions
from iadbench.serve.job_model import JobModelError, job_manifest, load_hub_model, load_job_model
from iadbench.serve.predict import (
    PREDICTION_SCHEMA,
    PredictError,
    choose_threshold,
    expand_images,
    map_range,
    predict_set,
    score_images,
    write_outputs,
)

JOB = ("embedded", "washer", "padim", 0)
JOB_DIR = "train/one_class/embedded/washer/padim/0"


def test_f1_threshold_is_the_rows():
    scores, labels = np.array([0.1, 0.4, 0.35, 0.8, 0.2]), np.array([0, 1, 0, 1, 0])
    chosen = choose_threshold(scores, labels, "f1")
    assert chosen["threshold"] == f1_optimal_threshold(scores, labels)[0] == 0.4
    assert chosen["test_fpr"] == 0 and chosen["test_tpr"] == 1


@pytest.mark.parametrize(("max_fpr", "expected_fpr"), [(0.0, 0.0), (0.1, 0.1), (0.25, 0.2), (0.5, 0.5)])
def test_fpr_threshold_keeps_the_false_positive_rate(max_fpr, expected_fpr):
    good = np.arange(1, 11) / 10.0          # 10 defect-free scores 0.1 .. 1.0
    scores = np.concatenate([good, [0.55, 2.0]])
    labels = np.array([0] * 10 + [1, 1])
    chosen = choose_threshold(scores, labels, "fpr", max_fpr)
    assert chosen["test_fpr"] == expected_fpr <= max_fpr
    # The lowest such threshold: one good score more would break the bound.
    assert np.mean(good >= np.nextafter(chosen["threshold"], -np.inf)) > max_fpr


def test_fpr_threshold_with_tied_scores_never_exceeds_the_bound():
    scores, labels = np.array([0.5, 0.5, 0.5, 0.1, 0.9]), np.array([0, 0, 0, 0, 1])
    chosen = choose_threshold(scores, labels, "fpr", 0.3)  # 1 of 4 allowed, but three tie at 0.5
    assert chosen["test_fpr"] == 0.0 and chosen["threshold"] > 0.5


def test_threshold_errors_name_the_problem():
    with pytest.raises(PredictError, match="f1 needs"):
        choose_threshold([0.1, 0.2], [0, 0], "f1")
    with pytest.raises(PredictError, match="max_fpr"):
        choose_threshold([0.1, 0.2], [0, 1], "fpr", 1.5)
    with pytest.raises(PredictError, match="one of f1, fpr"):
        choose_threshold([0.1, 0.2], [0, 1], "roc")


def test_expand_images_folders_globs_and_misses(tmp_path):
    (tmp_path / "a" / "sub").mkdir(parents=True)
    for name in ("a/1.png", "a/sub/2.png", "a/notes.txt", "a/.hidden"):
        (tmp_path / name).write_bytes(b"x")
    assert expand_images("a", tmp_path) == ["a/1.png", "a/notes.txt", "a/sub/2.png"]
    assert expand_images(["a/*.png", "a/**/*.png"], tmp_path) == ["a/1.png", "a/sub/2.png"]
    with pytest.raises(PredictError, match="'b/\\*.png': no file matches"):
        expand_images("b/*.png", tmp_path)


@pytest.fixture(scope="module")
def loaded(trained_job):
    results, config = trained_job
    return load_job_model(results, *JOB[:4], config)


def _bad_inputs(folder, an_image):
    folder.mkdir()
    (folder / "notes.txt").write_text("not an image")
    data = an_image.read_bytes()
    (folder / "truncated.png").write_bytes(data[: len(data) // 2])
    Image.open(an_image).convert("RGB").resize((100, 80)).save(folder / "other_size.png")
    return ["notes.txt", "truncated.png", "other_size.png"]


@pytest.mark.slow
def test_scores_match_the_benchmark_and_bad_files_get_error_rows(trained_job, loaded, tmp_path):
    results, _ = trained_job
    predictions = load_predictions(results / JOB_DIR / "predictions.npz")
    bad = _bad_inputs(tmp_path / "bad", Path(predictions["image_paths"][0]))
    paths = [str(path) for path in predictions["image_paths"]] + [str(tmp_path / "bad" / name) for name in bad]
    frame, maps = score_images(loaded, paths)
    assert list(frame.columns) == list(PREDICTION_SCHEMA)
    scored = frame.iloc[: len(predictions["scores"])]
    assert (scored["status"] == "ok").all()
    assert np.abs(scored["image_score"].to_numpy() - predictions["scores"]).max() < 1e-5
    threshold = loaded.manifest["image_F1_threshold"]
    assert (frame["threshold"] == threshold).all() and (frame["threshold_method"] == "f1").all()
    assert ((scored["image_score"] >= threshold) == (scored["decision"] == "anomalous")).all()
    assert (scored["size_note"] == "").all() and not scored["resized"].any()  # 64 px images, 64 px model
    rows = frame.set_index(frame["path"].str.rsplit("/", n=1).str[-1])
    assert rows.loc["notes.txt", "status"] == "error" and "not an image" in rows.loc["notes.txt", "error"]
    assert rows.loc["truncated.png", "status"] == "error" and rows.loc["truncated.png", "error"]
    assert rows.loc["other_size.png", "status"] == "ok" and rows.loc["other_size.png", "resized"]
    assert "100x80 differs from the job's test images (64x64); resized to 64x64" in rows.loc["other_size.png", "size_note"]
    assert set(maps) == set(frame.loc[frame["status"] == "ok", "path"])


@pytest.mark.slow
def test_outputs_parquet_overlays_and_page(loaded, trained_job, tmp_path, repo_root):
    results, _ = trained_job
    predictions = load_predictions(results / JOB_DIR / "predictions.npz")
    paths = [str(path) for path in predictions["image_paths"][:4]] + ["missing_dir/none.png"]
    frame, maps = score_images(loaded, paths, "fpr", 0.0)
    assert (frame["threshold_method"] == "fpr").all() and (frame["max_fpr"] == 0.0).all()
    assert frame["test_fpr"].iloc[0] == 0.0
    out = tmp_path / "out"
    written = write_outputs(frame, maps, out, repo_root / "src" / "iadbench" / "report" / "templates", "Predictions: t",
                            {"source": "job x", "job": "j", "weights": "random", "image_size": 64, "metrics": {}})
    stored = pd.read_parquet(out / "predictions.parquet")
    assert list(stored.columns) == list(PREDICTION_SCHEMA) and len(stored) == 5
    assert stored.loc[4, "status"] == "error" and "missing_dir/none.png" in stored.loc[4, "path"]
    for overlay in written.loc[written["status"] == "ok", "overlay"]:
        assert (out / overlay).is_file() and Image.open(out / overlay).size[0] == 2 * 64
    html = (out / "index.html").read_text()
    order = written[written["status"] == "ok"].sort_values("image_score", ascending=False)["overlay"].tolist()
    assert [html.index(name) for name in order] == sorted(html.index(name) for name in order)
    assert "none.png" in html and "Files not scored" in html
    low, high = map_range(maps)  # one colour scale for the set, its range stated on the page
    assert low == min(float(one.min()) for one in maps.values()) and high > low
    text = " ".join(html.split())
    assert "One colour scale for this whole set" in text and f"blue at map value {low:.4g}, red at {high:.4g}" in text


@pytest.mark.slow
def test_missing_checkpoint_names_the_job_and_its_command(trained_job, tiny_dataset, tmp_path, repo_root):
    results, config = trained_job
    entry = {"images": str(tiny_dataset / "washer" / "test" / "good"), "job": {**dict(zip(
        ("dataset", "category", "model", "seed"), JOB)), "seed": 3}}
    with pytest.raises(JobModelError, match=r"job one_class/embedded/washer/padim/3 has no checkpoint.*`snakemake --cores all "
                       r".*results/train/one_class/embedded/washer/padim/3/model.ckpt`"):
        predict_set(name="t", entry=entry, config=config, out_dir=tmp_path / "out", results_dir=results,
                    template_dir=repo_root / "src" / "iadbench" / "report" / "templates")
    assert not (tmp_path / "out").exists()


def _hub_cache(cache, repo_id, files, commit="0123456789abcdef0123456789abcdef01234567"):
    """The Hugging Face cache layout of one repo at one commit (refs/main -> snapshots/<commit>/files)."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name, source in files.items():
        shutil.copy(source, snapshot / name) if not isinstance(source, str) else (snapshot / name).write_text(source)
    return snapshot


@pytest.mark.slow
def test_hub_model_loads_offline_from_the_cache(trained_job, loaded, tmp_path, monkeypatch):
    from huggingface_hub import constants

    results, config = trained_job
    cache = tmp_path / "hf" / "hub"
    write_safetensors(results / JOB_DIR / "model.ckpt", tmp_path / "model.safetensors")
    _hub_cache(cache, "owner/padim-washer", {"model.safetensors": tmp_path / "model.safetensors",
                                             "iadbench_job.json": json.dumps(job_manifest(results, *JOB[:4], config))})
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    from_hub = load_hub_model("owner/padim-washer")
    assert from_hub.source == "Hugging Face Hub model owner/padim-washer" and from_hub.name == "one_class/embedded/washer/padim/0"
    predictions = load_predictions(results / JOB_DIR / "predictions.npz")
    frame, _ = score_images(from_hub, [str(path) for path in predictions["image_paths"]])
    assert np.abs(frame["image_score"].to_numpy() - predictions["scores"]).max() < 1e-5
    assert (frame["model_source"] == "Hugging Face Hub model owner/padim-washer").all()
    with pytest.raises(JobModelError, match=r"owner/absent: iadbench_job.json is not in the local Hugging Face cache"
                       r".*HF_HUB_OFFLINE=1.*`hf download owner/absent`"):
        load_hub_model("owner/absent")


class Planted:
    """Unpickling this calls os.mkdir(marker): what a malicious checkpoint on the Hub would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


@pytest.mark.slow
def test_a_pickle_in_a_hub_repo_is_never_run(trained_job, tmp_path, monkeypatch, repo_root):
    import torch
    from huggingface_hub import constants

    results, config = trained_job
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"x": Planted(marker)}}, evil)
    write_safetensors(results / JOB_DIR / "model.ckpt", tmp_path / "model.safetensors")
    manifest = json.dumps(job_manifest(results, *JOB[:4], config))
    cache = tmp_path / "hf" / "hub"
    _hub_cache(cache, "owner/pickle-only", {"model.ckpt": evil, "iadbench_job.json": manifest})
    _hub_cache(cache, "owner/disguised", {"model.safetensors": evil, "iadbench_job.json": manifest})
    _hub_cache(cache, "owner/both", {"model.ckpt": evil, "model.safetensors": tmp_path / "model.safetensors",
                                     "iadbench_job.json": manifest})
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    image = str(load_predictions(results / JOB_DIR / "predictions.npz")["image_paths"][0])
    with pytest.raises(JobModelError, match=r"owner/pickle-only: no model.safetensors \(it holds model.ckpt, a pickle\)"
                       r".*never from a pickle"):
        predict_set(name="evil", entry={"images": image, "hub": "owner/pickle-only"}, config=config,
                    out_dir=tmp_path / "out", results_dir=results,
                    template_dir=repo_root / "src" / "iadbench" / "report" / "templates")
    with pytest.raises(JobModelError, match=r"owner/disguised: cannot load checkpoint .*not a safetensors file"):
        load_hub_model("owner/disguised")
    assert load_hub_model("owner/both").name == "one_class/embedded/washer/padim/0"  # the pickle beside it never read
    assert not marker.exists() and not (tmp_path / "out").exists()
