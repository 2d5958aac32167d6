"""The `continual:` section: presets, checks before any job, and the jobs it expands to."""

import copy
from pathlib import Path

import pytest
import yaml

from iadbench.config.base import ConfigError, config_hash
from iadbench.config.continual import (
    MVTEC_AD_ALPHABETICAL,
    PRESETS,
    accumulate_kind,
    evaluation_jobs,
    sequences,
    step_config,
    step_jobs,
)
from iadbench.config.load import validate_config

SCHEMA = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml"
TASKS = [["brick"], ["grass"], ["gravel", "washer"]]


def config_with(continual: dict | None = None, **extra) -> dict:
    config = {"datasets": {"embedded": {"type": "embedded", "categories": ["brick", "grass", "gravel", "washer"]}},
              "models": {"padim": None, "patchcore": None, "dfm": None}, **extra}
    if continual is not None:
        config["continual"] = continual
    return config


def test_absent_section_means_no_continual_job():
    config = validate_config(config_with(), SCHEMA)
    assert config["continual"] == {"sequences": {}, "models": "all", "strategies": ["naive"]}
    assert step_jobs(config) == [] and evaluation_jobs(config) == []


def test_jobs_one_per_step_and_one_evaluation_per_seen_category():
    config = validate_config(config_with({"sequences": {"s": {"tasks": TASKS}}, "models": ["padim", "patchcore"],
                                          "strategies": {"padim": ["naive"], "patchcore": ["naive", "accumulate",
                                                                                          "joint"]}},
                                         seeds=[0, 1]), SCHEMA)
    steps = step_jobs(config)
    assert len(steps) == 2 * (1 + 3) * 3  # seeds x (model, strategy) runs x steps
    assert len(evaluation_jobs(config)) == 2 * 4 * (1 + 2 + 4)
    sequence = sequences(config)["s"]
    assert sequence.seen(3) == ["brick", "grass", "gravel", "washer"]
    assert sequence.training_categories(3, "naive") == ["gravel", "washer"]
    assert sequence.training_categories(2, "joint") == ["brick", "grass"]
    assert sequence.task_of("washer") == 3
    assert steps[0].path == "s/padim/0/naive/step1"


def test_models_default_to_every_model_and_seeds_are_the_top_level_ones():
    config = validate_config(config_with({"sequences": {"s": {"tasks": [["brick"], ["grass"]]}}}, seeds=[3]),
                             SCHEMA)
    assert {(job.model, job.seed, job.strategy) for job in step_jobs(config)} == {
        ("padim", 3, "naive"), ("patchcore", 3, "naive"), ("dfm", 3, "naive")}


