import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from iadbench.config.base import Job
from iadbench.metrics.maps import resize_maps_to
from iadbench.metrics.measures import pixel_metrics
from iadbench.run.evaluate import compute_metrics, evaluate_job, native_masks
from iadbench.run.predictions import save_predictions

JOB = Job("embedded", "washer", "padim", 0)


@pytest.fixture
def predictions(tmp_path):
    """Two 8x8 images (one good, one with a 2x2 defect) and 4x4 model-resolution maps."""
    image_paths, mask_paths = [], []
    for name, defect in (("good", False), ("bad", True)):
        image_paths.append(str(tmp_path / f"{name}.png"))
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(image_paths[-1])
        mask = np.zeros((8, 8), np.uint8)
        if defect:
            mask[2:4, 2:4] = 255
            mask_paths.append(str(tmp_path / f"{name}_mask.png"))
            Image.fromarray(mask).save(mask_paths[-1])
        else:
            mask_paths.append("")
    maps = np.zeros((2, 4, 4), np.float32)
    maps[1, 1, 1] = 1.0
    return {
        "scores": np.array([0.1, 0.9]), "labels": np.array([0, 1], np.uint8), "maps": maps,
        "masks": (np.kron(maps, np.ones((1, 1, 1))) > 0).astype(np.uint8),
        "image_paths": np.array(image_paths), "mask_paths": np.array(mask_paths),
    }


def test_native_masks_read_files_and_zero_for_good(predictions):
    masks = native_masks(predictions["image_paths"], predictions["mask_paths"])
    assert masks.shape == (2, 8, 8) and not masks[0].any() and masks[1].sum() == 4


def test_native_resolution_upsamples_maps(predictions):
    native = compute_metrics(predictions, "native", [0.3])
    model = compute_metrics(predictions, "model", [0.3])
    assert native["eval_resolution"] == "native" and native["pixel_metrics_applicable"]
    assert native["image_AUROC"] == 1.0
    assert 0 <= native["pixel_AUROC"] <= 1 and model["pixel_AUROC"] == 1.0


def test_native_resolution_with_images_of_different_sizes(predictions, tmp_path):
    """Kolektor-like: the defect-free image is taller; each map is upsampled to its own mask."""
    tall = tmp_path / "tall_good.png"
    Image.fromarray(np.zeros((12, 8, 3), np.uint8)).save(tall)
    mixed = {**predictions, "image_paths": np.array([str(tall), predictions["image_paths"][1]])}
    masks = native_masks(mixed["image_paths"], mixed["mask_paths"])
    assert [mask.shape for mask in masks] == [(12, 8), (8, 8)]
    values = compute_metrics(mixed, "native", [0.3])
    upsampled = [resize_maps_to(mixed["maps"][0], (12, 8)), resize_maps_to(mixed["maps"][1], (8, 8))]
    expected = pixel_metrics(upsampled, masks, fpr_limits=(0.3,))
    assert values["pixel_AUROC"] == expected["pixel_AUROC"] and 0 < values["pixel_AUROC"] <= 1
    assert values["pixel_AUPRO"] == expected["pixel_AUPRO"]


def test_model_without_maps_has_no_pixel_metrics(predictions):
    values = compute_metrics({**predictions, "maps": np.zeros(0, np.float32)}, "native", [0.3])
    assert values["pixel_metrics_applicable"] is False
    assert "pixel_AUROC" not in values


def test_failed_training_gives_failed_row(tmp_path):
    (tmp_path / "info.json").write_text(json.dumps({"status": "failed", "error_type": "RuntimeError",
                                                    "error_tail": "boom", "weights": "random"}))
    save_predictions(tmp_path / "p.npz", {"scores": np.zeros(0)})
    row = evaluate_job(job=JOB, predictions_path=tmp_path / "p.npz", train_info_path=tmp_path / "info.json",
                       row_path=tmp_path / "row.parquet", resolution="native", fpr_limits=[0.3], config_hash="h")
    stored = pd.read_parquet(tmp_path / "row.parquet")
    assert stored["status"].item() == "failed" and stored["error_type"].item() == "RuntimeError"
    assert np.isnan(row["image_AUROC"].item())


