"""Settings (iadbench.config.settings): config → names → paths and keys; the few-shot and noisy selections
(iadbench.datasets.selection): deterministic per seed, never overlapping the scored test images."""

import pandas as pd
import pytest
import yaml

from iadbench.config.base import ConfigError, Job, jobs, train_config
from iadbench.config.load import SCHEMA_PATH, validate_config
from iadbench.config.settings import DEFAULT_SETTING, Setting, parse_setting, setting_names, setting_title
from iadbench.datasets.selection import SelectionError, few_shot_paths, noisy_count, noisy_paths, select
from iadbench.results import rows


def config(setting=None, categories=("washer", "grass")):
    values = {"datasets": {"embedded": {"type": "embedded", "categories": list(categories)}},
              "models": {"padim": {}}, "seeds": [0, 1]}
    if setting is not None:
        values["setting"] = setting
    return validate_config(values, SCHEMA_PATH)


def test_default_is_one_class_everywhere():
    assert config()["setting"] == "one_class" == DEFAULT_SETTING == rows.DEFAULT_SETTING
    job = jobs(config())[0]
    assert job.setting == "one_class" and job.path == "one_class/embedded/washer/padim/0"
    assert rows.KEY_COLUMNS[0] == "setting"


def test_names_round_trip():
    chosen = config(["one_class", "unified", {"few_shot": {"k": [1, 4]}}, {"noisy": {"ratio": [0.1, 0.25]}}])
    names = setting_names(chosen)
    assert names == ["one_class", "unified", "few_shot_k1", "few_shot_k4", "noisy_r0.1", "noisy_r0.25"]
    assert [parse_setting(name).name for name in names] == names
    assert parse_setting("noisy_r0.25") == Setting("noisy", ratio=0.25)
    assert len(jobs(chosen)) == 6 * 2 * 2  # settings x categories x seeds


@pytest.mark.parametrize("setting, key", [
    ("multi", "setting"), ({"few_shot": {"k": [0]}}, "setting"), ({"noisy": {"ratio": [1.0]}}, "setting"),
    ({"noisy": {"ratio": [0.125]}}, "setting"), ({"few_shot": {}}, "setting"),
])
def test_bad_settings_name_the_key(setting, key):
    with pytest.raises(ConfigError, match=f"'{key}'"):
        config(setting)


def test_unified_trains_once_per_dataset_model_seed():
    chosen = config("unified")
    evaluations = jobs(chosen)
    assert {job.category for job in evaluations} == {"washer", "grass"}
    trainings = {job.training for job in evaluations}
    assert trainings == {Job("embedded", "_all", "padim", seed, "unified") for seed in (0, 1)}
    # its model depends on every configured category (adding one retrains it)
    one = train_config(chosen, evaluations[0])
    more = train_config(config("unified", ("washer", "grass", "brick")), evaluations[0])
    assert one["category"] == ["washer", "grass"] and more["category"] != one["category"]


def test_old_rows_read_as_one_class(tmp_path):
    path = tmp_path / "old.parquet"
    pd.DataFrame([{"dataset": "d", "category": "c", "model": "m", "seed": 0, "status": "ok",
                   "finished_at": pd.Timestamp.now(tz="UTC")}]).to_parquet(path)
    frame = rows.read_rows([path])
    assert list(frame["setting"]) == ["one_class"]
    new = rows.make_row({"setting": "unified", "dataset": "d", "category": "c", "model": "m", "seed": 0,
                         "status": "ok", "finished_at": pd.Timestamp.now(tz="UTC")})
    merged = rows.merge_rows(pd.concat([frame, new], ignore_index=True))
    assert sorted(merged["setting"]) == ["one_class", "unified"]  # the setting is part of the key


def samples(n_train=10, n_good=4, n_bad=10):
    train = pd.DataFrame({"image_path": [f"/d/c/train/good/{i:03d}.png" for i in range(n_train)],
                          "split": "train", "label": "good", "label_index": 0, "mask_path": ""})
    good = [(f"/d/c/test/good/{i:03d}.png", 0, "") for i in range(n_good)]
    bad = [(f"/d/c/test/crack/{i:03d}.png", 1, f"/d/c/ground_truth/crack/{i:03d}_mask.png") for i in range(n_bad)]
    test = pd.DataFrame([{"image_path": path, "split": "test", "label": "crack" if label else "good",
                          "label_index": label, "mask_path": mask} for path, label, mask in good + bad])
    return train, test