@pytest.mark.parametrize(("tasks", "message"), [
    ([["brick"], ["bottle"]], r"continual\.sequences\.bad'.*task 2: 'bottle' is not a category of dataset 'embedded'"),
    ([["brick"], []], r"continual\.sequences\.bad'.*task 2 is empty"),
    ([["brick"], ["grass", "brick"]], r"continual\.sequences\.bad'.*'brick' appears twice \(tasks 1 and 2\)"),
    ([["brick", "brick"]], r"continual\.sequences\.bad'.*'brick' appears twice \(task 1, twice\)"),
])
def test_bad_sequences_name_the_sequence(tasks, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(config_with({"sequences": {"bad": {"tasks": tasks}}}), SCHEMA)


def test_a_category_outside_the_selected_ones_is_refused():
    config = config_with({"sequences": {"bad": {"tasks": [["brick"], ["washer"]]}}})
    config["datasets"]["embedded"]["categories"] = ["brick", "grass"]
    with pytest.raises(ConfigError, match=r"sequences\.bad'.*'washer' is not a category"):
        validate_config(config, SCHEMA)


@pytest.mark.parametrize(("continual", "message"), [
    ({"sequences": {"s": {"tasks": TASKS}}, "models": ["padimm"]}, r"'continual\.models': 'padimm'"),
    ({"sequences": {"s": {"tasks": TASKS}}, "strategies": ["naive", "accumulate"]},
     r"continual\.strategies'.*model 'dfm' cannot"),
    ({"sequences": {"s": {"tasks": TASKS}}, "models": ["padim"], "strategies": {"dfm": ["naive"]}},
     r"continual\.strategies\.dfm'"),
    ({"sequences": {"s": {"tasks": TASKS}}, "strategies": ["forget"]}, r"continual\.strategies"),
    ({"sequences": {"s": {"tasks": TASKS}}, "strategies": {"padim": ["naive"]}},
     r"continual\.strategies'.*no strategies for model 'patchcore'"),
    ({"sequences": {"s": {"preset": "im_iad"}}}, r"sequences\.s'.*not of type mvtec_ad"),
    ({"sequences": {"s": {"preset": "14-1", "tasks": TASKS}}}, r"sequences\.s'.*either `tasks` or `preset`"),
    ({"sequences": {"s": {}}}, r"sequences\.s'.*either `tasks` or `preset`"),
    ({"sequences": {"s": {"tasks": TASKS, "dataset": "mvtec"}}}, r"sequences\.s'.*dataset 'mvtec' is not a key"),
    ({"sequences": {"s/x": {"tasks": TASKS}}}, r"continual\.sequences\.s/x"),
    ({"sequences": {"s": {"tasks": TASKS}}, "order": []}, r"unknown key\(s\) continual\.order"),
])
def test_bad_continual_settings_stop_before_any_job(continual, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(config_with(continual), SCHEMA)


def test_a_sequence_of_several_datasets_names_its_dataset():
    config = config_with({"sequences": {"s": {"tasks": [["brick"]]}}})
    config["datasets"]["other"] = {"type": "embedded"}
    with pytest.raises(ConfigError, match=r"sequences\.s'.*name its `dataset`"):
        validate_config(copy.deepcopy(config), SCHEMA)
    config["continual"]["sequences"]["s"]["dataset"] = "other"
    assert sequences(validate_config(config, SCHEMA))["s"].dataset == "other"


def test_presets_cover_mvtec_ad_once_each():
    assert PRESETS["im_iad"][0] == tuple((category,) for category in MVTEC_AD_ALPHABETICAL)
    assert [len(task) for task in PRESETS["14-1"][0]] == [14, 1]
    assert [len(task) for task in PRESETS["10-5"][0]] == [10, 5]
    assert [len(task) for task in PRESETS["3+3x4"][0]] == [3, 3, 3, 3, 3]
    assert PRESETS["14-1"][0][1] == ("zipper",)
    for tasks, source in PRESETS.values():
        assert sorted(category for task in tasks for category in task) == sorted(MVTEC_AD_ALPHABETICAL)
        assert source


def test_a_preset_expands_on_mvtec_ad():
    config = {"datasets": {"mvtec_ad": {"type": "mvtec_ad"}}, "models": {"patchcore": None},
              "continual": {"sequences": {"iuf": {"preset": "10-5"}}, "strategies": ["naive", "accumulate"]}}
    config = validate_config(config, SCHEMA)
    assert sequences(config)["iuf"].tasks == PRESETS["10-5"][0]
    assert len(evaluation_jobs(config)) == 2 * (10 + 15)
    config["datasets"]["mvtec_ad"]["categories"] = ["bottle"]
    with pytest.raises(ConfigError, match=r"'cable' is not a category"):
        sequences(config)


def test_a_steps_hash_covers_its_tasks_so_far_not_later_ones():
    def hash_of(tasks, step):
        config = validate_config(config_with({"sequences": {"s": {"tasks": tasks}}, "models": ["padim"]}), SCHEMA)
        return config_hash(step_config(config, next(job for job in step_jobs(config) if job.step == step)))

    assert hash_of(TASKS, 2) == hash_of([["brick"], ["grass"], ["washer"]], 2)
    assert hash_of(TASKS, 2) != hash_of([["grass"], ["brick"], ["gravel", "washer"]], 2)


def test_shipped_continual_configs_are_valid(repo_root):
    config = validate_config(yaml.safe_load((repo_root / "config" / "continual.yaml").read_text()), SCHEMA)
    assert len(evaluation_jobs(config)) == 5 * (1 + 2 + 4)
    assert [list(task) for task in sequences(config)["embedded3"].tasks] == TASKS


def test_accumulate_knows_the_bank_by_class_not_by_name():
    config = validate_config({"datasets": {"embedded": {"type": "embedded"}},
                              "models": {"pc": {"class_path": "anomalib.models.Patchcore"}, "padim": None},
                              "continual": {"sequences": {"s": {"tasks": TASKS}}, "strategies": ["accumulate"]}},
                             SCHEMA)
    assert accumulate_kind(config, "pc") == "patchcore" and accumulate_kind(config, "padim") == "padim"


def test_a_sequence_over_a_video_dataset_is_refused():
    config = config_with({"sequences": {"s": {"dataset": "clips", "tasks": [["walkway"]]}}})
    config["datasets"]["clips"] = {"type": "embedded_video"}
    config["models"]["ai_vad"] = None
    with pytest.raises(ConfigError, match=r"sequences\.s'.*video dataset 'clips'"):
        validate_config(config, SCHEMA)