def test_row_has_metrics_and_keys(tmp_path, predictions):
    (tmp_path / "info.json").write_text(json.dumps({"status": "ok", "weights": "random", "fit_seconds": 1.5}))
    save_predictions(tmp_path / "p.npz", predictions)
    evaluate_job(job=JOB, predictions_path=tmp_path / "p.npz", train_info_path=tmp_path / "info.json",
                 row_path=tmp_path / "row.parquet", resolution="model", fpr_limits=[0.3, 0.05], config_hash="h")
    stored = pd.read_parquet(tmp_path / "row.parquet")
    assert stored[["dataset", "category", "model", "seed", "setting"]].iloc[0].tolist() == list(JOB)
    assert stored["image_AUROC"].item() == 1.0 and stored["pixel_AUPRO"].item() == stored["pixel_AUPRO_30"].item()
    assert "pixel_AUPRO_05" in stored and stored["n_test_anomalous"].item() == 1
    assert stored["image_F1_threshold"].item() == 0.9  # the defective image's score: F1 = 1 from there


def test_constant_maps_are_flagged_degenerate(predictions):
    assert compute_metrics(predictions, "native", [0.3])["degenerate_maps"] is False
    flat = np.stack([np.full((4, 4), 0.2, np.float32), np.full((4, 4), 0.7, np.float32)])  # DFM pooled to 1x1
    values = compute_metrics({**predictions, "maps": flat}, "native", [0.3])
    assert values["degenerate_maps"] is True and values["image_AUROC"] == 1.0


def test_predictions_made_under_another_config_give_a_failed_row(tmp_path, predictions):
    """An orphaned job of an earlier run (another config) must not be labelled with this run's hash."""
    (tmp_path / "info.json").write_text(json.dumps({"status": "ok", "weights": "random", "max_epochs": 300,
                                                    "train_config_hash": "old0config0hash"}))
    save_predictions(tmp_path / "p.npz", predictions)
    evaluate_job(job=JOB, predictions_path=tmp_path / "p.npz", train_info_path=tmp_path / "info.json",
                 row_path=tmp_path / "row.parquet", resolution="model", fpr_limits=[0.3], config_hash="new",
                 train_config_hash="new0config0hash")
    stored = pd.read_parquet(tmp_path / "row.parquet")
    assert stored["status"].item() == "failed" and stored["error_type"].item() == "StalePredictions"
    assert "old0config0hash" in stored["error_tail"].item() and np.isnan(stored["image_AUROC"].item())


def test_evaluation_memory_grows_with_pixels_and_attempts(tmp_path, predictions):
    from iadbench.run.resources import BASE_MEM_MB, evaluation_mem_mb

    assert evaluation_mem_mb(tmp_path / "not_yet.npz", "native") == BASE_MEM_MB  # planning: no file yet
    big = tmp_path / "big.png"
    Image.fromarray(np.zeros((2048, 2048, 3), np.uint8)).save(big)
    save_predictions(tmp_path / "small.npz", predictions)
    save_predictions(tmp_path / "big.npz", {**predictions, "image_paths": np.array([str(big)] * 40)})
    small, large = evaluation_mem_mb(tmp_path / "small.npz", "native"), evaluation_mem_mb(tmp_path / "big.npz", "native")
    assert small < large and large >= 40 * 2048 * 2048 * 13 / 2**20  # ~13 B per native pixel
    assert evaluation_mem_mb(tmp_path / "big.npz", "native", attempt=2) == 2 * large


