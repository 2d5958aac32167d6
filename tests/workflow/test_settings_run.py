"""End to end: every setting of config/settings.yaml in one run (the `settings_run` fixture), and the unified
setting's DAG (one training job per dataset x model x seed, one evaluation per category)."""

import re
from collections import Counter

import pandas as pd
import pytest
import yaml
from workflow_helpers import make_workdir, run_snakemake

SETTINGS = ("one_class", "unified", "few_shot_k2", "noisy_r0.2")  # with padim and dfkde
CATEGORIES = ("washer", "grass")
MODELS = ("padim", "dfkde")
ZERO_SHOT_MODELS = ("winclip",)  # zero_shot runs them, and they run under it only


def test_unified_trains_once_per_dataset_model_seed(repo_root, tmp_path):
    config = yaml.safe_load((repo_root / "config" / "settings.yaml").read_text())
    config["setting"] = "unified"
    config["models"].pop("winclip")  # a zero-shot model runs under zero_shot only
    config["seeds"] = [0, 1]
    config["datasets"]["embedded"]["categories"] = ["washer", "grass", "brick"]
    plan = run_snakemake(tmp_path, make_workdir(repo_root, tmp_path, config), "-n").stdout
    counts = Counter(re.findall(r"^rule (\w+):", plan, flags=re.MULTILINE))
    assert counts["train_unified"] == 2 * 2 and counts["train"] == 0  # models x seeds, whatever the categories
    assert counts["evaluate"] == 2 * 2 * 3  # one per category
    trained = set(re.findall(r"output: results/train/unified/embedded/(\w+)/(\w+)/(\d)/model\.ckpt", plan))
    assert trained == {("_all", model, seed) for model in MODELS for seed in "01"}


def rows_of(workdir):
    return pd.read_parquet(workdir / "results" / "benchmark.parquet")


@pytest.mark.slow
def test_every_setting_has_its_rows(settings_run):
    rows = rows_of(settings_run)
    assert sorted(zip(rows["setting"], rows["category"], rows["model"])) == sorted(
        [(setting, category, model) for setting in SETTINGS for category in CATEGORIES for model in MODELS]
        + [("zero_shot", category, model) for category in CATEGORIES for model in ZERO_SHOT_MODELS])
    not_few_shot = rows[rows["setting"] != "few_shot_k2"]
    assert (not_few_shot["status"] == "ok").all(), not_few_shot[["setting", "model", "category", "error_tail"]]
    assert not_few_shot["image_AUROC"].between(0, 1).all()
    # Result paths carry the setting: results/evaluate/<setting>/<dataset>/<category>/<model>/<seed>/
    for setting in SETTINGS:
        assert (settings_run / "results" / "evaluate" / setting / "embedded" / "washer" / "padim" / "0"
                / "row.parquet").exists()
    assert (settings_run / "results" / "evaluate" / "zero_shot" / "embedded" / "washer" / "winclip" / "0"
            / "row.parquet").exists()


@pytest.mark.slow
def test_zero_shot_rows_saw_no_training_image(settings_run):
    rows = rows_of(settings_run)
    zero_shot = rows[rows["setting"] == "zero_shot"].set_index(["category", "model"])
    one_class = rows[rows["setting"] == "one_class"].set_index(["category", "model"])
    assert sorted(zero_shot.index) == sorted((category, "winclip") for category in CATEGORIES)  # one per category
    for category in CATEGORIES:
        row = zero_shot.loc[(category, "winclip")]
        assert row["status"] == "ok", row["error_tail"]
        # nothing fitted, nothing held out: no training image of the category, no operating point from one
        assert row["n_train"] == 0 and row["fit_seconds"] == 0 and row["op_source"] == "none"
        assert row["n_test"] == one_class.loc[(category, "padim"), "n_test"]  # the same test set, all scored
        assert 0 <= row["image_AUROC"] <= 1 and row["weights"] == "random"
        scores = pd.read_parquet(settings_run / "results" / "evaluate" / "zero_shot" / "embedded" / category
                                 / "winclip" / "0" / "scores.parquet")
        assert len(scores) == row["n_test"]
    # WinCLIP under no other setting, no other model under zero_shot
    assert not (settings_run / "results" / "train" / "one_class" / "embedded" / "washer" / "winclip").exists()
    assert sorted(path.name for path in (settings_run / "results" / "train" / "zero_shot" / "embedded" / "washer")
                  .iterdir()) == ["winclip"]