def test_few_shot_is_deterministic_per_seed_and_keeps_the_test_set():
    train, test = samples()
    paths = list(train["image_path"])
    assert few_shot_paths(paths, 4, 0) == few_shot_paths(paths[::-1], 4, 0)  # the listing order does not matter
    assert len(set(few_shot_paths(paths, 4, 0))) == 4
    assert any(few_shot_paths(paths, 4, seed) != few_shot_paths(paths, 4, 0) for seed in range(1, 6))
    kept, scored, selection = select(train, test, "few_shot", 3, k=2)
    assert sorted(kept["image_path"]) == selection.few_shot == few_shot_paths(paths, 2, 3)
    assert scored.equals(test)
    with pytest.raises(SelectionError, match="k=11.*only 10"):
        select(train, test, "few_shot", 0, k=11)


def test_noisy_moves_anomalies_out_of_the_scored_test_set():
    train, test = samples()
    kept, scored, selection = select(train, test, "noisy", 1, ratio=0.2)
    assert len(selection.noisy) == 2 and selection.noisy == noisy_paths(
        list(test.loc[test["label_index"] == 1, "image_path"]), 0.2, 1)
    assert not set(selection.noisy) & set(scored["image_path"])  # never scored
    assert set(selection.noisy) <= set(kept["image_path"])
    moved = kept[kept["image_path"].isin(selection.noisy)]
    assert (moved["label_index"] == 0).all() and (moved["mask_path"] == "").all()  # unlabelled training images
    assert len(kept) == 12 and len(scored) == len(test) - 2
    again = select(train, test, "noisy", 1, ratio=0.2)[2]
    assert again.noisy == selection.noisy
    assert any(select(train, test, "noisy", seed, ratio=0.2)[2].noisy != selection.noisy for seed in range(2, 8))


def test_noisy_count_rounds_and_keeps_one_to_score():
    assert [noisy_count(n, 0.1) for n in (2, 5, 10, 15, 40)] == [1, 1, 1, 2, 4]
    assert noisy_count(10, 0.99) == 9
    with pytest.raises(SelectionError, match="1 anomalous"):
        noisy_count(1, 0.1)


def test_settings_config_runs_every_setting(repo_root):
    chosen = validate_config(yaml.safe_load((repo_root / "config" / "settings.yaml").read_text()), SCHEMA_PATH)
    kinds = {parse_setting(name).kind for name in setting_names(chosen)}
    assert kinds == {"one_class", "unified", "few_shot", "noisy", "zero_shot"}


def zero_shot_config(setting, models):
    return validate_config({"datasets": {"embedded": {"type": "embedded", "categories": ["washer", "grass"]}},
                            "models": models, "setting": setting}, SCHEMA_PATH)


def test_zero_shot_runs_the_zero_shot_models_and_they_run_under_it_only():
    chosen = zero_shot_config(["one_class", "zero_shot"], {"padim": {}, "winclip": {}})
    assert parse_setting("zero_shot") == Setting("zero_shot") and setting_title("zero_shot") == "zero-shot"
    assert sorted((job.setting, job.category, job.model) for job in jobs(chosen)) == sorted(
        [("one_class", category, "padim") for category in ("washer", "grass")]
        + [("zero_shot", category, "winclip") for category in ("washer", "grass")])
    assert {job.training for job in jobs(chosen) if job.setting == "zero_shot"} == {
        Job("embedded", category, "winclip", 0, "zero_shot") for category in ("washer", "grass")}
    # a subclass of WinCLIP named by class_path is zero-shot too
    by_class = zero_shot_config("zero_shot", {"mine": {"class_path": "anomalib.models.WinClip"}})
    assert [job.model for job in jobs(by_class)] == ["mine", "mine"]