@pytest.mark.slow
def test_killed_evaluation_retries_then_leaves_a_failed_row(tmp_path, predictions, monkeypatch):
    """An evaluation killed for memory fails the job while attempts remain; the last leaves a row."""
    from iadbench.run.attempts import RetryWithMoreResources
    from iadbench.run.jobs import run_evaluation

    (tmp_path / "info.json").write_text(json.dumps({"status": "ok", "weights": "random", "git_commit": "abc",
                                                    "hostname": "node1", "train_config_hash": "t"}))
    save_predictions(tmp_path / "p.npz", predictions)
    row_path = tmp_path / "results" / "evaluate" / "embedded" / "washer" / "padim" / "0" / "row.parquet"
    # The child dies at once, as the OOM killer would end it (a memory cap far below an interpreter).
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "sitecustomize_dir"))
    (tmp_path / "sitecustomize_dir").mkdir()
    (tmp_path / "sitecustomize_dir" / "sitecustomize.py").write_text(
        "import os, signal, sys\nif sys.argv[-1].endswith('_args.json'):\n    os.kill(os.getpid(), signal.SIGKILL)\n")
    job = {"job": tuple(JOB), "predictions_path": tmp_path / "p.npz", "train_info_path": tmp_path / "info.json",
               "row_path": row_path, "resolution": "model", "fpr_limits": [0.3], "config_hash": "h", "train_config_hash": "t",
               "results_dir": tmp_path / "results", "final_attempt": 2}
    with pytest.raises(RetryWithMoreResources):
        run_evaluation(attempt=1, **job)
    assert not row_path.exists()
    run_evaluation(attempt=2, **job)
    stored = pd.read_parquet(row_path)
    assert stored["status"].item() == "failed" and stored["error_type"].item().startswith("KilledSIGKILL")
    assert stored["evaluation_attempts"].item() == 2 and stored["git_commit"].item() == "abc"
    assert stored["hostname"].item() == "node1"
    monkeypatch.delenv("PYTHONPATH")
    run_evaluation(attempt=1, **job)  # the same job, given the memory: its metrics
    stored = pd.read_parquet(row_path)
    assert stored["status"].item() == "ok" and stored["image_AUROC"].item() == 1.0, stored["error_tail"].item()
    assert stored["evaluation_attempts"].item() == 3


def test_timing_record_joins_the_row(tmp_path, predictions):
    (tmp_path / "info.json").write_text(json.dumps({"status": "ok", "weights": "random", "fit_seconds": 1.5,
                                                    "fit_wall_seconds": 2.5}))
    (tmp_path / "timing.json").write_text(json.dumps({JOB.model: {
        "latency_ms_b1": 4.0, "throughput_b32": 900.0, "gflops_per_image": 3.5, "timing_peak_gpu_mb": None,
        "timing_device": "cpu", "timing_batch": 32, "timing_threads": 8, "timing_error": "", "repeats_b1": 50,
        "timing_seed": 7}, "other_model": {"throughput_b32": 1.0}}))
    save_predictions(tmp_path / "p.npz", predictions)
    evaluate_job(job=JOB, predictions_path=tmp_path / "p.npz", train_info_path=tmp_path / "info.json",
                 row_path=tmp_path / "row.parquet", resolution="model", fpr_limits=[0.3], config_hash="h",
                 timing_path=tmp_path / "timing.json")
    stored = pd.read_parquet(tmp_path / "row.parquet").iloc[0]
    assert stored["throughput_b32"] == 900.0 and stored["gflops_per_image"] == 3.5 and stored["timing_batch"] == 32
    assert np.isnan(stored["timing_peak_gpu_mb"]) and stored["timing_device"] == "cpu"
    assert stored["fit_seconds"] == 1.5 and stored["fit_wall_seconds"] == 2.5
    assert "repeats_b1" not in stored  # diagnostics stay in timing.json
    assert stored["timing_seed"] == 7  # the seed timed for every seed's row
    assert stored["evaluation_seconds"] > 0