@pytest.mark.slow
def test_unified_is_one_model_over_both_categories(settings_run):
    assert sorted(path.name for path in (settings_run / "results" / "train" / "unified" / "embedded").iterdir()) \
        == ["_all"]
    rows = rows_of(settings_run).set_index(["setting", "category", "model"])
    for model in MODELS:
        for category in CATEGORIES:
            unified, one_class = rows.loc[("unified", category, model)], rows.loc[("one_class", category, model)]
            # Both categories' training images, all of them: the unified model holds none out, so its rows have
            # no operating point (docs/settings: one-class jobs calibrate on a hold-out of their category).
            assert one_class["op_source"] == "train_holdout" and unified["op_source"] == "none"
            assert unified["n_train"] == 2 * (one_class["n_train"] + one_class["op_n_images"])
            assert unified["n_test"] == one_class["n_test"]  # evaluated per category, same test set
        washer, grass = rows.loc[("unified", "washer", model)], rows.loc[("unified", "grass", model)]
        assert washer["image_AUROC"] != grass["image_AUROC"] or washer["pixel_AUROC"] != grass["pixel_AUROC"]


@pytest.mark.slow
def test_few_shot_rows_list_their_images_or_fail_clearly(settings_run):
    rows = rows_of(settings_run)
    few = rows[rows["setting"] == "few_shot_k2"].set_index(["category", "model"])
    for category in CATEGORIES:
        padim = few.loc[(category, "padim")]
        assert padim["status"] == "ok" and padim["n_train"] == 2, padim["error_tail"]
        files = padim["few_shot_files"].split("; ")
        assert len(files) == 2 and all(file.startswith(f"{category}/train/good/") for file in files)
        # DFKDE's 4 PCA components cannot be fitted on 2 images: a failed row with the error, not a crashed run.
        dfkde = few.loc[(category, "dfkde")]
        assert dfkde["status"] == "failed" and dfkde["error_type"]
        assert "few-shot setting few_shot_k2: dfkde could not be trained on 2 image(s)" in dfkde["error_tail"]
    one_class = rows[rows["setting"] == "one_class"].set_index(["category", "model"])
    assert few.loc[("washer", "padim"), "n_test"] == one_class.loc[("washer", "padim"), "n_test"]


@pytest.mark.slow
def test_noisy_rows_never_score_the_moved_images(settings_run):
    rows = rows_of(settings_run)
    noisy = rows[rows["setting"] == "noisy_r0.2"].set_index(["category", "model"])
    one_class = rows[rows["setting"] == "one_class"].set_index(["category", "model"])
    for category in CATEGORIES:
        for model in MODELS:
            row = noisy.loc[(category, model)]
            moved = row["noisy_files"].split("; ")
            assert moved and all(file.startswith(f"{category}/test/") and "/good/" not in file for file in moved)
            assert row["n_test"] == one_class.loc[(category, model), "n_test"] - len(moved)
            assert row["n_train"] == one_class.loc[(category, model), "n_train"] + len(moved)
            scores = pd.read_parquet(settings_run / "results" / "evaluate" / "noisy_r0.2" / "embedded" / category
                                     / model / "0" / "scores.parquet")
            scored = {path.split("embedded/", 1)[1] for path in scores["image_path"]}
            assert len(scored) == row["n_test"] and not scored & set(moved)
        # the same seed moves the same images for every model
        assert noisy.loc[(category, "padim"), "noisy_files"] == noisy.loc[(category, "dfkde"), "noisy_files"]


@pytest.mark.slow
def test_report_never_mixes_settings(settings_run):
    report = settings_run / "results" / "report"
    html = (report / "index.html").read_text()
    for title in ("multi-class unified", "few-shot (k = 2)", "noisy training (20 % of anomalies)",
                  "unified beside one-class", "zero-shot"):
        assert title in html
    tables = {path.name for path in (report / "tables").glob("*.tex")}
    for name in ("embedded-image-AUROC", "embedded-unified-image-AUROC", "embedded-few-shot-k2-image-AUROC",
                 "embedded-noisy-r0-2-image-AUROC", "embedded-unified-vs-one-class-image-AUROC",
                 "embedded-zero-shot-image-AUROC"):
        assert f"{name}.tex" in tables, sorted(tables)
    rows = rows_of(settings_run)
    unified = rows[(rows["setting"] == "unified") & (rows["model"] == "padim") & (rows["category"] == "washer")]
    value = f"{100 * unified['image_AUROC'].item():.2f}"
    assert value in (report / "tables" / "embedded-unified-image-AUROC.csv").read_text()
    assert "embedded-unified-image-AUROC" in (report / "tables.tex").read_text()