@pytest.mark.parametrize("setting, models, message", [
    ("zero_shot", {"winclip": {}, "padim": {}},
     r"'models\.padim'.*zero-shot models: winclip.*padim \(anomalib\.models\.Padim\) is not one"),
    ("zero_shot", {"dfkde": {}}, r"'models\.dfkde'.*zero-shot models: none configured"),
    (["one_class", "unified"], {"padim": {}, "winclip": {}}, r"'models\.winclip'.*zero_shot setting only"),
    ("zero_shot", {"winclip": {"init_args": {"k_shot": 2}}}, r"'models\.winclip\.init_args\.k_shot'"),
    ("zero_shot", {"winclip": {"init_args": {"class_name": "bottle"}}}, r"'models\.winclip\.init_args\.class_name'"),
])
def test_zero_shot_misconfigurations_name_the_model(setting, models, message):
    with pytest.raises(ConfigError, match=message):
        zero_shot_config(setting, models)


def report_rows():
    values = {("one_class", "washer"): 0.9, ("one_class", "grass"): 0.7, ("unified", "washer"): 0.8,
              ("unified", "grass"): 0.75}
    return pd.concat([rows.make_row({"setting": setting, "dataset": "embedded", "category": category, "model": "padim",
                                     "seed": 0, "status": "ok", "image_AUROC": value,
                                     "finished_at": pd.Timestamp.now(tz="UTC")})
                      for (setting, category), value in values.items()], ignore_index=True)


def test_report_tables_never_mix_settings():
    from iadbench.report import settings as by_setting
    from iadbench.report.labels import Labels
    from iadbench.report.tables import metric_table

    frame = report_rows()
    with pytest.raises(ValueError, match="never mixes settings"):
        metric_table(frame, "embedded", "image_AUROC", "Image AUROC")
    primary, others = by_setting.split_settings(frame)
    assert set(primary["setting"]) == {"one_class"} and list(others) == ["unified"]
    tables = by_setting.setting_tables(others, Labels())
    assert [table.label for table in tables] == ["embedded-unified-image-AUROC"]
    assert tables[0].title == "Image AUROC, multi-class unified"
    assert [cell.text for cell in tables[0].rows[0][1]] == ["80.00", "75.00", "77.50"]
    [beside] = by_setting.unified_beside_one_class(frame, Labels())
    texts = {name: [cell.text for cell in cells] for name, cells in beside.rows}
    assert texts == {"padim@one_class": ["90.00", "70.00", "80.00"], "padim@unified": ["80.00", "75.00", "77.50"]}
    bold = {name: [cell.bold for cell in cells] for name, cells in beside.rows}
    assert bold == {"padim@one_class": [True, False, True], "padim@unified": [False, True, False]}


def test_references_are_compared_within_their_setting():
    from iadbench.report.settings import references_for

    references = pd.DataFrame({"model": ["padim", "patchcore", "padim"], "setting": ["", "unified", "one_class"]})
    assert list(references_for(references, "one_class").index) == [0, 2]
    assert list(references_for(references, "unified")["model"]) == ["patchcore"]
    assert list(references_for(references.drop(columns="setting"), "unified").index) == []


def test_unified_requests_scale_with_the_categories():
    from iadbench.models.specs import train_mem_mb, train_runtime_minutes

    assert train_mem_mb("patchcore", 1, 3) == 3 * train_mem_mb("patchcore")  # a memory bank grows with its images
    assert train_mem_mb("fastflow", 2, 3) == train_mem_mb("fastflow", 2)  # a trained network does not
    assert train_runtime_minutes("fastflow", 1, 3) == 3 * train_runtime_minutes("fastflow")


def test_an_evaluation_reads_its_training_jobs_files():
    from iadbench.config.base import training_files, training_outputs

    unified = Job("embedded", "washer", "padim", 0, "unified")
    assert training_files(unified) == {"predictions": "results/train/unified/embedded/_all/padim/0/predictions/washer.npz",
                                       "info": "results/train/unified/embedded/_all/padim/0/predictions/washer.json"}
    assert training_outputs(unified)["predictions"] == "results/train/unified/embedded/_all/padim/0/predictions"
    one = Job("embedded", "washer", "padim", 0)
    assert training_files(one) == training_outputs(one) == {
        "predictions": "results/train/one_class/embedded/washer/padim/0/predictions.npz",
        "info": "results/train/one_class/embedded/washer/padim/0/train_info.json"}