@pytest.fixture
def category_predictions(tmp_path):
    """Nine 16x16 images in the MVTec layout (test/good, test/crack, test/hole), 8x8 model maps."""
    rng = np.random.default_rng(0)
    image_paths, mask_paths, labels, maps = [], [], [], []
    for index, defect in enumerate(["good"] * 4 + ["crack"] * 3 + ["hole"] * 2):
        folder = tmp_path / "washer" / "test" / defect
        folder.mkdir(parents=True, exist_ok=True)
        image_paths.append(str(folder / f"{index:03d}.png"))
        Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(image_paths[-1])
        one_map = rng.random((8, 8)).astype(np.float32)
        if defect == "good":
            mask_paths.append("")
        else:
            mask = np.zeros((16, 16), np.uint8)
            mask[4:8, 4 + index:8 + index] = 255
            mask_paths.append(str(folder / f"{index:03d}_mask.png"))
            Image.fromarray(mask).save(mask_paths[-1])
            one_map[2:4, 2:4] += 0.8
        maps.append(one_map)
        labels.append(int(defect != "good"))
    maps = np.stack(maps)
    return {"scores": maps.max(axis=(1, 2)).astype(np.float64), "labels": np.array(labels, np.uint8), "maps": maps,
            "masks": (maps > 1).astype(np.uint8), "image_paths": np.array(image_paths), "mask_paths": np.array(mask_paths)}


def evaluate_category(tmp_path, predictions, name="run", status="ok", **extra):
    (tmp_path / "info.json").write_text(json.dumps({"status": status, "weights": "random", "error_type": "Boom"}))
    save_predictions(tmp_path / "p.npz", predictions)
    row_path = tmp_path / name / "row.parquet"
    evaluate_job(job=JOB, predictions_path=tmp_path / "p.npz", train_info_path=tmp_path / "info.json",
                 row_path=row_path, resolution="native", fpr_limits=[0.3, 0.05], config_hash="h", **extra)
    return pd.read_parquet(row_path).iloc[0], row_path.parent


def test_row_has_confidence_intervals_next_to_the_metrics(tmp_path, category_predictions):
    from iadbench.results.rows import CI_COLUMNS, METRIC_COLUMNS

    row, _ = evaluate_category(tmp_path, category_predictions)
    columns = list(row.index)
    start = columns.index(METRIC_COLUMNS[-1]) + 1
    assert columns[start:start + len(CI_COLUMNS) + 3] == [*CI_COLUMNS, "ci_method", "ci_resamples", "ci_level"]
    assert row["ci_method"] == "logit" and row["ci_resamples"] == 2000 and row["ci_level"] == 0.95
    for metric in ("image_AUROC", "image_AP", "image_F1_max", "pixel_AUROC", "pixel_AP", "pixel_AUPRO"):
        assert row[f"{metric}_ci_low"] <= row[metric] <= row[f"{metric}_ci_high"], metric
    assert row["pixel_AUROC_ci_low"] < row["pixel_AUROC_ci_high"]


def test_intervals_are_deterministic_and_seeded_by_the_job(tmp_path, category_predictions):
    first, _ = evaluate_category(tmp_path, category_predictions, "first")
    second, _ = evaluate_category(tmp_path, category_predictions, "second")
    columns = [column for column in first.index if "_ci_" in column or column.startswith(("image_", "pixel_"))]
    # (NaN where a protocol does not apply: equal NaN counts as equal.)
    pd.testing.assert_series_equal(first[columns], second[columns], check_names=False)
    from iadbench.run.evaluate import evaluate_predictions

    other = evaluate_predictions(category_predictions, "native", [0.3, 0.05], seed=1)
    assert other.values["image_AUROC"] == first["image_AUROC"]  # the estimate is exact; only the resamples move
    same = evaluate_predictions(category_predictions, "native", [0.3, 0.05], seed=0)
    assert not np.array_equal(other.replicates, same.replicates, equal_nan=True)


def test_score_table_and_replicates_are_written(tmp_path, category_predictions):
    from iadbench.run.evaluate import SCORE_COLUMNS
    from iadbench.stats.uncertainty import load_replicates, logit_interval

    row, job_dir = evaluate_category(tmp_path, category_predictions)
    table = pd.read_parquet(job_dir / "scores.parquet")
    assert list(table.columns) == list(SCORE_COLUMNS) and len(table) == 9
    assert table["image_path"].tolist() == category_predictions["image_paths"].tolist()
    assert table["defect_type"].tolist() == ["good"] * 4 + ["crack"] * 3 + ["hole"] * 2
    assert table["label"].tolist() == [0] * 4 + [1] * 5
    assert table["image_score"].tolist() == category_predictions["scores"].tolist()
    native = resize_maps_to(category_predictions["maps"], (16, 16))  # evaluation resolution: the masks'
    assert table["map_max"].to_numpy() == pytest.approx(native.max(axis=(1, 2)))
    assert table["map_mean"].to_numpy() == pytest.approx(native.mean(axis=(1, 2), dtype=np.float64))
    replicates = load_replicates(job_dir / "bootstrap.npz")
    assert list(replicates) == ["image_AUROC", "image_AP", "image_F1_max", "pixel_AUROC", "pixel_AP",
                                "pixel_AUPRO_30", "pixel_AUPRO_05", "pixel_AUPRO"]
    assert replicates["image_AUROC"].shape == (2000,) and replicates["image_AUROC"].dtype == np.float32
    low, _ = logit_interval(replicates["image_AUROC"], [row["image_AUROC"]], len(table))
    assert low[0] == pytest.approx(row["image_AUROC_ci_low"], abs=1e-6)
    # The pixel metrics without each image (all nine have ground truth), rows in path order, for the pixel tests.
    from iadbench.stats.jackknife import load_jackknife

    jackknife = load_jackknife(job_dir / "bootstrap.npz")
    assert jackknife.names == ("pixel_AUROC", "pixel_AP", "pixel_AUPRO_30", "pixel_AUPRO_05", "pixel_AUPRO")
    assert list(jackknife.keys) == sorted(category_predictions["image_paths"]) and jackknife.values.shape == (9, 5)
    assert jackknife.strata.tolist() == [path.split("/")[-2] != "good" for path in jackknife.keys]
    keep = np.arange(9) != 8
    direct = pixel_metrics(native[keep], native_masks(category_predictions["image_paths"][keep],
                                                      category_predictions["mask_paths"][keep]), fpr_limits=(0.3,))
    assert jackknife.column("pixel_AUROC")[list(jackknife.keys).index(category_predictions["image_paths"][8])] \
        == pytest.approx(direct["pixel_AUROC"], abs=1e-3)
    assert np.array_equal(jackknife.column("pixel_AUPRO"), jackknife.column("pixel_AUPRO_30"))


def test_model_without_maps_has_image_intervals_only(tmp_path, category_predictions):
    no_maps = {**category_predictions, "maps": np.zeros(0, np.float32)}
    row, job_dir = evaluate_category(tmp_path, no_maps)
    assert row["image_AUROC_ci_low"] <= row["image_AUROC"] and np.isnan(row["pixel_AUROC_ci_low"])
    table = pd.read_parquet(job_dir / "scores.parquet")
    assert len(table) == 9 and table["map_max"].isna().all()


def test_failed_job_writes_an_empty_score_table(tmp_path, category_predictions):
    from iadbench.run.evaluate import SCORE_COLUMNS
    from iadbench.stats.uncertainty import load_replicates

    row, job_dir = evaluate_category(tmp_path, category_predictions, status="failed")
    assert row["status"] == "failed" and np.isnan(row["image_AUROC_ci_low"]) and pd.isna(row["ci_method"])
    table = pd.read_parquet(job_dir / "scores.parquet")
    assert table.empty and list(table.columns) == list(SCORE_COLUMNS)
    assert load_replicates(job_dir / "bootstrap.npz") == {}


def test_scores_path_is_the_rules_second_output(tmp_path, category_predictions):
    _, job_dir = evaluate_category(tmp_path, category_predictions, scores_path=tmp_path / "elsewhere.parquet")
    assert len(pd.read_parquet(tmp_path / "elsewhere.parquet")) == 9 and not (job_dir / "scores.parquet").exists()


@pytest.mark.parametrize(("path", "defect"), [
    ("/data/mvtec/bottle/test/broken_large/000.png", "broken_large"),
    ("/data/test/mvtec/bottle/test/good/001.png", "good"),
    ("/data/kolektor/kos01/part0.jpg", "kos01"),
])
def test_defect_type_comes_from_the_path(path, defect):
    from iadbench.run.evaluate import defect_type

    assert defect_type(path) == defect


def with_unmasked_defect(predictions, tmp_path, score: float = 0.8):
    """``predictions`` plus a third, anomalous image whose defect has no mask (mask path "")."""
    path = tmp_path / "unmasked.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)
    maps = np.concatenate([predictions["maps"], np.full((1, 4, 4), 5.0, np.float32)])  # would spoil pixel AUROC
    return {"scores": np.append(predictions["scores"], score), "labels": np.array([0, 1, 1], np.uint8),
            "maps": maps, "masks": np.concatenate([predictions["masks"], np.zeros((1, 4, 4), np.uint8)]),
            "image_paths": np.append(predictions["image_paths"], str(path)),
            "mask_paths": np.append(predictions["mask_paths"], ""), "defect_types": np.array(["good", "dent", "stain"])}


@pytest.mark.parametrize("resolution", ["native", "model"])
def test_pixel_metrics_cover_only_images_with_ground_truth(predictions, tmp_path, resolution):
    partial = with_unmasked_defect(predictions, tmp_path)
    values = compute_metrics(partial, resolution, [0.3], n_resamples=20)
    masked_only = compute_metrics(predictions, resolution, [0.3], n_resamples=20)
    assert values["n_test_without_mask"] == 1 and masked_only["n_test_without_mask"] == 0
    for metric in ("pixel_AUROC", "pixel_AP", "pixel_AUPRO"):
        assert values[metric] == masked_only[metric]  # the unmasked image's hot map is left out
    assert values["image_AUROC"] == 1.0 and not np.isnan(values["pixel_AUROC_ci_low"])


def test_category_without_any_mask_has_nan_pixel_metrics(predictions, tmp_path):
    partial = with_unmasked_defect(predictions, tmp_path)
    no_masks = {**partial, "labels": np.array([0, 0, 1], np.uint8), "mask_paths": np.array(["", "", ""]),
                "scores": np.array([0.1, 0.2, 0.8])}
    values = compute_metrics(no_masks, "native", [0.3], n_resamples=20)
    assert values["n_test_without_mask"] == 1 and values["pixel_metrics_applicable"]
    assert np.isnan(values["pixel_AUROC"]) and np.isnan(values["pixel_AUPRO"]) and values["image_AUROC"] == 1.0


def test_recorded_defect_types_go_to_the_score_table(tmp_path, predictions):
    partial = with_unmasked_defect(predictions, tmp_path)
    save_predictions(tmp_path / "predictions.npz", partial)
    (tmp_path / "train_info.json").write_text(json.dumps({"status": "ok"}))
    frame = evaluate_job(job=JOB, predictions_path=tmp_path / "predictions.npz",
                         train_info_path=tmp_path / "train_info.json", row_path=tmp_path / "row.parquet",
                         resolution="native", fpr_limits=[0.3], config_hash="x", n_resamples=10)
    scores = pd.read_parquet(tmp_path / "scores.parquet")
    assert list(scores["defect_type"]) == ["good", "dent", "stain"]
    assert frame["n_test_without_mask"].iloc[0] == 1 and scores["map_max"].notna().all()
